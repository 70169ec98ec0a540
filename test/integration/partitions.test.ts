import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEFAULT_HANDSHAKE_BUDGET_MS, LinkLatency } from "../../src/gateway/link-latency.js";
import type { ConfigInput, DeliveryReport, Messenger } from "../../src/index.js";
import { approvedMessenger } from "../harness/approval.js";
import type { TestGateway } from "../harness/gateway.js";
import { type Host, hostsOrSkip } from "../harness/netns.js";
import { readMemoryEntries, readUserTexts } from "../harness/oracle.js";
import { type GatewayOnHost, startGatewayOnHost } from "../harness/remote-gateway.js";
import { startTcpProxy } from "../harness/tcp-proxy.js";

// Bad links between two machines: Gateway B in its own namespace, bound to its LAN side
// (plaintext, a private address), reached from this process across the link. A partition is
// `ip link set … down`; a link that drops silently, or a slow one, is a userspace proxy on the path.
const run = await hostsOrSkip("partitions.test.ts");

let remote: GatewayOnHost;
let b: Host;
let gatewayB: TestGateway;
let scratch: string;

beforeAll(async () => {
  if (!run) return;
  scratch = await mkdtemp(join(tmpdir(), "oii-partitions-"));
  remote = await startGatewayOnHost({ name: "xiaom-partitions", gateway: { bind: "lan" } });
  ({ host: b, gateway: gatewayB } = remote);
}, 240_000);

