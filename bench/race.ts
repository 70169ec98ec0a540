// Scenario 13 of `npm run bench`: accepted is not delivered. OpenClaw's Gateway acks `sessions.send`
// once the input is staged and, under load, can drop it afterwards (steered into a turn that ends,
// dropped past its follow-up queue cap of 20, interrupted). The race of test/integration/race.test.ts
// (two paced senders and an unpaced burst past the cap into one session, the owner's own turns
// between them), in rounds, on one Gateway with its default queue, two sessions at once: raw `sessions.send` with
// the reference client and no follow-up (the floor) in one, the library in the other, which follows each accepted
// message up on the target's evidence and redelivers lost ones (`outbox.settle`). The oracle is the
// same for both: copies of each message in the whole transcript, once the session is quiet.
//
// Alone: node bench/race.ts [--quick]

import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import type { GatewayClient } from "@openclaw/gateway-client";
import { LinkLatency } from "../dist/gateway/link-latency.js";
import { DeviceIdentityStore, type GatewayConnection, GatewayPool, type RequestOptions } from "../dist/gateway.js";
import { createMessenger, type DeliveryReport, type Messenger } from "../dist/index.js";
import { SessionsSendTransport } from "../dist/transports.js";
import { startGateway, type TestGateway } from "../test/harness/gateway.ts";
import { startMockModel } from "../test/harness/mock-model.ts";
import { sessionsSendOnly } from "../test/harness/race-config.ts";
import { gatewayRequest } from "../test/harness/rpc.ts";
import { connectRawClient } from "./raw-client.mjs";

type Row = { scenario: string; a: string; b: string; ratio: string; note: string };

export interface RaceContext {
  readonly scratch: string;
  readonly quick: boolean;
  /** A Gateway with the default follow-up queue to race on (left running); else the scenario starts its own. */
  readonly gateway?: TestGateway;
  readonly row: (row: Row) => void;
  readonly log: (text: string) => void;
}

/** Per side: rounds of the race test's shape (two paced senders, one burst past the cap of 20). */
interface Sizes {
  readonly rounds: number;
  readonly pacedPerSender: number;
  readonly burst: number;
  /** Between rounds, at most this long for the session's queue to empty. */
  readonly drainCapMs: number;
  /** How long the library's `outbox.settle` waits for the evidence. */
  readonly settleMs: number;
  /** Quiet: nothing queued, no run, no new row for this long. */
  readonly quietMs: number;
  /** And not before this long after the last ack: a steer that slipped in as a turn ended is queued again after OpenClaw's 120 s commit timeout. */
  readonly afterLastAckMs: number;
  readonly quietCapMs: number;
}

const FULL: Sizes = {
  rounds: 3,
  pacedPerSender: 12,
  burst: 26,
  drainCapMs: 60_000,
  settleMs: 240_000,
  quietMs: 10_000,
  afterLastAckMs: 125_000,
  quietCapMs: 300_000,
};
// Every path (paced sends, a burst past the cap, owner turns, follow-up and settle, the quiet wait), not a measurement.
const QUICK: Sizes = {
  rounds: 1,
  pacedPerSender: 3,
  burst: 24,
  drainCapMs: 20_000,
  settleMs: 120_000,
  quietMs: 4_000,
  afterLastAckMs: 0,
  quietCapMs: 60_000,
};
const OWNER_EVERY_MS = 8_000;

interface HistoryRow {
  readonly role?: string;
  readonly content?: unknown;
  readonly __openclaw?: { readonly id?: string; readonly seq?: number; readonly truncated?: boolean };
}
interface HistoryPage {
  readonly messages?: readonly HistoryRow[];
  readonly hasMore?: boolean;
  readonly nextOffset?: number;
  readonly pendingInputs?: { readonly items?: readonly { readonly state?: string }[] };
  readonly sessionInfo?: { readonly hasActiveRun?: boolean };
}

function textOf(content: unknown): string {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) return content.map((part: unknown) => (part && typeof part === "object" && "text" in part ? String(part.text) : "")).join("");
  return "";
}

