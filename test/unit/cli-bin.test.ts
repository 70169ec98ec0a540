// The bin on a Node older than package.json's engines: one sentence naming the version it needs, exit 1.
// It runs the built dist/cli/bin.js (`npm run build` first) with the system's Node, where that is older.
import { execFileSync, spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const bin = join(root, "dist", "cli", "bin.js");
const OLD_NODE = "/usr/bin/node";
const engines = (JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { engines: { node: string } }).engines.node;
const needed = /^>=(\d+\.\d+)$/u.exec(engines)?.[1];

/** The version of the system's Node when it is older than 22 (the bin's imports need 22.19). */
function oldNodeVersion(): string | undefined {
  if (!existsSync(OLD_NODE)) return undefined;
  const version = execFileSync(OLD_NODE, ["-p", "process.versions.node"], { encoding: "utf8" }).trim();
  return Number(version.split(".")[0]) < 22 ? version : undefined;
}
const oldVersion = oldNodeVersion();

/** A config file in `dir` for Xiaoa, its state beside it. */
async function writeConfig(dir: string, rest: Record<string, unknown>): Promise<string> {
  const { writeFile } = await import("node:fs/promises");
  const path = join(dir, "config.json");
  await writeFile(path, JSON.stringify({ self: { name: "xiaoa" }, stateDir: join(dir, "state"), ...rest }));
  return path;
}

describe.skipIf(oldVersion === undefined)("the bin on an older Node", () => {
  it("says which Node it needs and exits 1, instead of a SyntaxError from its imports", () => {
    const run = spawnSync(OLD_NODE, [bin, "--help"], { encoding: "utf8" });
    expect(run.status).toBe(1);
    expect(run.stdout).toBe("");
    expect(run.stderr).toBe(`openclaw-inter-instance needs Node.js ${needed} or newer; this is Node.js ${oldVersion}.\n`);
  });
});

// The bin is an esbuild bundle (scripts/bundle-cli.mjs): a package the code imports dynamically must
// still work from it. Bundled, the NATS client's `connect` came out undefined, and only a real send showed it.
describe("the bundled bin's lazily loaded packages", () => {
  it("reaches the NATS client: a refused broker is 'connection refused', not a broken import", async () => {
    const { mkdtemp, rm } = await import("node:fs/promises");
    const { tmpdir } = await import("node:os");
    const { createServer } = await import("node:net");
    const dir = await mkdtemp(join(tmpdir(), "oii-bin-"));
    // Two ports nothing listens on: taken, then closed.
    const freePort = () =>
      new Promise<number>((resolve) => {
        const server = createServer().listen(0, "127.0.0.1", () => {
          const { port } = server.address() as { port: number };
          server.close(() => resolve(port));
        });
      });
    try {
      const config = await writeConfig(dir, {
        nats: { servers: [`nats://127.0.0.1:${await freePort()}`], fleet: "bin" },
        instances: { xiaom: { gateway: { url: `ws://127.0.0.1:${await freePort()}`, token: "unused" }, transports: ["nats"] } },
      });
      const run = spawnSync(process.execPath, [bin, "-c", config, "--json", "send", "xiaom", "hello", "--settle", "0"], { encoding: "utf8", timeout: 60_000 });
      const report = JSON.parse(run.stdout) as { attempts: { transport: string; error?: { message: string } }[] };
      expect(report.attempts.find((attempt) => attempt.transport === "nats")?.error?.message).toMatch(/connection refused/u);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe("the bin's version", () => {
  it("prints package.json's version and exits 0, from the bundle as from tsc's output", async () => {
    const { version } = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version: string };
    for (const flag of ["--version", "-V"]) {
      const run = spawnSync(process.execPath, [bin, flag], { encoding: "utf8" });
      expect(run.status, run.stderr).toBe(0);
      expect(run.stdout).toBe(`${version}\n`);
    }
    const { runCliCaptured } = await import("../harness/cli-run.js");
    expect(await runCliCaptured(["--version"], {})).toEqual({ code: 0, stdout: `${version}\n`, stderr: "" });
  });
});

// pino's asynchronous stderr was flushed at exit by sonic-boom's flushSync, which retries a write that
// failed with EPIPE every 100 ms for ever: `send -v … 2>&1 | head -c 1` never exited.
describe("the bin's log lines when their reader is gone", () => {
  it("exits on its own once the reader of its output closes the pipe", async () => {
    const { mkdtemp, rm } = await import("node:fs/promises");
    const { tmpdir } = await import("node:os");
    const dir = await mkdtemp(join(tmpdir(), "oii-bin-epipe-"));
    try {
      // Port 9 (discard) refuses on loopback: the send fails at once, logging each attempt and the outbox row.
      const config = await writeConfig(dir, {
        instances: { xiaom: { gateway: { url: "ws://127.0.0.1:9", token: "unused" }, transports: ["sessions_send"] } },
      });
      // `2>&1 | head -c 1`: both streams into one pipe whose reader stops after the first byte.
      const head = spawn("head", ["-c", "1"], { stdio: ["pipe", "ignore", "ignore"] });
      const child = spawn(process.execPath, [bin, "-v", "-c", config, "send", "xiaom", "hello", "--settle", "0"], {
        stdio: ["ignore", head.stdin!, head.stdin!],
      });
      head.stdin!.destroy();
      const exited = once(child, "exit");
      const outcome = await Promise.race([exited, new Promise((resolve) => setTimeout(() => resolve("still running"), 20_000))]);
      if (outcome === "still running") child.kill("SIGKILL");
      expect(outcome).not.toBe("still running");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
