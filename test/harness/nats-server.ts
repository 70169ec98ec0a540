import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import which from "which";
import { freePort, stopProcess } from "./gateway.ts";
import type { Host } from "./netns.ts";

export interface TestNatsServer {
  readonly url: string;
  readonly port: number;
  /** Its monitoring endpoint (`/varz`: memory, CPU), when started with `monitor`. */
  readonly monitorUrl: string | undefined;
  /** The running server's process id. */
  readonly pid: number | undefined;
  /** Stops it (its JetStream store stays, so a start() brings every stored message back). */
  stop(): Promise<void>;
  /** SIGKILL, as a crash: no shutdown of its own. */
  kill(): Promise<void>;
  start(): Promise<void>;
  dispose(): Promise<void>;
}

/** Whether Debian's nats-server is installed; outside CI a test file without it is skipped, in CI it fails. */
export async function natsServerOrSkip(file: string): Promise<boolean> {
  if (await which("nats-server", { nothrow: true })) return true;
  const line = `${file}: needs nats-server (Debian package nats-server: apt-get install -y nats-server)`;
  if (process.env.CI) throw new Error(`${line}; .ci/run installs it when missing.`);
  console.warn(`skipped ${line}`);
  return false;
}

async function listening(address: string, port: number, deadline: number): Promise<void> {
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = connect(port, address, () => {
        socket.destroy();
        resolve(true);
      });
      socket.on("error", () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nats-server did not listen on ${port}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** A real `nats-server -js` on a free port with its own file store, for one test file: on loopback, or on a test host's address. */
export async function startNatsServer(options: { host?: Host; monitor?: boolean } = {}): Promise<TestNatsServer> {
  const port = await freePort();
  const monitorPort = options.monitor ? await freePort() : undefined;
  const address = options.host?.address ?? "127.0.0.1";
  const store = await mkdtemp(join(tmpdir(), "oii-nats-"));
  const bin = await which("nats-server");
  let child: ChildProcess | undefined;
  const start = async () => {
    const args = ["-js", "-a", address, "-p", String(port), "-sd", store, ...(monitorPort ? ["-m", String(monitorPort)] : [])];
    child = options.host ? options.host.spawn(bin, args, { stdio: ["ignore", "ignore", "pipe"] }) : spawn(bin, args, { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr?.on("data", (chunk: Buffer) => (stderr = `${stderr}${chunk.toString()}`.slice(-4000)));
    await listening(address, port, Date.now() + 15_000).catch((error: unknown) => {
      throw new Error(`${String(error)}\n${stderr}`);
    });
  };
  const stop = () => stopProcess(child, 5_000);
  await start();
  return {
    url: `nats://${address}:${port}`,
    port,
    monitorUrl: monitorPort ? `http://${address}:${monitorPort}` : undefined,
    get pid() {
      return child?.pid;
    },
    stop,
    kill: async () => {
      if (!child || child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise<void>((resolve) => child!.once("exit", () => resolve()));
      child.kill("SIGKILL");
      await exited;
    },
    start,
    dispose: async () => {
      await stop();
      await rm(store, { recursive: true, force: true });
    },
  };
}
