// Scenario 6 of `npm run bench`: a one-shot CLI send (a script or cron job runs one per message) vs
// the floor, a fresh Node process making the same RPC with the bare reference client. Both pay a
// Node start and both return at the Gateway's ack (`--settle 0`); the CLI's default, which also
// waits until the target's session shows the message, is measured beside them. The three are
// interleaved so drift hits all alike.
//
// Alone: node bench/one-shot.ts [--n <count>] [--bin <path>] [--compare <path>]   (its own Gateway and mock model;
// --bin: run another build of the CLI instead; --compare: sample another build too, interleaved with the rest)

import { execFile } from "node:child_process";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import type { GatewayClient } from "@openclaw/gateway-client";
import { startGateway, type TestGateway } from "../test/harness/gateway.ts";
import { startMockModel } from "../test/harness/mock-model.ts";
import { connectRawClient } from "./raw-client.mjs";
import { ratio, type Series, summarize, timed } from "./stats.ts";

const run = promisify(execFile);

export interface OneShotContext {
  readonly gateway: TestGateway;
  readonly scratch: string;
  readonly count: number;
  /** The CLI to run; package.json's bin by default. */
  readonly bin?: string;
  /** Another build of the CLI, sampled (`--settle 0`) in the same interleaved loop: a before/after under the same load. */
  readonly compareBin?: string;
}

type Row = { scenario: string; a: string; b: string; ratio: string; note: string };

export interface OneShotResult {
  /** `send --settle 0`: returns at the Gateway's ack, as the bare client does. */
  readonly cli: Series;
  /** `send` as typed: also waits for the evidence that the target's session shows it. */
  readonly settled: Series;
  /** `compareBin`'s `send --settle 0`, when given. */
  readonly compared?: Series;
  readonly bare: Series;
  readonly rows: readonly Row[];
}

/** The bin package.json names: what `npx openclaw-inter-instance` runs. */
export const CLI_BIN = join(import.meta.dirname, "..", "dist", "cli", "bin.js");

export async function benchOneShot(context: OneShotContext): Promise<OneShotResult> {
  const { gateway, scratch } = context;
  const configPath = join(scratch, "one-shot.json");
  await writeFile(
    configPath,
    JSON.stringify({
      self: { name: "bench-cli" },
      stateDir: join(scratch, "one-shot-state"),
      instances: { xiaom: { gateway: { url: gateway.url, token: gateway.token }, transports: ["sessions_send"] } },
    }),
  );
  const oneShotWith = (bin: string, i: number, ...options: string[]) =>
    run(process.execPath, [bin, "-c", configPath, "send", ...options, "xiaom", `one-shot ${i}`]);
  const oneShot = (i: number, ...options: string[]) => oneShotWith(context.bin ?? CLI_BIN, i, ...options);
  const bare = (i: number) =>
    run(process.execPath, [join(import.meta.dirname, "one-shot-client.mjs")], {
      env: { ...process.env, BENCH_URL: gateway.url, BENCH_TOKEN: gateway.token, BENCH_MESSAGE: `bare ${i}` },
    });
  // Not timed: the first run makes the device identity and fills Node's compile cache.
  await oneShot(-1);
  if (context.compareBin) await oneShotWith(context.compareBin, -1);
  const watcher = await connectRawClient(gateway.url, gateway.token);
  const idleWaits: number[] = [];
  const idle = async () => void idleWaits.push(await gatewayIdle(watcher));
  const comparedSamples: number[] = [];
  const cliSamples: number[] = [];
  const settledSamples: number[] = [];
  const bareSamples: number[] = [];
  const compareBin = context.compareBin;
  const orders = balancedOrders(context.compareBin ? 4 : 3);
  for (let i = 0; i < context.count; i += 1) {
    const kinds = [
      async () => void cliSamples.push(await timed(() => oneShot(i, "--settle", "0"))),
      async () => void bareSamples.push(await timed(() => bare(i))),
      async () => void settledSamples.push(await timed(() => oneShot(i))),
      ...(compareBin ? [async () => void comparedSamples.push(await timed(() => oneShotWith(compareBin, i, "--settle", "0")))] : []),
    ];
    for (const k of orders[i % orders.length]!) {
      await idle();
      await kinds[k]!();
    }
  }
  await watcher.stopAndWait({ timeoutMs: 2000 });
  const cli = summarize("6 one-shot CLI send --settle 0 (a process per message)", cliSamples);
  const settled = summarize("6 one-shot CLI send, settled (the default)", settledSamples);
  const bareSeries = summarize("6 bare client one-shot sessions.send (a process per message)", bareSamples);
  const p = (series: Series) => `p50 ${series.p50} / p95 ${series.p95} ms`;
  const compared = context.compareBin ? summarize(`6 one-shot CLI send --settle 0, ${context.compareBin}`, comparedSamples) : undefined;
  return {
    cli,
    settled,
    ...(compared ? { compared } : {}),
    bare: bareSeries,
    rows: [
      {
        scenario: "6. one-shot send",
        a: `CLI send --settle 0 ${p(cli)}`,
        b: `bare client ${p(bareSeries)}`,
        ratio: `${ratio(cli, bareSeries)}×`,
        note: `a Node process per message each, both return at the Gateway's ack; ours also validates, signs, logs the attempt, writes the outbox and audit rows; n=${context.count}, interleaved, rounds in a balanced order (each kind after every other equally often), each sample started once the agent's turn from the one before had ended (${waitsNote(idleWaits)}); goal within 1.5×`,
      },
      {
        scenario: "6. one-shot send, settled",
        a: `CLI send (default) ${p(settled)}`,
        b: `bare client ${p(bareSeries)}`,
        ratio: `${ratio(settled, bareSeries)}×`,
        note: `the default also waits (up to 30 s) until the target's session shows the message, which the bare client never learns; n=${context.count}`,
      },
    ],
  };
}

