// The CLI's options, read by the real commander program against a messenger that records each call.
import { generateKeyPairSync } from "node:crypto";
import { readFile, rm } from "node:fs/promises";
import { InvalidArgumentError } from "commander";
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { parseDuration, parseSince } from "../../src/cli/duration.js";
import { keyOperandsLast } from "../../src/cli/main.js";
import { createMessenger } from "../../src/messenger/create.js";
import { cliSandbox, recordingMessenger, runCliCaptured } from "../harness/cli-run.js";

vi.mock("../../src/messenger/create.js", async (importOriginal) => {
  const actual = await importOriginal<typeof import("../../src/messenger/create.js")>();
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
const optionsOf = (method: string) => calls.find((call) => call.method === method)?.args;

describe("parseDuration: the CLI's one reading of a length of time", () => {
  it("takes 500ms, 30s, 2m, 1h and a plain number of seconds, as milliseconds", () => {
    expect(["500ms", "30s", "2m", "1h", "1.5m", "90", "1d"].map((value) => parseDuration(value, "--timeout"))).toEqual([
      500, 30_000, 120_000, 3_600_000, 90_000, 90_000, 86_400_000,
    ]);
  });

  it("refuses anything else, naming the option and the forms it takes", () => {
    for (const bad of ["2x", "", "-1", "0", "0s", "1e3", "m", "30 days", "999999h"]) {
      expect(() => parseDuration(bad, "--timeout")).toThrow(InvalidArgumentError);
      expect(() => parseDuration(bad, "--timeout")).toThrow(/--timeout .*500ms, 30s, 2m or 1h/u);
    }
  });
});

describe("parseSince: a time, or how long ago with the same units", () => {
  it("reads 30m, 90s, 7d back from now and ISO times; refuses the rest with both forms", () => {
    const now = Date.parse("2026-12-01T10:00:00Z");
    expect(parseSince("30m", now).toISOString()).toBe("2026-12-01T09:30:00.000Z");
    expect(parseSince("90s", now).toISOString()).toBe("2026-12-01T09:58:30.000Z");
    expect(parseSince("30d", now).toISOString()).toBe("2026-11-01T10:00:00.000Z");
    expect(parseSince("2026-11-30T08:00:00Z", now).toISOString()).toBe("2026-11-30T08:00:00.000Z");
    expect(() => parseSince("yesterday", now)).toThrow(/--since "yesterday" is neither a time .*30m, 2h, 7d/u);
  });
});

describe("every CLI option that takes a time reads it the same way", () => {
  it("ask -t 2m, exec -t 2m, send -t 2m and delegate --deadline 90m are all accepted", async () => {
    expect((await run("ask", "-t", "2m", "xiaom", "done?")).code).toBe(0);
    expect(optionsOf("ask")?.[1]).toEqual({ timeoutMs: 120_000 });
    calls.length = 0;
    expect((await run("ask", "xiaom", "done?")).code).toBe(0);
    expect(optionsOf("ask")?.[1]).toEqual({ timeoutMs: 120_000 });
    calls.length = 0;
    expect((await run("exec", "-t", "2m", "xiaom", "make", "test")).code).toBe(0);
    expect(optionsOf("exec")?.[0]).toMatchObject({ to: "xiaom", argv: ["make", "test"], timeoutMs: 120_000 });
    calls.length = 0;
    expect((await run("exec", "--timeout", "45", "xiaom", "make")).code).toBe(0);
    expect(optionsOf("exec")?.[0]).toMatchObject({ timeoutMs: 45_000 });
    calls.length = 0;
    await run("send", "--wait", "delivered", "-t", "2m", "xiaom", "hi");
    expect(optionsOf("waitFor")?.[2]).toEqual({ timeoutMs: 120_000 });
    calls.length = 0;
    expect((await run("delegate", "--deadline", "90m", "xiaom", "notes")).code).toBe(0);
    expect(optionsOf("delegate")?.[0]).toMatchObject({ deadline: 5_400_000 });
  });

  it("--settle 0 means do not wait (send, outbox flush), as their help says; -t 0 stays bad input", async () => {
    expect((await run("send", "--settle", "0", "xiaom", "hi")).code).not.toBe(2);
    expect(optionsOf("send")?.[1]).toMatchObject({ settleMs: 0 });
    calls.length = 0;
    expect((await run("outbox", "flush", "--settle", "0")).code).not.toBe(2);
    expect(calls.map((call) => call.method)).not.toContain("settleAll");
    expect((await run("send", "--settle", "-1", "xiaom", "hi")).code).toBe(2);
  });

  it("a bad time is bad input (exit 2) with an error naming the option; nothing is sent", async () => {
    for (const argv of [
      ["ask", "-t", "2x", "xiaom", "done?"],
      ["exec", "-t", "soon", "xiaom", "ls"],
      ["send", "--wait", "delivered", "-t", "0", "xiaom", "hi"],
    ]) {
      const result = await run(...argv);
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(/--timeout .*500ms, 30s, 2m or 1h/u);
    }
    const deadline = await run("delegate", "--deadline", "soon", "xiaom", "notes");
    expect(deadline.code).toBe(2);
    expect(deadline.stderr).toMatch(/--deadline .*500ms, 30s, 2m or 1h/u);
    const since = await run("log", "--since", "a while");
    expect(since.code).toBe(2);
    expect(since.stderr).toMatch(/--since "a while" is neither a time .*30m, 2h, 7d/u);
    expect(calls).toEqual([]);
  });
});

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

describe("a messaging key that starts with a dash (one in 64 do)", () => {
  it("pin takes it as the key, before or after its options, and --public-key takes it as its value", async () => {
    let key = "";
    while (!key.startsWith("-")) key = generateKeyPairSync("ed25519").publicKey.export({ format: "jwk" }).x ?? "";
    expect(keyOperandsLast(["pin", "xiaob", key, "--inbound", "hold"])).toEqual(["pin", "xiaob", "--inbound", "hold", "--", key]);
    expect(keyOperandsLast(["setup", "--public-key", key])).toEqual(["setup", "--public-key", key]);
    const pinned = await run("pin", "xiaob", key, "--inbound", "hold");
    expect(pinned.code, pinned.stderr).toBe(0);
    expect(pinned.stdout).toContain("Pinned xiaob's key");
    expect(JSON.parse(await readFile(sandbox.configPath, "utf8")).instances.xiaob).toEqual({ publicKey: key, inbound: "hold" });
  });
});

describe("send --file", () => {
  it("is repeatable, each a path whose bytes go with the message", async () => {
    expect((await run("send", "xiaom", "see the log", "--file", "build.log", "--file", "shot.png")).code).not.toBe(2);
    expect(optionsOf("send")?.[0]).toMatchObject({ to: "xiaom", body: "see the log", files: [{ path: "build.log" }, { path: "shot.png" }] });
  });
});