afterAll(async () => {
  await remote?.dispose();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

/** A client of B's through `url` (B itself or a proxy in front of it), its device approved on B once. */
function pairedMessenger(name: string, url: string, overrides: Partial<ConfigInput["instances"][string]> = {}): Promise<Messenger> {
  const config: ConfigInput = {
    self: { name: "xiaoa" },
    stateDir: join(scratch, name),
    defaults: { retries: 1 },
    instances: {
      xiaom: {
        gateway: { url, token: gatewayB.token },
        workspace: gatewayB.workspace,
        timeZone: "UTC",
        transports: ["sessions_send", "memory_file"],
        timeouts: { sessions_send: 4_000 },
        ...overrides,
      },
    },
  };
  return approvedMessenger(config, { host: b, gateway: gatewayB });
}

/** For each id: how often it is at B, in the transcript (by its header line) and in the memory file together. */
async function copiesAtB(ids: readonly string[]): Promise<Map<string, number>> {
  const transcript = (await readUserTexts(gatewayB, "agent:main:main", 1000)).join("\n");
  const entries = await readMemoryEntries(gatewayB.workspace);
  return new Map(ids.map((id) => [id, transcript.split(`id ${id}]`).length - 1 + entries.filter((entry) => entry.id === id).length]));
}

async function flushUntilEmpty(link: Messenger, rounds = 10): Promise<DeliveryReport[]> {
  const reports: DeliveryReport[] = [];
  for (let round = 0; round < rounds && (await link.outbox.list()).length > 0; round += 1) {
    reports.push(...(await link.outbox.flush({ all: true })));
    if ((await link.outbox.list()).length > 0) await new Promise((resolve) => setTimeout(resolve, 2000));
  }
  return reports;
}

describe.skipIf(!run)("partitions and bad links", () => {
  it("ip link set down in the middle of a burst of 30, up 20 s later: after flushing, every message is at B exactly once", async () => {
    const link = await pairedMessenger("burst", gatewayB.url);
    try {
      const reports: DeliveryReport[] = [];
      let healed: Promise<void> | undefined;
      for (let n = 1; n <= 30; n += 1) {
        if (n === 11) {
          await b.linkDown();
          healed = new Promise((resolve) => setTimeout(() => void b.linkUp().then(resolve), 20_000));
        }
        reports.push(await link.send({ to: "xiaom", body: `burst ${n} of 30` }));
      }
      await healed;
      const during = reports.slice(10);
      // Cut off: the one in flight waits for sessions_send (it may have landed), the rest went by the memory file at once.
      expect(during.filter((r) => r.status === "queued").every((r) => r.unsettledOn === "sessions_send")).toBe(true);
      expect(during.filter((r) => r.via === "memory_file").length).toBeGreaterThanOrEqual(15);
      await flushUntilEmpty(link);
      expect(await link.outbox.list()).toEqual([]);
      const ids = reports.map((r) => r.id);
      await expect.poll(async () => [...(await copiesAtB(ids)).values()].filter((count) => count !== 1).length, { timeout: 60_000, interval: 2000 }).toBe(0);
    } finally {
      await link.close();
    }
  }, 180_000);

  it("a link that drops silently: the timeout is classified, the circuit opens, later messages skip it in milliseconds, the unsettled one arrives once after heal", async () => {
    const proxy = await startTcpProxy(gatewayB.port, { targetHost: b.address });
    const link = await pairedMessenger("silent", proxy.url);
    try {
      expect(await link.send({ to: "xiaom", body: "warm-up before the drop" })).toMatchObject({ ok: true, via: "sessions_send" });
      proxy.blackhole();
      const first = await link.send({ to: "xiaom", body: "first into the silence" });
      expect(first.attempts[0]).toMatchObject({ transport: "sessions_send", outcome: "timeout" });
      expect(first).toMatchObject({ status: "queued", unsettledOn: "sessions_send" });
      const started = performance.now();
      const later = await link.send({ to: "xiaom", body: "after the circuit opened" });
      const laterMs = performance.now() - started;
      expect(later).toMatchObject({ ok: true, via: "memory_file" });
      expect(later.attempts[0]?.skippedBecause).toMatch(/circuit open: TIMEOUT/u);
      expect(laterMs).toBeLessThan(500);
      proxy.heal();
      await flushUntilEmpty(link);
      expect(await link.outbox.list()).toEqual([]);
      // Accepted is not yet in the transcript: the row is written once the turn starts.
      await expect.poll(async () => [...(await copiesAtB([first.id, later.id])).values()], { timeout: 30_000, interval: 1000 }).toEqual([1, 1]);
    } finally {
      await link.close();
      await proxy.close();
    }
  }, 120_000);

  it("the first message of a new process over a silently dropping link waits a handshake budget learned from the link, not 10 s, before the fallback delivers it", async () => {
    const proxy = await startTcpProxy(gatewayB.port, { targetHost: b.address });
    try {
      // An attempt longer than any handshake budget (at most the default), so the handshake budget is what gives up.
      const attemptLongerThanBudget = { timeouts: { sessions_send: DEFAULT_HANDSHAKE_BUDGET_MS + 2_000 } };
      const warm = await pairedMessenger("cold-start", proxy.url, attemptLongerThanBudget);
      expect(await warm.send({ to: "xiaom", body: "learns the round trip" })).toMatchObject({ ok: true });
      await warm.close();
      proxy.blackhole();
      // What the first process learned, as the second one reads it from the state dir they share.
      const budgetMs = new LinkLatency(join(scratch, "cold-start")).handshakeBudgetMs(proxy.url);
      expect(budgetMs).toBeLessThan(DEFAULT_HANDSHAKE_BUDGET_MS);
      const cold = await pairedMessenger("cold-start", proxy.url, attemptLongerThanBudget);
      const started = performance.now();
      const report = await cold.send({ to: "xiaom", body: "first message of a fresh process" });
      const elapsed = performance.now() - started;
      await cold.close();
      expect(report).toMatchObject({ ok: true, via: "memory_file" });
      expect(report.attempts[0]?.error).toMatchObject({ code: "HANDSHAKE_TIMEOUT" });
      // The handshake gave up at the learned budget, well before the default; what follows is the memory file's append.
      expect(elapsed).toBeGreaterThanOrEqual(budgetMs - 50);
      expect(elapsed).toBeLessThan(budgetMs + 2_000);
    } finally {
      proxy.heal();
      await proxy.close();
    }
  }, 120_000);

  it("a slow link (150 ms each way): sends succeed within their timeouts", async () => {
    const proxy = await startTcpProxy(gatewayB.port, { targetHost: b.address, delayMs: 150 });
    const link = await pairedMessenger("slow", proxy.url);
    try {
      for (let n = 1; n <= 3; n += 1) {
        const started = performance.now();
        const report = await link.send({ to: "xiaom", body: `over a slow link ${n}` });
        expect(report, JSON.stringify(report.attempts)).toMatchObject({ ok: true, via: "sessions_send" });
        expect(performance.now() - started).toBeGreaterThan(300);
      }
    } finally {
      await link.close();
      await proxy.close();
    }
  }, 120_000);
});