/** The text of every user row of the session, paged back to its first, long rows read whole (`chat.history` cuts them for display). */
async function userTexts(gateway: TestGateway, sessionKey: string): Promise<string[]> {
  const rows: HistoryRow[] = [];
  let offset: number | undefined = 0;
  while (offset !== undefined) {
    const page: HistoryPage = await gatewayRequest<HistoryPage>(gateway, "chat.history", { sessionKey, limit: 1000, offset }, 60_000);
    rows.unshift(...(page.messages ?? []));
    offset = page.hasMore ? page.nextOffset : undefined;
  }
  const texts: string[] = [];
  for (const row of rows) {
    if (row.role !== "user") continue;
    if (!row.__openclaw?.truncated || !row.__openclaw.id) {
      texts.push(textOf(row.content));
      continue;
    }
    const whole = await gatewayRequest<{ message?: HistoryRow }>(gateway, "chat.message.get", { sessionKey, messageId: row.__openclaw.id }, 60_000);
    texts.push(textOf(whole.message?.content ?? row.content));
  }
  return texts;
}

/** Copies of each message (found by its marker) in the user rows; a queue-overflow summary only quotes a dropped one's first line. */
async function countCopies(gateway: TestGateway, sessionKey: string, markers: readonly string[]): Promise<number[]> {
  const texts = (await userTexts(gateway, sessionKey)).filter((text) => !text.startsWith("[Queue overflow]"));
  return markers.map((marker) => texts.filter((text) => text.includes(marker)).length);
}

async function sessionState(gateway: TestGateway, sessionKey: string): Promise<{ queued: number; active: boolean; last: string }> {
  const page = await gatewayRequest<HistoryPage>(gateway, "chat.history", { sessionKey, limit: 1 });
  const last = page.messages?.at(-1)?.__openclaw;
  return {
    queued: (page.pendingInputs?.items ?? []).filter((input) => input.state === "queued").length,
    active: page.sessionInfo?.hasActiveRun === true,
    last: `${last?.id ?? ""}/${last?.seq ?? ""}`,
  };
}

/** Until nothing waits in the session's queue, at most `capMs`. */
async function drained(gateway: TestGateway, sessionKey: string, capMs: number): Promise<void> {
  const deadline = Date.now() + capMs;
  while ((await sessionState(gateway, sessionKey)).queued > 0 && Date.now() < deadline) await delay(1_000);
}

/** Until the session is quiet (nothing queued, no run, no new row for `quietMs`) and `afterLastAckMs` past the last ack, at most `quietCapMs`; the ms waited. */
async function quiet(gateway: TestGateway, sessionKey: string, sizes: Sizes, lastAck: number): Promise<{ waitedMs: number; quiet: boolean }> {
  const started = Date.now();
  let last = "";
  let since = Date.now();
  for (;;) {
    const state = await sessionState(gateway, sessionKey);
    if (state.last !== last || state.queued > 0 || state.active) {
      last = state.last;
      since = Date.now();
    }
    const isQuiet = Date.now() - since >= sizes.quietMs && Date.now() - lastAck >= sizes.afterLastAckMs;
    if (isQuiet || Date.now() - started > sizes.quietCapMs) return { waitedMs: Date.now() - started, quiet: isQuiet };
    await delay(1_000);
  }
}

/** The session owner talks meanwhile: turns from another source, between the senders'. Stop with the returned function. */
function owner(gateway: TestGateway, sessionKey: string): () => Promise<void> {
  let talking = true;
  const done = (async () => {
    for (let turn = 0; talking; turn += 1) {
      await gatewayRequest(gateway, "chat.send", { sessionKey, message: `owner note ${turn}`, idempotencyKey: `owner-${randomUUID()}` }).catch(() => undefined);
      for (let waited = 0; talking && waited < OWNER_EVERY_MS; waited += 500) await delay(500);
    }
  })();
  return async () => {
    talking = false;
    await done;
  };
}

