// npm run bench [-- --quick] [-- --out <dir>]   (scenario 13 alone: node bench/race.ts [--quick])
// Starts its own Gateway and mock model (the test harness), runs each scenario in one process on
// one machine, and writes results.json, results.md and latency.svg. Compare ratios, not absolutes.

import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import type { GatewayClient } from "@openclaw/gateway-client";
import { type ConfigInput, createEnvelope, createMessenger, type Messenger, type MessengerOptions, type SendOptions, type TransportId } from "../dist/index.js";
import { appendEntry, parseEntries } from "../dist/transports.js";
import { MessagingKeyStore } from "../dist/trust/messaging-key.js";
import { signEnvelope, verifySender } from "../dist/trust/sign-envelope.js";
import { freePort, openclawEntry, startGateway, type TestGateway } from "../test/harness/gateway.ts";
import { startMockModel } from "../test/harness/mock-model.ts";
import { startNodeHost, type TestNodeHost } from "../test/harness/node-host.ts";
import { gatewayRequest } from "../test/harness/rpc.ts";
import { allowBenchFileWrites, benchAttachments } from "./attachments.ts";
import { latencyChart } from "./chart.ts";
import { benchFleet } from "./fleet.ts";
import { benchIdleCost } from "./idle-cost.ts";
import { benchOneShot } from "./one-shot.ts";
import { benchRace } from "./race.ts";
import { connectRawClient } from "./raw-client.mjs";
import { benchScrapeCost } from "./scrape-cost.ts";
import { ratio, type Series, summarize, timed } from "./stats.ts";
import { benchTwoMachines } from "./two-machines.ts";

const run = promisify(execFile);
const args = process.argv.slice(2);
// --quick: every scenario and every path of it, with the fewest samples that still take each path,
// and short windows, caps and attempt timeouts where the full run waits them out (the test suite
// runs it; it is not a measurement).
const quick = args.includes("--quick");
const outDir = args.includes("--out") ? String(args[args.indexOf("--out") + 1]) : join(import.meta.dirname);

const N = {
  ...(quick
    ? {
        warm: 3,
        cli: 1,
        overhead: 3,
        fallback: 3,
        throughput: 5,
        writers: 4,
        appends: 20,
        cold: 2,
        oneShot: 1,
        idleWindowMs: 2_000,
        idleWindows: 1,
        idleSettleMs: 1_000,
        signatures: 20,
        groups: 2,
        fleetRounds: 1,
        scrape: { perBatch: 5, batches: 3 },
        files: 2,
      }
    : {
        warm: 50,
        cli: 8,
        overhead: 50,
        fallback: 30,
        throughput: 500,
        writers: 16,
        appends: 1000,
        cold: 10,
        oneShot: 12,
        idleWindowMs: 30_000,
        idleWindows: 5,
        idleSettleMs: 15_000,
        signatures: 1000,
        groups: 12,
        fleetRounds: 20,
        scrape: { perBatch: 100, batches: 12 },
        files: 12,
      }),
  // The naive dispatcher is cut off at this cap, and its projection shown instead.
  naiveCapMs: quick ? 1_000 : 3_000,
  // A hanging top transport: its attempt timeout (quick: shorter than the 10 s handshake budget, so
  // the first message waits out this one instead; the path is the same, a timeout then the fallback).
  hangTimeoutMs: quick ? 2_000 : 15_000,
  // Scenario 4 waits at most this long for the agent to work off earlier turns before each run.
  drainCapMs: quick ? [2_000, 2_000] : [90_000, 30_000],
};
const SEED_NODE_TIMEOUT_MS = 30_000;
// Messages outrun the agent's turns here, so they pile up in the target session. The bench measures
// the transport, not the turn rate: the target's queue holds them all and the pacing never waits.
const BENCH_QUEUE_CAP = 10_000;

