// What scenario 12 reads besides latencies: the light receivers' process (started, asked for its
// CPU, stopped), the broker's memory (/varz) and CPU (/proc), and a raw JetStream publisher (the floor).
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { type JetStreamClient, jetstream } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";

/** The light members, in a process of their own: the sender's process measures the sender alone. */
export interface LightReceivers {
  /** CPU microseconds (user + system) used so far, and envelopes surfaced so far. */
  usage(): Promise<{ readonly micros: number; readonly surfaced: number }>;
  stop(): Promise<void>;
}

export async function startLightReceivers(url: string, fleet: string, names: readonly string[]): Promise<LightReceivers> {
  const child: ChildProcessWithoutNullStreams = spawn(process.execPath, [join(import.meta.dirname, "fleet-receivers.ts"), url, fleet, ...names], {
    stdio: ["pipe", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => {
    stderr = `${stderr}${chunk.toString()}`.slice(-4000);
    process.stderr.write(chunk);
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const next = async () => {
    const line = await Promise.race([lines.next(), exited.then(() => undefined)]);
    if (!line || line.done) throw new Error(`the light receivers' process ended: ${stderr}`);
    return line.value;
  };
  if ((await next()) !== "ready") throw new Error(`the light receivers did not start: ${stderr}`);
  return {
    usage: async () => {
      child.stdin.write("cpu\n");
      const { user, system, surfaced } = JSON.parse(await next()) as { user: number; system: number; surfaced: number };
      return { micros: user + system, surfaced };
    },
    stop: async () => {
      child.stdin.end();
      const timer = setTimeout(() => child.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Clock ticks per second of /proc's utime and stime (USER_HZ; 100 on Linux). */
const TICKS_PER_SECOND = 100;

/** CPU microseconds a process used so far (undefined when /proc cannot tell). */
export async function processCpuMicros(pid: number | undefined): Promise<number | undefined> {
  if (pid === undefined) return undefined;
  const stat = await readFile(`/proc/${pid}/stat`, "utf8").catch(() => undefined);
  if (!stat) return undefined;
  // Fields after the command (which may hold spaces) start after its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return ((Number(fields[11]) + Number(fields[12])) / TICKS_PER_SECOND) * 1_000_000;
}

/** The broker's resident memory in MB, from its monitoring endpoint (undefined without one). */
export async function brokerMemoryMb(monitorUrl: string | undefined): Promise<number | undefined> {
  if (!monitorUrl) return undefined;
  const response = await fetch(`${monitorUrl}/varz`).catch(() => undefined);
  if (!response?.ok) return undefined;
  const { mem } = (await response.json()) as { mem?: number };
  return mem === undefined ? undefined : Math.round((mem / 1024 / 1024) * 10) / 10;
}

/** The official client alone (`@nats-io/jetstream`), on its own connection: what the floor publishes with. */
export interface RawPublisher {
  readonly js: JetStreamClient;
  close(): Promise<void>;
}

export async function rawPublisher(url: string): Promise<RawPublisher> {
  const connection: NatsConnection = await connect({ servers: url });
  return { js: jetstream(connection), close: () => connection.close() };
}