const SESSION = "agent:main:main";
const IDLE_CAP_MS = 30_000;

/**
 * Until the agent's turns that earlier samples started have ended (no run, nothing queued in the
 * session), at most 30 s; the ms waited. Each send starts a turn, which takes the Gateway a few hundred
 * ms of CPU on this 2-core machine: back to back, every sample raced the one before's turn for the
 * cores, as a cron job sending once in a while does not, and the process with more to do lost more.
 */
async function gatewayIdle(client: GatewayClient): Promise<number> {
  const started = performance.now();
  for (;;) {
    const page = (await client.request("chat.history", { sessionKey: SESSION, limit: 1 })) as {
      pendingInputs?: { items?: { state?: string }[] };
      sessionInfo?: { hasActiveRun?: boolean };
    };
    const queued = (page.pendingInputs?.items ?? []).some((input) => input.state === "queued");
    const waited = performance.now() - started;
    if ((!queued && page.sessionInfo?.hasActiveRun !== true) || waited > IDLE_CAP_MS) return waited;
    await delay(50);
  }
}

function waitsNote(waits: readonly number[]): string {
  const capped = waits.filter((ms) => ms > IDLE_CAP_MS).length;
  const median = [...waits].sort((a, b) => a - b)[Math.floor(waits.length / 2)] ?? 0;
  return `waited ${Math.round(median)} ms median for it${capped > 0 ? `; ${capped} of ${waits.length} still busy after ${IDLE_CAP_MS / 1000} s` : ""}`;
}

/**
 * The order of the kinds in each round (a Williams design): over the rows each kind follows every
 * other kind equally often. Each send leaves a turn running on the Gateway for a while, and the kind
 * that always came next paid for it: a plain rotation put the CLI's sample two places after the
 * settled send in most rounds, and the same build measured 100-200 ms slower in that place than in
 * the compared one (two runs on 2026-12-04, 11:05 and 11:18 UTC).
 */
export function balancedOrders(kinds: number): number[][] {
  const first = [0];
  for (let low = 1, high = kinds - 1; first.length < kinds; ) first.push(first.length % 2 === 1 ? low++ : high--);
  const rows = first.map((_, shift) => first.map((kind) => (kind + shift) % kinds));
  return kinds % 2 === 0 ? rows : [...rows, ...rows.map((row) => [...row].reverse())];
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const count = args.includes("--n") ? Number(args[args.indexOf("--n") + 1]) : 12;
  const scratch = await mkdtemp(join(tmpdir(), "oii-bench-one-shot-"));
  const mock = await startMockModel();
  let gateway: TestGateway | undefined;
  try {
    // The same queue cap as `npm run bench`: messages outrun the mock agent's turns.
    gateway = await startGateway({ modelBaseUrl: mock.url, name: "one-shot", extraConfig: { messages: { queue: { cap: 10_000 } } } });
    await mkdir(gateway.workspace, { recursive: true });
    const option = (name: string) => (args.includes(name) ? String(args[args.indexOf(name) + 1]) : undefined);
    const bin = option("--bin");
    const compareBin = option("--compare");
    const result = await benchOneShot({ gateway, scratch, count, ...(bin ? { bin } : {}), ...(compareBin ? { compareBin } : {}) });
    const { rows, ...series } = result;
    process.stdout.write(`${JSON.stringify({ date: new Date().toISOString(), ...series }, null, 2)}\n`);
    process.stdout.write(`${rows.map((row) => `| ${row.scenario} | ${row.a} | ${row.b} | ${row.ratio} | ${row.note} |`).join("\n")}\n`);
  } finally {
    await gateway?.dispose();
    await mock.close();
    await rm(scratch, { recursive: true, force: true });
  }
}