/** One round of the race: two paced senders (irregular gaps, some land as a turn ends) and one unpaced burst, at once. */
async function round<T>(sizes: Sizes, send: (sender: "paced-a" | "paced-b" | "burst", index: number) => Promise<T>): Promise<T[]> {
  const paced = async (sender: "paced-a" | "paced-b"): Promise<T[]> => {
    const results: T[] = [];
    for (let index = 0; index < sizes.pacedPerSender; index += 1) {
      results.push(await send(sender, index));
      await delay((index * 37) % 120);
    }
    return results;
  };
  const burst = Promise.all(Array.from({ length: sizes.burst }, (_, index) => send("burst", index)));
  return (await Promise.all([paced("paced-a"), paced("paced-b"), burst])).flat();
}

interface Outcome {
  readonly messages: number;
  readonly lost: number;
  readonly duplicated: number;
  readonly seconds: number;
  readonly quietWaitS: number;
  readonly quiet: boolean;
}

/** The floor: raw `sessions.send` on the reference client, each message its own key, no follow-up. */
async function rawSide(gateway: TestGateway, sizes: Sizes, log: (text: string) => void): Promise<Outcome & { refused: number }> {
  const sessionKey = `agent:main:race-raw-${randomUUID().slice(0, 8)}`;
  await gatewayRequest(gateway, "sessions.create", { key: sessionKey });
  const clients: GatewayClient[] = await Promise.all([0, 1, 2].map(() => connectRawClient(gateway.url, gateway.token)));
  const started = performance.now();
  const markers: string[] = [];
  const refusedAt = new Set<number>();
  let lastAck = Date.now();
  const stopOwner = owner(gateway, sessionKey);
  try {
    for (let r = 0; r < sizes.rounds; r += 1) {
      await round(sizes, async (sender, index) => {
        const id = `raw-${r}-${sender}-${index}`;
        const marker = `[bench race, id ${id}]`;
        const at = markers.push(marker) - 1;
        const client = clients[sender === "paced-a" ? 0 : sender === "paced-b" ? 1 : 2]!;
        try {
          await client.request("sessions.send", { key: sessionKey, message: `${marker}\n${sender} ${index} of round ${r}`, idempotencyKey: id });
          lastAck = Date.now();
        } catch {
          refusedAt.add(at);
        }
      });
      await drained(gateway, sessionKey, sizes.drainCapMs);
      log(`13 race, raw: round ${r + 1} of ${sizes.rounds} sent (${markers.length} messages, ${refusedAt.size} refused at send)`);
    }
  } finally {
    await stopOwner();
    await Promise.all(clients.map((client) => client.stopAndWait({ timeoutMs: 2000 }).catch(() => undefined)));
  }
  const waited = await quiet(gateway, sessionKey, sizes, lastAck);
  const copies = await countCopies(gateway, sessionKey, markers);
  return {
    messages: markers.length,
    refused: refusedAt.size,
    // Lost after the ack: a refused send is one the client knows about.
    lost: copies.filter((count, at) => count === 0 && !refusedAt.has(at)).length,
    duplicated: copies.filter((count) => count > 1).length,
    seconds: Math.round((performance.now() - started) / 1000),
    quietWaitS: Math.round(waited.waitedMs / 1000),
    quiet: waited.quiet,
  };
}

/** A pool whose connections count each request by method; `chat.history` with `inputRunIds` (the follow-up's evidence) apart from without. */
class CountingPool extends GatewayPool {
  readonly #counted = new WeakSet<GatewayConnection>();
  readonly #count: (method: string, params: unknown) => void;

  constructor(stateDir: string, count: (method: string, params: unknown) => void) {
    super(new DeviceIdentityStore(stateDir), new LinkLatency(stateDir));
    this.#count = count;
  }

  // Every transport call reaches its connection through `get` (`forInstance` → `forTarget` → `get`), cached per URL and token.
  override get(options: Parameters<GatewayPool["get"]>[0]): GatewayConnection {
    const connection = super.get(options);
    if (!this.#counted.has(connection)) {
      this.#counted.add(connection);
      const request = connection.request.bind(connection);
      connection.request = <T>(method: string, params: unknown, requestOptions?: RequestOptions): Promise<T> => {
        this.#count(method, params);
        return request<T>(method, params, requestOptions);
      };
    }
    return connection;
  }
}