const scratch = await mkdtemp(join(tmpdir(), "oii-bench-"));
const series: Series[] = [];
const rows: { scenario: string; a: string; b: string; ratio: string; note: string }[] = [];
const extra: Record<string, unknown> = {};
const benchStarted = performance.now();
const log = (text: string) => process.stderr.write(`[bench ${((performance.now() - benchStarted) / 1000).toFixed(1)} s] ${text}\n`);
// Wall time of each step, in seconds (printed as it ends and kept in results.json): where a run's time goes.
const phases: Record<string, number> = {};
let phaseStarted = benchStarted;
function phase(name: string): void {
  const now = performance.now();
  phases[name] = Math.round((now - phaseStarted) / 100) / 10;
  phaseStarted = now;
  log(`${name}: ${phases[name]} s`);
}

// Whatever a scenario opens is closed at the end even when it throws: a messenger left open keeps a
// socket that reconnects to a stopped Gateway for ever, and the process never exits.
const openMessengers = new Set<Messenger>();
function messenger(options: MessengerOptions): Messenger {
  const link = createMessenger(options);
  openMessengers.add(link);
  return { ...link, close: async () => void (openMessengers.delete(link) && (await link.close())) };
}

function config(url: string, token: string, workspace: string, circuitCooldownMs: number, sessionsTimeoutMs = 15_000): ConfigInput {
  return {
    self: { name: "bench-a" },
    stateDir: join(scratch, "client"),
    defaults: { retries: 2, circuitCooldownMs },
    instances: {
      xiaom: {
        gateway: { url, token },
        workspace,
        maxQueued: BENCH_QUEUE_CAP / 2,
        transports: ["sessions_send", "memory_file"],
        timeouts: { sessions_send: sessionsTimeoutMs },
      },
    },
  };
}

async function sample(name: string, count: number, work: (i: number) => Promise<unknown>): Promise<Series> {
  const samples: number[] = [];
  for (let i = 0; i < count; i += 1) samples.push(await timed(() => work(i)));
  const summary = summarize(name, samples);
  series.push(summary);
  log(`${name}: p50 ${summary.p50} ms, p95 ${summary.p95} ms (n=${summary.n})`);
  return summary;
}

async function expectOkTo(link: Messenger, to: string, body: string): Promise<void> {
  const report = await link.send({ to, body });
  if (!report.ok) throw new Error(`expected delivery to ${to}, got ${JSON.stringify(report.attempts)}`);
}

async function expectOk(link: Messenger, body: string, via: TransportId, options: SendOptions = {}): Promise<void> {
  const report = await link.send({ to: "xiaom", body }, options);
  if (!report.ok || report.via !== via) throw new Error(`expected delivery via ${via}, got ${JSON.stringify(report.attempts)}`);
}

/**
 * A link's first send, through `via` alone. On a first contact the top transport gets a 2 s head start
 * before the next runs alongside, and a handshake on a loaded machine can take longer: the warm-up
 * would then go by file, and the link would not be warm.
 */
const warmUp = (link: Messenger, body: string, via: TransportId): Promise<void> => expectOk(link, body, via, { transports: [via] });

const rawClient = (gateway: TestGateway): Promise<GatewayClient> => connectRawClient(gateway.url, gateway.token);

