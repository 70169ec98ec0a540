import { rm } from "node:fs/promises";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { createMessenger } from "../../src/client.js";
import { cliSandbox, recordingMessenger, runCliCaptured } from "../harness/cli-run.js";

vi.mock("../../src/client.js", async (importOriginal) => {
  const actual = await importOriginal<typeof import("../../src/client.js")>();
  return { ...actual, createMessenger: vi.fn(actual.createMessenger) };
});

let sandbox: Awaited<ReturnType<typeof cliSandbox>>;
let calls: { method: string; args: unknown[] }[];
beforeAll(async () => {
  sandbox = await cliSandbox({ instances: { xiaom: { gateway: { url: "ws://127.0.0.1:9" } } } });
});
afterAll(async () => {
  await rm(sandbox.dir, { recursive: true, force: true });
});
beforeEach(() => {
  calls = [];
  vi.mocked(createMessenger).mockImplementation(() => recordingMessenger(calls));
});

const run = (...argv: string[]) => runCliCaptured(["-c", sandbox.configPath, ...argv], sandbox.env);

describe("exec --env: one NAME=value per flag, repeatable", () => {
  it("does not swallow the instance name and the program (exec -e A=1 xiaom printenv A)", async () => {
    const result = await run("exec", "-e", "A=1", "xiaom", "printenv", "A");
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(calls).toEqual([{ method: "exec", args: [expect.objectContaining({ to: "xiaom", argv: ["printenv", "A"], env: { A: "1" } })] }]);
  });

  it("collects every -e/--env (a value may hold =), and refuses a pair without a name with the fix", async () => {
    expect((await run("exec", "-e", "A=1", "--env", "B=x=y", "--env=C=", "xiaom", "env")).code).toBe(0);
    expect(calls[0]?.args[0]).toMatchObject({ to: "xiaom", argv: ["env"], env: { A: "1", B: "x=y", C: "" } });
    const bad = await run("exec", "-e", "novalue", "xiaom", "env");
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--env takes NAME=value, not "novalue"');
    expect(calls).toHaveLength(1);
  });
});