/** The library: the same race through `createMessenger`, then `outbox.settle` on each sender's reports. */
async function librarySide(
  gateway: TestGateway,
  sizes: Sizes,
  scratch: string,
  log: (text: string) => void,
): Promise<Outcome & { calls: Record<string, number>; lostByGateway: number; redelivered: number; statuses: Record<string, number>; settleS: number }> {
  const sessionKey = `agent:main:race-lib-${randomUUID().slice(0, 8)}`;
  await gatewayRequest(gateway, "sessions.create", { key: sessionKey });
  const calls: Record<string, number> = {};
  const count = (method: string, params: unknown) => {
    const key =
      method === "chat.history" ? (params && typeof params === "object" && "inputRunIds" in params ? "chat.history evidence" : "chat.history plain") : method;
    calls[key] = (calls[key] ?? 0) + 1;
  };
  const sender = (name: string, maxQueued: number): Messenger => {
    const stateDir = join(scratch, "race", name);
    return createMessenger({
      config: sessionsSendOnly(gateway, { stateDir, sessionKey, maxQueued }),
      transports: [new SessionsSendTransport(new CountingPool(stateDir, count))],
      log: { level: "silent" },
    });
  };
  // As in the race test: the paced senders keep at most 10 queued; the burst is unpaced, past the Gateway's cap.
  const links = { "paced-a": sender("paced-a", 10), "paced-b": sender("paced-b", 10), burst: sender("burst", 10_000) };
  const reports: Record<keyof typeof links, DeliveryReport[]> = { "paced-a": [], "paced-b": [], burst: [] };
  const started = performance.now();
  let lastAck = Date.now();
  const stopOwner = owner(gateway, sessionKey);
  try {
    let settled: DeliveryReport[];
    let settleS: number;
    try {
      for (let r = 0; r < sizes.rounds; r += 1) {
        await round(sizes, async (name, index) => {
          const report = await links[name].send({ to: "xiaom", body: `${name} ${index} of round ${r}` });
          reports[name].push(report);
          lastAck = Date.now();
        });
        await drained(gateway, sessionKey, sizes.drainCapMs);
        log(`13 race, library: round ${r + 1} of ${sizes.rounds} sent (${Object.values(reports).flat().length} messages)`);
      }
      const settleStarted = performance.now();
      settled = (
        await Promise.all((Object.keys(links) as (keyof typeof links)[]).map((name) => links[name].outbox.settle(reports[name], { timeoutMs: sizes.settleMs })))
      ).flat();
      settleS = Math.round((performance.now() - settleStarted) / 1000);
      log(`13 race, library: settled in ${settleS} s`);
    } finally {
      await stopOwner();
    }
    const waited = await quiet(gateway, sessionKey, sizes, lastAck);
    const copies = await countCopies(
      gateway,
      sessionKey,
      settled.map((report) => `via openclaw-inter-instance, id ${report.id}]`),
    );
    const statuses: Record<string, number> = {};
    for (const report of settled) statuses[report.status] = (statuses[report.status] ?? 0) + 1;
    return {
      messages: settled.length,
      lost: copies.filter((n) => n === 0).length,
      duplicated: copies.filter((n) => n > 1).length,
      seconds: Math.round((performance.now() - started) / 1000),
      quietWaitS: Math.round(waited.waitedMs / 1000),
      quiet: waited.quiet,
      calls,
      lostByGateway: settled.filter((report) => report.followUp?.some((step) => step.found === "lost")).length,
      redelivered: settled.flatMap((report) => report.followUp ?? []).filter((step) => step.action === "redelivered").length,
      statuses,
      settleS,
    };
  } finally {
    await Promise.all(Object.values(links).map((link) => link.close()));
  }
}

const perThousand = (count: number, of: number) => (of === 0 ? 0 : Math.round((count / of) * 1000));
const rate = (what: string, count: number, of: number) => `${what} ${perThousand(count, of)} / 1,000 (${count} of ${of})`;