async function silentListener(): Promise<{ server: Server; url: string }> {
  const server = createServer((socket) => {
    socket.on("error", () => undefined);
    socket.resume();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, url: `ws://127.0.0.1:${(server.address() as { port: number }).port}` };
}

const mock = await startMockModel();
let gateway: TestGateway | undefined;
let node: TestNodeHost | undefined;
let loopbackWarm: Series | undefined;
let signedSend: { signed: Series; unsigned: Series } | undefined;
let raw: GatewayClient | undefined;
let silent: { server: Server; url: string } | undefined;
try {
  log("starting a Gateway and the mock model");
  gateway = await startGateway({
    modelBaseUrl: mock.url,
    name: "bench",
    extraConfig: { messages: { queue: { cap: BENCH_QUEUE_CAP } } },
    // Scenario 15's node writes files into the workspace's incoming folder.
    beforeStart: ({ stateDir }) => allowBenchFileWrites(stateDir),
  });
  const workspace = gateway.workspace;
  await mkdir(workspace, { recursive: true });
  phase("start the Gateway and the mock model");

  // 1. Warm library sessions_send vs spawning the CLI per message.
  const warm = messenger({ config: config(gateway.url, gateway.token, workspace, 30_000), log: { level: "silent" } });
  await warmUp(warm, "warm-up", "sessions_send");
  const lib = await sample("1 library sessions_send (warm WS)", N.warm, (i) => expectOk(warm, `bench warm ${i}`, "sessions_send"));
  loopbackWarm = lib;
  const cliHome = join(scratch, "cli-client");
  await mkdir(join(cliHome, "state"), { recursive: true });
  const cli = await sample("1 CLI spawn: openclaw gateway call sessions.send", N.cli, async (i) => {
    await run(
      process.execPath,
      [
        openclawEntry,
        "gateway",
        "call",
        "sessions.send",
        "--url",
        gateway!.url,
        "--token",
        gateway!.token,
        "--json",
        "--params",
        JSON.stringify({ key: "agent:main:main", message: `bench cli ${i}`, idempotencyKey: randomUUID() }),
      ],
      { env: { ...process.env, HOME: cliHome, OPENCLAW_STATE_DIR: join(cliHome, "state") } },
    );
  });
  rows.push({
    scenario: "1. sessions_send",
    a: "CLI spawn per message",
    b: "library, warm WebSocket",
    ratio: `${ratio(cli, lib)}×`,
    note: `CLI n=${cli.n} (each spawn takes seconds; capped to keep the run under 5 min)`,
  });

  phase("1. sessions_send");

  // 6b. One-shot CLI send (a script or cron job runs one per message) vs the floor: a fresh Node
  // process making the same RPC with the bare reference client. Alone: node bench/one-shot.ts
  const oneShot = await benchOneShot({ gateway, scratch, count: N.oneShot });
  series.push(oneShot.cli, oneShot.settled, oneShot.bare);
  rows.push(...oneShot.rows);

  phase("6. one-shot send");

  // 2. Library overhead over a raw request of the same RPC on an open socket.
  raw = await rawClient(gateway);
  const rawSamples: number[] = [];
  const libSamples: number[] = [];
  for (let i = 0; i < N.overhead; i += 1) {
    rawSamples.push(await timed(() => raw!.request("sessions.send", { key: "agent:main:main", message: `bench raw ${i}`, idempotencyKey: randomUUID() })));
    libSamples.push(await timed(() => expectOk(warm, `bench lib ${i}`, "sessions_send")));
  }
  await raw.stopAndWait({ timeoutMs: 2000 });
  raw = undefined;
  const rawSeries = summarize("2 raw WS request (reference client)", rawSamples);
  const libSeries = summarize("2 library send (same RPC)", libSamples);
  series.push(rawSeries, libSeries);
  rows.push({
    scenario: "2. library overhead",
    a: "library send",
    b: "raw WS request",
    ratio: `${ratio(libSeries, rawSeries)}×`,
    note: `p50 difference ${(libSeries.p50 - rawSeries.p50).toFixed(2)} ms (validation, envelope, report, logging)`,
  });
  await warm.close();
  phase("2. library overhead");

  // 3. Fallback when the top transport is dead.
  const memoryOnly = messenger({
    config: { ...config(gateway.url, gateway.token, workspace, 0), instances: { xiaom: { workspace, transports: ["memory_file"] } } },
    log: { level: "silent" },
  });
  const alone = await sample("3 memory_file alone", N.fallback, (i) => expectOk(memoryOnly, `alone ${i}`, "memory_file"));
  await memoryOnly.close();

  const refusedUrl = `ws://127.0.0.1:${await freePort()}`;
  const refusedNoCircuit = messenger({ config: config(refusedUrl, gateway.token, workspace, 0), log: { level: "silent" } });
  const refused = await sample("3 top refusing (ECONNREFUSED) → memory_file", N.fallback, (i) => expectOk(refusedNoCircuit, `refused ${i}`, "memory_file"));
  await refusedNoCircuit.close();

  const refusedCircuit = messenger({ config: config(refusedUrl, gateway.token, workspace, 600_000), log: { level: "silent" } });
  await expectOk(refusedCircuit, "opens the circuit", "memory_file");
  const refusedOpen = await sample("3 top refusing, circuit open", N.fallback, (i) => expectOk(refusedCircuit, `refused open ${i}`, "memory_file"));
  await refusedCircuit.close();

  silent = await silentListener();
  const hanging = messenger({ config: config(silent.url, gateway.token, workspace, 600_000, N.hangTimeoutMs), log: { level: "silent" } });
  const hangFirst = await sample("3 top hanging, first message (never seen: 2 s head start)", 1, () => expectOk(hanging, "hang first", "memory_file"));
  const hangOpen = await sample("3 top hanging, circuit open", N.fallback, (i) => expectOk(hanging, `hang open ${i}`, "memory_file"));
  await hanging.close();

  // A naive sequential dispatcher waits the seed's 30 s node timeout on every message. Run it up to
  // a cap to show it is still waiting there, and project the rest.
  const naive = messenger({
    config: {
      ...config(silent.url, gateway.token, workspace, 0, SEED_NODE_TIMEOUT_MS),
      instances: {
        xiaom: { gateway: { url: silent.url, token: gateway.token }, transports: ["sessions_send"], timeouts: { sessions_send: SEED_NODE_TIMEOUT_MS } },
      },
    },
    log: { level: "silent" },
  });
  const naiveStarted = performance.now();
  const naiveOutcome = await naive.send({ to: "xiaom", body: "naive" }, { signal: AbortSignal.timeout(N.naiveCapMs) }).then(
    () => "finished",
    () => "still waiting at the cap",
  );
  const naiveWaited = performance.now() - naiveStarted;
  await naive.close();
  const naiveProjected = SEED_NODE_TIMEOUT_MS + alone.p50;
  extra.naive = { cappedAtMs: N.naiveCapMs, outcome: naiveOutcome, waitedMs: Math.round(naiveWaited), projectedPerMessageMs: Math.round(naiveProjected) };
  rows.push({
    scenario: "3. fallback, top refusing",
    a: "library fallback",
    b: "memory_file alone",
    ratio: `${ratio(refused, alone)}×`,
    note: `${(refused.p50 - alone.p50).toFixed(2)} ms to find the refusal`,
  });
  rows.push({
    scenario: "3. fallback, top refusing",
    a: "library, circuit open",
    b: "memory_file alone",
    ratio: `${ratio(refusedOpen, alone)}×`,
    note: "skips the dead path",
  });
  rows.push({
    scenario: "3. fallback, top hanging",
    a: "library, first message",
    b: "memory_file alone",
    ratio: `${ratio(hangFirst, alone)}×`,
    note: `a Gateway never seen gets a 2 s head start, then memory_file runs alongside (before: the 10 s handshake budget or the ${N.hangTimeoutMs / 1000} s attempt timeout, whichever was first)`,
  });
  rows.push({
    scenario: "3. fallback, top hanging",
    a: "library, circuit open",
    b: "memory_file alone",
    ratio: `${ratio(hangOpen, alone)}×`,
    note: "later messages skip the hanging path",
  });
  rows.push({
    scenario: "3. fallback, top hanging",
    a: "naive sequential (seed timeouts), projected",
    b: "library, circuit open",
    ratio: `${Math.round((naiveProjected / hangOpen.p50) * 10) / 10}× (projected)`,
    note: `naive run capped at ${N.naiveCapMs / 1000} s and was ${naiveOutcome}; projected ${(naiveProjected / 1000).toFixed(1)} s per message = 30 s timeout + memory_file`,
  });

  phase("3. fallback");

  // 4. Throughput over one connection. Each run starts once the agent has worked off the turns the
  // earlier messages queued, so one run's backlog does not slow the next.
  const queueDrained = async (capMs: number): Promise<number> => {
    const deadline = Date.now() + capMs;
    for (;;) {
      const history = await gatewayRequest<{ pendingInputs?: { total?: number } }>(gateway!, "chat.history", { sessionKey: "agent:main:main", limit: 1 });
      const queued = history.pendingInputs?.total ?? 0;
      if (queued === 0 || Date.now() > deadline) return queued;
      await new Promise((resolve) => setTimeout(resolve, 1000));
    }
  };
  const through = messenger({ config: config(gateway.url, gateway.token, workspace, 30_000), log: { level: "silent" } });
  await warmUp(through, "throughput warm-up", "sessions_send");
  const backlog: number[] = [await queueDrained(N.drainCapMs[0]!)];
  const sequentialMs = await timed(async () => {
    for (let i = 0; i < N.throughput; i += 1) await expectOk(through, `seq ${i}`, "sessions_send");
  });
  let pipelinedOk = 0;
  backlog.push(await queueDrained(N.drainCapMs[1]!));
  const pipelinedMs = await timed(async () => {
    const reports = await Promise.all(Array.from({ length: N.throughput }, (_, i) => through.send({ to: "xiaom", body: `pipe ${i}` })));
    pipelinedOk = reports.filter((r) => r.ok && r.via === "sessions_send").length;
  });
  await through.close();
  const seqRate = (N.throughput / sequentialMs) * 1000;
  const pipeRate = (N.throughput / pipelinedMs) * 1000;
  extra.throughput = {
    messages: N.throughput,
    sequentialPerSecond: Math.round(seqRate),
    pipelinedPerSecond: Math.round(pipeRate),
    pipelinedDeliveredViaSessionsSend: pipelinedOk,
    queuedAtStart: { sequential: backlog[0], pipelined: backlog[1] },
  };
  rows.push({
    scenario: "4. throughput, one connection",
    a: `pipelined ${Math.round(pipeRate)} msg/s`,
    b: `sequential ${Math.round(seqRate)} msg/s`,
    ratio: `${Math.round((pipeRate / seqRate) * 10) / 10}×`,
    note: `${N.throughput} messages each; pipelined ${pipelinedOk}/${N.throughput} via sessions_send; turns still queued at the start: ${backlog.join(" and ")}`,
  });

  phase("4. throughput");

  // 10. A signed send against an unsigned one, same Gateway, interleaved (the unsigned sender cannot read its key).
  {
    const signedLink = messenger({
      config: { ...config(gateway.url, gateway.token, workspace, 30_000), stateDir: join(scratch, "signed") },
      log: { level: "silent" },
    });
    const unsignedState = join(scratch, "unsigned");
    await mkdir(join(unsignedState, "messaging-key.json"), { recursive: true });
    const unsignedLink = messenger({ config: { ...config(gateway.url, gateway.token, workspace, 30_000), stateDir: unsignedState }, log: { level: "silent" } });
    await warmUp(signedLink, "signed warm-up", "sessions_send");
    await warmUp(unsignedLink, "unsigned warm-up", "sessions_send");
    const signedSamples: number[] = [];
    const unsignedSamples: number[] = [];
    for (let i = 0; i < N.overhead; i += 1) {
      signedSamples.push(await timed(() => expectOk(signedLink, `bench signed ${i}`, "sessions_send")));
      unsignedSamples.push(await timed(() => expectOk(unsignedLink, `bench unsigned ${i}`, "sessions_send")));
    }
    const signedSeries = summarize("10 signed warm send", signedSamples);
    const unsignedSeries = summarize("10 unsigned warm send", unsignedSamples);
    series.push(signedSeries, unsignedSeries);
    signedSend = { signed: signedSeries, unsigned: unsignedSeries };
    await signedLink.close();
    await unsignedLink.close();
  }

  phase("10. signed send");

  // 11. A group send to N members (sessions of the one Gateway) against N sequential sends.
  {
    const members = Array.from({ length: 8 }, (_, i) => `member${i + 1}`);
    const groupLink = messenger({
      config: {
        self: { name: "bench-a" },
        stateDir: join(scratch, "groups"),
        instances: Object.fromEntries(
          members.map((name) => [
            name,
            {
              gateway: { url: gateway!.url, token: gateway!.token },
              sessionKey: `agent:main:${name}`,
              maxQueued: BENCH_QUEUE_CAP / 2,
              transports: ["sessions_send"],
            },
          ]),
        ),
        groups: { g2: members.slice(0, 2), g4: members.slice(0, 4), g8: members },
      },
      log: { level: "silent" },
    });
    // sessions.send reaches existing sessions only: open each member's session (an RPC each, no
    // turn and no CLI start).
    for (const name of members) await gatewayRequest(gateway, "sessions.create", { key: `agent:main:${name}` });
    await groupLink.groups.send({ to: "g8", body: "group warm-up" });
    for (const size of [2, 4, 8]) {
      const group = await sample(`11 group send to ${size}`, N.groups, async (i) => {
        const report = await groupLink.groups.send({ to: `g${size}`, body: `bench group ${size} ${i}` });
        if (!report.ok) throw new Error(`group send failed: ${JSON.stringify(report.members.map((m) => m.status))}`);
      });
      const sequential = await sample(`11 ${size} sequential sends`, N.groups, async (i) => {
        for (const member of members.slice(0, size)) await expectOkTo(groupLink, member, `bench seq ${size} ${i}`);
      });
      rows.push({
        scenario: `11. group of ${size}`,
        a: `group send p50 ${group.p50} ms`,
        b: `${size} sequential sends p50 ${sequential.p50} ms`,
        ratio: `${ratio(sequential, group)}× faster`,
        note: `one envelope per member (each a session of the one Gateway), at most 8 at once; n=${group.n}`,
      });
    }
    await groupLink.close();
  }

  phase("11. group send");

  // 7. Remote exec through a paired node: the library's warm node.invoke vs spawning the CLI per command.
  log("pairing a node host for the exec scenario");
  node = await startNodeHost(gateway, { displayName: "bench-node" });
  const execLink = messenger({
    config: {
      self: { name: "bench-a" },
      stateDir: join(scratch, "client"),
      instances: { xiaom: { node: { gateway: { url: gateway.url, token: gateway.token }, name: "bench-node" } } },
    },
    log: { level: "silent" },
  });
  const execOnce = async (i: number) => {
    const result = await execLink.exec({ to: "xiaom", argv: ["echo", `bench ${i}`] });
    if (!result.ok) throw new Error(`exec failed: ${JSON.stringify(result)}`);
  };
  await execOnce(-1);
  const execLib = await sample("7 library exec (node.invoke, warm WS)", N.warm, execOnce);
  const nodeId = node.nodeId;
  const execCli = await sample("7 CLI spawn: openclaw gateway call node.invoke", N.cli, (i) =>
    run(
      process.execPath,
      [
        openclawEntry,
        "gateway",
        "call",
        "node.invoke",
        "--url",
        gateway!.url,
        "--token",
        gateway!.token,
        "--json",
        "--params",
        JSON.stringify({ nodeId, command: "system.run", params: { command: ["echo", `bench cli ${i}`] }, idempotencyKey: randomUUID() }),
      ],
      { env: { ...process.env, HOME: cliHome, OPENCLAW_STATE_DIR: join(cliHome, "state") } },
    ),
  );
  await execLink.close();
  rows.push({
    scenario: "7. remote exec on a node",
    a: "CLI spawn per command",
    b: "library exec, warm WebSocket",
    ratio: `${ratio(execCli, execLib)}×`,
    note: `echo through node.invoke system.run; CLI n=${execCli.n}`,
  });
  phase("7. remote exec");

  // 15. A 5 MB file in a message by sessions_send, nodes and nats, each beside its floor (same Gateway and node). Alone: node bench/attachments.ts [--quick]
  await benchAttachments({ gateway, node, scratch, count: N.files, series, row: (row) => rows.push(row), log });
  phase("15. files in messages");
} finally {
  await Promise.all([...openMessengers].map((link) => link.close()));
  await raw?.stopAndWait({ timeoutMs: 2000 }).catch(() => undefined);
  silent?.server.close();
  await node?.dispose();
  await gateway?.dispose();
  await mock.close();
}
phase("stop the Gateway, node host and mock model");

// 8. Across a real link: Gateway B in its own network namespace (needs root for `ip netns`).
if (loopbackWarm) {
  await benchTwoMachines({ scratch, counts: { warm: N.warm, cli: N.cli }, loopback: loopbackWarm, sample, row: (row) => rows.push(row), log });
}
phase("8. across a link");

// 9. What the plugin costs an idle Gateway.
// 14. A Prometheus scrape of the plugin's metrics route, on the same Gateway with the plugin (20 instances).
// 13. Accepted is not delivered: lost and duplicated per 1,000 under the race (test/integration/race.test.ts),
// raw sessions.send with no follow-up against the library's follow-up and redelivery, on the idle Gateway
// without the plugin (default follow-up queue) once its windows are over. Alone: node bench/race.ts [--quick]
const SCRAPED_INSTANCES = 20;
await benchIdleCost({
  scratch,
  noiseFloor: !quick,
  windowMs: N.idleWindowMs,
  windows: N.idleWindows,
  settleMs: N.idleSettleMs,
  row: (row) => rows.push(row),
  log,
  otherInstances: Array.from({ length: SCRAPED_INSTANCES - 1 }, (_, i) => `peer-${i + 1}`),
  afterWindows: async (withPlugin, plain) => {
    phase("9. idle cost");
    await benchScrapeCost({ gateway: withPlugin, instances: SCRAPED_INSTANCES, ...N.scrape, series, row: (row) => rows.push(row), log });
    phase("14. metrics scrape");
    extra.race = await benchRace({ scratch, quick, gateway: plain, row: (row) => rows.push(row), log });
  },
});
phase("13. race");

// 12. Fleets of 8, 32 and 100 on a real NATS broker, broadcast, each beside raw publishes (the floor); at 8 against direct sessions_send. Alone: node bench/fleet.ts [--quick]
await benchFleet({ scratch, rounds: N.fleetRounds, series, row: (row) => rows.push(row), log });
phase("12. fleet");

// 5. Memory-file appends: writers × appends, appends per second, lost and torn.
const memoryWorkspace = join(scratch, "memory-workspace");
await mkdir(memoryWorkspace, { recursive: true });
const total = N.writers * N.appends;
const appendMs = await timed(() =>
  Promise.all(
    Array.from({ length: N.writers }, async (_, w) => {
      for (let i = 0; i < N.appends; i += 1) {
        await appendEntry(createEnvelope({ from: "bench", to: "target", body: `w${w} m${i} ${"x".repeat(i % 200)}`, id: `bench-w${w}-m${i}` }), {
          workspace: memoryWorkspace,
          timeZone: "UTC",
        });
      }
    }),
  ),
);
// The same appends one at a time, each awaited before the next: nothing to group, one fsync each.
const soloWorkspace = join(scratch, "memory-solo");
await mkdir(soloWorkspace, { recursive: true });
const soloMs = await timed(async () => {
  for (let i = 0; i < N.appends; i += 1) {
    await appendEntry(createEnvelope({ from: "bench", to: "target", body: `solo m${i} ${"x".repeat(i % 200)}`, id: `bench-solo-m${i}` }), {
      workspace: soloWorkspace,
      timeZone: "UTC",
    });
  }
});
const noteNames = (await readdir(join(memoryWorkspace, "memory"))).filter((name) => name.endsWith(".md"));
const notes = await Promise.all(noteNames.map((name) => readFile(join(memoryWorkspace, "memory", name))));
const entries = notes.flatMap((note) => parseEntries(note).entries);
const torn = notes.filter((note) => parseEntries(note).tornTail !== undefined).length;
const lost = total - new Set(entries.map((entry) => entry.id)).size;
extra.memory = {
  writers: N.writers,
  appendsEach: N.appends,
  total,
  perSecond: Math.round((total / appendMs) * 1000),
  soloPerSecond: Math.round((N.appends / soloMs) * 1000),
  lost,
  torn,
  duplicates: entries.length - new Set(entries.map((e) => e.id)).size,
};
const perSecond = Math.round((total / appendMs) * 1000);
const soloPerSecond = Math.round((N.appends / soloMs) * 1000);
rows.push({
  scenario: "5. memory-file appends",
  a: `${N.writers} writers × ${N.appends}, group commit: ${perSecond} appends/s`,
  b: `one writer, one fsync each: ${soloPerSecond} appends/s`,
  ratio: `${Math.round((perSecond / soloPerSecond) * 10) / 10}×`,
  note: `lost ${lost}, torn ${torn}; concurrent appends to one note share one lock, one write and one fsync, each resolving once synced; goal 5,000/s`,
});

phase("5. memory-file appends");

// 10. Signing on the sender and verifying on the receiver, per message, against the warm send it rides on.
{
  const signer = new MessagingKeyStore(join(scratch, "signing")).key();
  const pinned = () => signer.publicKey;
  const envelope = createEnvelope({ from: "bench-a", to: "xiaom", body: "x".repeat(1024) });
  const signatures = await sample("10 sign + verify a 1 KiB envelope", N.signatures, async () => {
    const signed = signEnvelope(envelope, signer);
    if (!verifySender(signed, signed.signature, pinned).verified) throw new Error("a fresh signature did not verify");
  });
  rows.push({
    scenario: "10. signatures",
    a: `sign + verify p50 ${signatures.p50} ms`,
    b: loopbackWarm ? `warm library send p50 ${loopbackWarm.p50} ms` : "",
    ratio: loopbackWarm ? `${Math.round((signatures.p50 / loopbackWarm.p50) * 1000) / 10} %` : "",
    note: `Ed25519 (node:crypto) over id, from, to, time, body hash, redelivery, conversation, hop, replyTo, task; n=${signatures.n}; goal under 1 ms`,
  });
  if (signedSend) {
    rows.push({
      scenario: "10. signatures",
      a: `signed warm send p50 ${signedSend.signed.p50} ms`,
      b: `unsigned warm send p50 ${signedSend.unsigned.p50} ms`,
      ratio: `${ratio(signedSend.signed, signedSend.unsigned)}×`,
      note: `same Gateway, interleaved, n=${signedSend.signed.n} each; p50 difference ${(signedSend.signed.p50 - signedSend.unsigned.p50).toFixed(2)} ms`,
    });
  }
}

phase("10. signatures");

// 6. Cold import of the library vs an empty Node start.
const empty = await sample("6 node -e '' (empty)", N.cold, () => run(process.execPath, ["-e", ""]));
const cold = await sample("6 node: import the library entry", N.cold, () =>
  run(process.execPath, ["--input-type=module", "-e", "await import('openclaw-inter-instance')"], { cwd: join(import.meta.dirname, "..") }),
);
rows.push({
  scenario: "6. cold import",
  a: "import the library",
  b: "empty node",
  ratio: `${ratio(cold, empty)}×`,
  note: `+${(cold.p50 - empty.p50).toFixed(0)} ms; goal within 50 ms`,
});

phase("6. cold import");

const machine = `${process.platform} ${process.arch}, Node ${process.versions.node}, ${(await import("node:os")).cpus().length} cores`;
const table = [
  "| scenario | A | B | A vs B | note |",
  "| --- | --- | --- | --- | --- |",
  ...rows.map((r) => `| ${r.scenario} | ${r.a} | ${r.b} | ${r.ratio} | ${r.note} |`),
].join("\n");
const latencyTable = [
  "| series | n | p50 ms | p95 ms |",
  "| --- | --- | --- | --- |",
  ...series.map((s) => `| ${s.name} | ${s.n} | ${s.p50} | ${s.p95} |`),
].join("\n");
await mkdir(outDir, { recursive: true });
await writeFile(join(outDir, "latency.svg"), latencyChart(series, "openclaw-inter-instance: latency per message (one run)"));
await writeFile(
  join(outDir, "results.json"),
  `${JSON.stringify({ date: new Date().toISOString(), quick, machine, rows, series, ...extra, secondsPerStep: phases }, null, 2)}\n`,
);
await writeFile(
  join(outDir, "results.md"),
  `# Benchmark results\n\n${quick ? "**Quick run (few samples), not a measurement.**\n\n" : ""}One run of \`npm run bench\` on ${machine}, ${new Date().toISOString().slice(0, 10)}. Read the ratios; absolute times on shared machines are noise.\n\n${table}\n\n## Latency series\n\n${latencyTable}\n\n![latency](latency.svg)\n`,
);
// In the repository, the tables as biome formats them (padded columns): npm test's lint checks the committed file.
if (outDir === import.meta.dirname)
  await run(process.execPath, [
    join(import.meta.dirname, "..", "node_modules", "@biomejs", "biome", "bin", "biome"),
    "format",
    "--write",
    join(outDir, "results.md"),
  ]);
process.stdout.write(`${table}\n\n${latencyTable}\n`);
await rm(scratch, { recursive: true, force: true });
