import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";

export interface RunToExitResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  /** From the moment `doneWhen` first held to the process's exit; undefined if it never held. */
  readonly exitAfterDoneMs: number | undefined;
  /** Processes started by the run (they carry its marker in their environment) still alive after it exited. */
  readonly leftovers: readonly { pid: number; command: string }[];
}

const MARKER = "OII_RUN_MARKER";

/** Live processes whose environment carries `MARKER=<id>`: every descendant inherits it, also inside a test host. */
async function processesMarked(id: string): Promise<{ pid: number; command: string }[]> {
  const found: { pid: number; command: string }[] = [];
  for (const entry of await readdir("/proc")) {
    if (!/^\d+$/u.test(entry)) continue;
    const environ = await readFile(`/proc/${entry}/environ`).catch(() => undefined);
    if (!environ?.includes(`${MARKER}=${id}\0`)) continue;
    const command = (await readFile(`/proc/${entry}/cmdline`, "utf8").catch(() => "")).replaceAll("\0", " ").trim();
    found.push({ pid: Number(entry), command });
  }
  return found;
}

/**
 * Runs a program until it exits by itself (killed after `timeoutMs`), noting when its work was
 * done by its output, how long it took to exit after that, and which of its processes outlived it.
 */
export async function runToExit(
  argv: readonly [string, ...string[]],
  options: { cwd: string; timeoutMs: number; doneWhen: (output: { stdout: string; stderr: string }) => boolean | Promise<boolean>; env?: NodeJS.ProcessEnv },
): Promise<RunToExitResult> {
  const id = randomUUID();
  const [command, ...args] = argv;
  const child = spawn(command, args, { cwd: options.cwd, env: { ...(options.env ?? process.env), [MARKER]: id }, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  let doneAt: number | undefined;
  const check = async () => {
    if (doneAt === undefined && (await options.doneWhen({ stdout, stderr }))) doneAt ??= performance.now();
  };
  child.stdout.on("data", (chunk: Buffer) => void ((stdout += chunk.toString()), check()));
  child.stderr.on("data", (chunk: Buffer) => void ((stderr += chunk.toString()), check()));
  const poll = setInterval(() => void check(), 500);
  const killer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs);
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
    child.on("exit", (exitCode, exitSignal) => resolve([exitCode, exitSignal])),
  );
  const exitedAt = performance.now();
  clearInterval(poll);
  clearTimeout(killer);
  await check();
  // A child that dies with its parent needs a moment to go.
  await new Promise((resolve) => setTimeout(resolve, 1000));
  return {
    code,
    signal,
    stdout,
    stderr,
    exitAfterDoneMs: doneAt === undefined ? undefined : Math.max(0, exitedAt - doneAt),
    leftovers: await processesMarked(id),
  };
}
