import { rm } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cliSandbox, runCliCaptured } from "../harness/cli-run.js";

let sandbox: Awaited<ReturnType<typeof cliSandbox>>;
beforeAll(async () => {
  sandbox = await cliSandbox();
});
afterAll(async () => {
  await rm(sandbox.dir, { recursive: true, force: true });
});

// Port 9 on loopback: nothing listens, and nothing is dialled anyway without a token.
const URL = "ws://127.0.0.1:9";

describe("a configured credential that is not there fails the check", () => {
  it("add --token-env with the variable unset: a failing check that names the variable, non-zero exit", async () => {
    const added = await runCliCaptured(["-c", sandbox.configPath, "add", "xiaom", "--url", URL, "--token-env", "XIAOM_TOKEN"], sandbox.env);
    expect(added.stdout).not.toContain("passes every check");
    expect(added.stdout).toMatch(/credential.*XIAOM_TOKEN is not set/u);
    expect(added.stdout).toContain("Set XIAOM_TOKEN");
    expect(added.code).not.toBe(0);

    const doctor = await runCliCaptured(["-c", sandbox.configPath, "--json", "doctor", "xiaom"], sandbox.env);
    expect(doctor.code).not.toBe(0);
    const report = JSON.parse(doctor.stdout) as { ok: boolean; checks: { check: string; status: string; summary: string; fix?: string }[] };
    expect(report.ok).toBe(false);
    expect(report.checks).toContainEqual(
      expect.objectContaining({
        check: "credential:instances.xiaom.gateway.tokenEnv",
        status: "fail",
        summary: expect.stringContaining("XIAOM_TOKEN is not set"),
        fix: expect.stringContaining("export XIAOM_TOKEN="),
      }),
    );
  });

  it("with the variable set, that check passes and add says so", async () => {
    const env = { ...sandbox.env, XIAOM_TOKEN: "t-present-1234" };
    const added = await runCliCaptured(["-c", sandbox.configPath, "--json", "add", "xiaom", "--url", URL, "--token-env", "XIAOM_TOKEN"], env);
    const report = (JSON.parse(added.stdout) as { doctor: { checks: { check: string; status: string }[] } }).doctor;
    expect(report.checks.filter((check) => check.check === "credential:instances.xiaom.gateway.tokenEnv")).toEqual([]);
    expect(added.stdout).not.toContain("t-present-1234");
  });
});
