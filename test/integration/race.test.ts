import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createMessenger, type DeliveryReport, type Messenger } from "../../src/index.js";
import { startGateway, type TestGateway } from "../harness/gateway.js";
import { type MockModelServer, startMockModel } from "../harness/mock-model.js";
import { gatewayRequest, type HistoryMessage, textOf } from "../harness/oracle.js";
import { sessionsSendOnly } from "../harness/race-config.ts";
import { testLog } from "../harness/secrets-watch.js";

// The race suite: what the Gateway does with an accepted `sessions.send` under load (steered into a
// turn that ends, dropped past its follow-up cap, interrupted), against one real Gateway under load.
// `RACE_SCALE` (the soak: `npm run soak`) runs that many rounds, each in a session of its own (one
// session of 500 messages slows every turn to its transcript's size), with a CPU hog beside them.
const ROUNDS = Math.max(1, Math.round(Number(process.env.RACE_SCALE ?? 1)));
const PACED_PER_SENDER = 12;
// Past the Gateway's follow-up cap (20): it drops some after its ack.
const BURST = 26;
/** How long each sender waits for the evidence; the target runs about one turn a second or two under the hog. */
const SETTLE_MS = 240_000;
/** What every round found, for the soak's closing line. */
const totals = { messages: 0, lostByGateway: 0, redelivered: 0, lost: 0, twice: 0 };

let mock: MockModelServer;
let gateway: TestGateway;
let scratch: string;
let hog: ChildProcess | undefined;

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), "oii-race-"));
  mock = await startMockModel();
  gateway = await startGateway({ modelBaseUrl: mock.url, name: "race" });
  // The races show under load, not on a quiet machine. In `npm test` the other worker's Gateways are
  // the load; the soak (and RACE_HOG=1) also keeps one core busy for the whole file.
  if (ROUNDS > 1 || process.env.RACE_HOG === "1") hog = spawn(process.execPath, ["-e", "for (;;) {}"], { stdio: "ignore" });
});

afterAll(async () => {
  if (ROUNDS > 1)
    process.stderr.write(
      `soak: ${ROUNDS} rounds, ${totals.messages} messages; lost by the Gateway after its ack ${totals.lostByGateway}, redelivered ${totals.redelivered}; in the end lost ${totals.lost}, shown twice ${totals.twice}\n`,
    );
  hog?.kill("SIGKILL");
  await gateway?.dispose();
  await mock?.close();
  await rm(scratch, { recursive: true, force: true });
});

function sender(name: string, sessionKey: string, maxQueued: number, round: number): Messenger {
  return createMessenger({
    config: sessionsSendOnly(gateway, { stateDir: join(scratch, `${name}-${round}`), sessionKey, maxQueued }),
    log: process.env.RACE_DEBUG
      ? { level: "debug", destination: { write: (line: string) => (/could not ask|given up/u.test(line) ? process.stderr.write(`race log: ${line}`) : true) } }
      : testLog(),
  });
}

/** Every row of the session, paged back to its first (the newest 1,000 alone may not hold them all). */
async function wholeTranscript(sessionKey: string): Promise<HistoryMessage[]> {
  const rows: HistoryMessage[] = [];
  let offset: number | undefined = 0;
  while (offset !== undefined) {
    const page: { messages: HistoryMessage[]; hasMore?: boolean; nextOffset?: number } = await gatewayRequest(
      gateway,
      "chat.history",
      { sessionKey, limit: 1000, offset },
      60_000,
    );
    rows.unshift(...page.messages);
    offset = page.hasMore ? page.nextOffset : undefined;
  }
  return rows;
}

/** How many user rows carry each envelope as the message itself (a queue-overflow summary only quotes its first line). */
function copiesIn(rows: readonly HistoryMessage[]): (id: string) => number {
  const texts = rows.filter((row) => row.role === "user" && !textOf(row.content).startsWith("[Queue overflow]")).map((row) => textOf(row.content));
  return (id) => texts.filter((text) => text.includes(`via openclaw-inter-instance, id ${id}]`)).length;
}