/** Runs the scenario on a Gateway with the default follow-up queue (cap 20): the given one, or its own; adds its rows, returns its numbers. */
export async function benchRace(context: RaceContext): Promise<Record<string, unknown>> {
  const sizes = context.quick ? QUICK : FULL;
  const mock = context.gateway ? undefined : await startMockModel();
  let gateway: TestGateway | undefined = context.gateway;
  try {
    if (!gateway) {
      context.log("13 race: starting a Gateway with the default follow-up queue");
      gateway = await startGateway({ modelBaseUrl: mock!.url, name: "race" });
    }
    // Both sides at once, each in a session of its own: each races under the other's load too, and the
    // quiet wait after the last ack (over two minutes) is paid once.
    const [raw, lib] = await Promise.all([
      rawSide(gateway, sizes, context.log).then((outcome) => (context.log(`13 race, raw: ${JSON.stringify(outcome)}`), outcome)),
      librarySide(gateway, sizes, context.scratch, context.log).then((outcome) => (context.log(`13 race, library: ${JSON.stringify(outcome)}`), outcome)),
    ]);
    const shape = `${sizes.rounds} round(s) of 2 paced senders × ${sizes.pacedPerSender} and a burst of ${sizes.burst}, the owner's turns between`;
    const history = Object.entries(lib.calls)
      .filter(([method]) => method.startsWith("chat.history"))
      .reduce((sum, [, n]) => sum + n, 0);
    context.row({
      scenario: "13. race, lost after the ack",
      a: `library: ${rate("lost", lib.lost, lib.messages)}`,
      b: `Gateway alone: ${rate("lost", raw.lost, raw.messages - raw.refused)}`,
      ratio: `${perThousand(lib.lost, lib.messages)} vs ${perThousand(raw.lost, raw.messages - raw.refused)}`,
      note: `${shape}; raw: acked and never in the transcript (${raw.refused} refused at send not counted); library: found lost ${lib.lostByGateway}, redelivered ${lib.redelivered}`,
    });
    context.row({
      scenario: "13. race, shown twice",
      a: `library: ${rate("duplicated", lib.duplicated, lib.messages)}`,
      b: `Gateway alone: ${rate("duplicated", raw.duplicated, raw.messages - raw.refused)}`,
      ratio: `${perThousand(lib.duplicated, lib.messages)} vs ${perThousand(raw.duplicated, raw.messages - raw.refused)}`,
      note: `copies of each message in the whole transcript once the session is quiet (queue-overflow summaries excluded); raw ${raw.seconds} s, library ${lib.seconds} s (settle ${lib.settleS} s)`,
    });
    context.row({
      scenario: "13. race, follow-up cost",
      a: `${(history / lib.messages).toFixed(2)} chat.history per message`,
      b: "raw: none",
      ratio: "",
      note: `${history} chat.history for ${lib.messages} messages (${lib.calls["chat.history evidence"] ?? 0} evidence reads with inputRunIds, ${lib.calls["chat.history plain"] ?? 0} queue/transcript reads); all requests: ${JSON.stringify(lib.calls)}`,
    });
    return { sizes, raw, library: lib };
  } finally {
    if (!context.gateway) await gateway?.dispose();
    await mock?.close();
  }
}

// Alone: node bench/race.ts [--quick]
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const scratch = await mkdtemp(join(tmpdir(), "oii-bench-race-"));
  const started = performance.now();
  const rows: Row[] = [];
  try {
    const result = await benchRace({
      scratch,
      quick: process.argv.includes("--quick"),
      row: (row) => rows.push(row),
      log: (text) => process.stderr.write(`[race ${((performance.now() - started) / 1000).toFixed(1)} s] ${text}\n`),
    });
    process.stdout.write(
      `${JSON.stringify({ date: new Date().toISOString(), seconds: Math.round((performance.now() - started) / 1000), ...result }, null, 2)}\n\n`,
    );
    process.stdout.write(`${rows.map((r) => `| ${r.scenario} | ${r.a} | ${r.b} | ${r.ratio} | ${r.note} |`).join("\n")}\n`);
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
