import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type CliIo, runCli } from "../../src/cli/main.js";
import type { ConfigInput } from "../../src/config/schema.js";
import type { Messenger } from "../../src/messenger/create.js";

/** A temporary config and state dir, and the environment that points the CLI at them (no openclaw.json). */
export async function cliSandbox(config: Partial<ConfigInput> = {}): Promise<{ dir: string; configPath: string; env: NodeJS.ProcessEnv }> {
  const dir = await mkdtemp(join(tmpdir(), "oii-cli-"));
  const configPath = join(dir, "inter-instance.json");
  await writeFile(configPath, JSON.stringify({ self: { name: "xiaoa" }, instances: {}, stateDir: join(dir, "state"), ...config }));
  return { dir, configPath, env: { OPENCLAW_INTER_INSTANCE_HOME: join(dir, "state"), OPENCLAW_CONFIG_PATH: join(dir, "no-openclaw.json") } };
}

/** Runs the CLI in-process and collects what it printed. */
export async function runCliCaptured(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const io: CliIo = { stdout: (text) => (stdout += text), stderr: (text) => (stderr += text), env, stdin: async () => new Uint8Array() };
  const code = await runCli(argv, io);
  return { code, stdout, stderr };
}

/**
 * A stand-in messenger for CLI tests that check how arguments are parsed: it records the calls it
 * gets and answers each with a successful result. Only what the tested commands use is there.
 */
export function recordingMessenger(calls: { method: string; args: unknown[] }[]): Messenger {
  const record =
    (method: string, result: unknown) =>
    async (...args: unknown[]) => {
      calls.push({ method, args });
      return result;
    };
  const report = { ok: true, id: "m1", to: "xiaom", status: "delivered", via: "sessions_send", attempts: [] };
  const fake = {
    registry: { secrets: () => [], group: () => undefined },
    ask: record("ask", { ok: true, id: "m1", to: "xiaom", answer: "yes", report }),
    exec: async (input: { to: string; argv: string[] }, ...rest: unknown[]) => {
      calls.push({ method: "exec", args: [input, ...rest] });
      return { ok: true, to: input.to, argv: input.argv, exitCode: 0, stdout: "", stderr: "", timedOut: false };
    },
    send: record("send", report),
    waitFor: record("waitFor", []),
    delegate: record("delegate", { id: "t1", to: "xiaom", deadline: new Date(0).toISOString(), report }),
    close: async () => {},
  };
  return fake as unknown as Messenger;
}