describe("accepted is not delivered: the sender settles each message on the target's evidence", () => {
  it.each(Array.from({ length: ROUNDS }, (_, round) => round))(
    `${2 * PACED_PER_SENDER + BURST} messages (round %i) from three senders, the owner's own turns between them, and a burst past the queue cap: each in the transcript exactly once, every report and track true`,
    async (round) => {
      const sessionKey = `agent:main:race-${randomUUID().slice(0, 8)}`;
      await gatewayRequest(gateway, "sessions.create", { key: sessionKey });
      const paced = [sender("paced-a", sessionKey, 10, round), sender("paced-b", sessionKey, 10, round)];
      // Unpaced: the whole burst at once, past the Gateway's follow-up cap of 20, where it drops messages after its ack.
      const burster = sender("burst", sessionKey, 10_000, round);
      let sending = true;
      // The owner talks in the same session meanwhile: turns from another source, between ours.
      const owner = (async () => {
        for (let turn = 0; sending; turn += 1) {
          await gatewayRequest(gateway, "chat.send", { sessionKey, message: `owner note ${turn}`, idempotencyKey: `owner-${randomUUID()}` }).catch(
            () => undefined,
          );
          await delay(8_000);
        }
      })();
      try {
        const started = performance.now();
        const sendPaced = async (link: Messenger, name: string): Promise<DeliveryReport[]> => {
          const reports: DeliveryReport[] = [];
          for (let index = 0; index < PACED_PER_SENDER; index += 1) {
            reports.push(await link.send({ to: "xiaom", body: `${name} ${index}` }));
            if (process.env.RACE_DEBUG) process.stderr.write(`race: ${name} ${index} ${Math.round(performance.now() - started)} ms\n`);
            // Irregular gaps: some sends land as a turn ends.
            await delay((index * 37) % 120);
          }
          return reports;
        };
        const burst = () => Promise.all(Array.from({ length: BURST }, (_, index) => burster.send({ to: "xiaom", body: `burst ${index}` })));
        const [a, b, c] = await Promise.all([sendPaced(paced[0]!, "paced-a"), sendPaced(paced[1]!, "paced-b"), burst()]);
        const sent = [...a, ...b, ...c];
        process.stderr.write(`race: ${sent.length} accepted in ${Math.round((performance.now() - started) / 1000)} s\n`);
        expect(sent.every((report) => report.status === "accepted")).toBe(true);

        // Each sender settles what it sent, as a one-shot `send --settle` or the outbox service would.
        const settled = (
          await Promise.all([
            paced[0]!.outbox.settle(a, { timeoutMs: SETTLE_MS }),
            paced[1]!.outbox.settle(b, { timeoutMs: SETTLE_MS }),
            burster.outbox.settle(c, { timeoutMs: SETTLE_MS }),
          ])
        ).flat();
        sending = false;
        await owner;
        if (process.env.RACE_DEBUG)
          for (const report of settled.filter((candidate) => candidate.status !== "delivered" || candidate.followUp?.some((step) => step.action)))
            process.stderr.write(
              `race: ${report.id} ${report.status} ${JSON.stringify(report.followUp?.map((step) => [step.found, step.action, step.reason]))}\n`,
            );
        const statuses = Map.groupBy(settled, (report) => report.status);
        const redelivered = settled.flatMap((report) => report.followUp ?? []).filter((step) => step.action === "redelivered").length;
        // What the Gateway alone did: messages it acked and then did not give its agent (each found lost at least once).
        const lostByGateway = settled.filter((report) => report.followUp?.some((step) => step.found === "lost")).length;
        const copies = copiesIn(await wholeTranscript(sessionKey));
        const twice = settled.filter((report) => copies(report.id) > 1).length;
        const missing = settled.filter((report) => copies(report.id) === 0).length;
        totals.messages += settled.length;
        totals.lostByGateway += lostByGateway;
        totals.redelivered += redelivered;
        totals.lost += missing;
        totals.twice += twice;
        process.stderr.write(
          `race: ${settled.length} messages in ${Math.round((performance.now() - started) / 1000)} s; ${[...statuses].map(([status, reports]) => `${reports.length} ${status}`).join(", ")}; ` +
            `lost by the Gateway after its ack ${lostByGateway}, redelivered ${redelivered}; in the end lost ${missing}, shown twice ${twice}\n`,
        );
        expect(
          settled
            .filter((report) => report.status !== "delivered")
            .map((report) => `${report.id}: ${report.status} ${JSON.stringify(report.followUp?.at(-1))}`),
        ).toEqual([]);
        expect(settled.filter((report) => copies(report.id) !== 1).map((report) => `${report.id}: ${copies(report.id)} copies`)).toEqual([]);
        // The race is real: a burst past the cap makes the Gateway drop accepted messages, which only the follow-up brought back.
        expect(lostByGateway).toBeGreaterThan(0);

        // track agrees, live from the target, once every turn has run (a message in the session until its turn, then delivered).
        for (const [link, reports] of [
          [paced[0]!, a],
          [paced[1]!, b],
          [burster, c],
        ] as const) {
          // A flush follows up each accepted one: delivered once its turn ran.
          await expect.poll(async () => (await link.outbox.flush(), (await link.outbox.waiting()).followingUp), { timeout: 120_000, interval: 2_000 }).toBe(0);
          const tracked = await Promise.all(reports.slice(0, 20).map(async (report) => (await link.track(report.id))[0]?.state));
          expect(tracked.every((state) => state === "delivered" || state === "answered")).toBe(true);
        }
      } finally {
        sending = false;
        await owner;
        await Promise.all([...paced, burster].map((link) => link.close()));
      }
    },
    420_000,
  );
});
