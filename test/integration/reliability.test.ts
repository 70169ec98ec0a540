import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createMessenger } from "../../src/index.js";
import { freePort, startGateway, type TestGateway } from "../harness/gateway.js";
import { type MockModelServer, startMockModel } from "../harness/mock-model.js";
import { gatewayRequest, readHistory, readMemoryEntries, readUserTexts, textOf } from "../harness/oracle.js";
import { sessionsSendOnly } from "../harness/race-config.ts";
import { testLog } from "../harness/secrets-watch.js";
import { startTcpProxy } from "../harness/tcp-proxy.js";

let mock: MockModelServer;
let gateway: TestGateway;
let scratch: string;

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), "oii-reliability-"));
  mock = await startMockModel();
  gateway = await startGateway({ modelBaseUrl: mock.url, name: "reliable" });
});

afterAll(async () => {
  await gateway?.dispose();
  await mock?.close();
  await rm(scratch, { recursive: true, force: true });
});

async function shownCount(marker: string): Promise<number> {
  return (await readHistory(gateway)).filter((m) => m.role === "user" && textOf(m.content).includes(marker)).length;
}

describe("ambiguous outcomes", () => {
  it("a send whose answer is lost is found in the target session, not sent again through the fallback", async () => {
    const proxy = await startTcpProxy(gateway.port);
    const client = createMessenger({
      config: {
        self: { name: "xiaoa" },
        stateDir: join(scratch, "ambiguous"),
        defaults: { retries: 0 },
        instances: {
          xiaom: {
            gateway: { url: proxy.url, token: gateway.token },
            workspace: gateway.workspace,
            transports: ["sessions_send", "memory_file"],
            timeouts: { sessions_send: 3000 },
          },
        },
      },
      log: testLog(),
    });
    try {
      expect((await client.send({ to: "xiaom", body: "connects first" })).via).toBe("sessions_send");
      proxy.swallowResponses();
      const marker = `answer-lost-${randomUUID()}`;
      const report = await client.send({ to: "xiaom", body: marker });
      expect(report.attempts).toHaveLength(1);
      expect(report.attempts[0]).toMatchObject({ transport: "sessions_send", checked: "landed" });
      expect(report).toMatchObject({ ok: true, via: "sessions_send" });
      expect((await readMemoryEntries(gateway.workspace)).filter((e) => e.body === marker)).toHaveLength(0);
      await expect.poll(() => shownCount(marker), { timeout: 60_000, interval: 1000 }).toBe(1);
    } finally {
      await client.close();
      await proxy.close();
    }
  });
});

function runOutboxClient(args: string[]): { kill: () => void; lines: string[]; done: Promise<number | null> } {
  const child = spawn(process.execPath, [join(import.meta.dirname, "..", "fixtures", "outbox-client.mjs"), ...args], { stdio: ["ignore", "pipe", "pipe"] });
  const lines: string[] = [];
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => lines.push(...chunk.toString().split("\n").filter(Boolean)));
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const done = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  void done.then((code) => {
    if (code !== 0 && code !== null) process.stderr.write(`outbox client ${args[0]} exited ${code}: ${stderr}\n`);
  });
  return { kill: () => child.kill("SIGKILL"), lines, done };
}

describe("durable outbox", () => {
  it("envelopes queued while the target is down survive a SIGKILL mid-flush and arrive exactly once", async () => {
    const stateDir = join(scratch, "crash-client");
    const deadUrl = `ws://127.0.0.1:${await freePort()}`;
    const count = 12;
    const sender = runOutboxClient(["send", deadUrl, gateway.token, stateDir, String(count)]);
    expect(await sender.done).toBe(0);
    expect(sender.lines).toHaveLength(count);
    expect(sender.lines.every((line) => line.endsWith(" queued"))).toBe(true);

    // Flush against the live Gateway, killed with SIGKILL after a few deliveries.
    const first = runOutboxClient(["flush", gateway.url, gateway.token, stateDir]);
    await expect.poll(() => first.lines.length, { timeout: 60_000, interval: 20 }).toBeGreaterThanOrEqual(3);
    first.kill();
    await first.done;
    expect(first.lines.length).toBeLessThan(count);

    const second = runOutboxClient(["flush", gateway.url, gateway.token, stateDir]);
    expect(await second.done).toBe(0);
    // No count of printed lines here: the kill can land after a delivery is recorded and before its
    // line is printed. The transcript below is what counts.

    // Which crash-test bodies the session's user rows carry, one entry per copy. A row can hold several:
    // OpenClaw collects messages queued behind a busy turn into one row (counting rows saw 11 of 12).
    const arrived = async () =>
      (await readHistory(gateway, "agent:main:main", 500))
        .filter((m) => m.role === "user" && !textOf(m.content).startsWith("[Queue overflow]"))
        .flatMap((m) => [...textOf(m.content).matchAll(/crash test (\d+)(?!\d)/gu)].map((match) => Number(match[1])))
        .sort((a, b) => a - b);
    const each = Array.from({ length: count }, (_, index) => index);
    await expect
      .poll(arrived, { timeout: 90_000, interval: 1000 })
      .toEqual(each)
      .catch(() => undefined);
    // What each flusher said it did, beside what the target has, when they disagree: every body exactly once.
    expect(await arrived(), `first flusher:\n${first.lines.join("\n")}\nsecond flusher:\n${second.lines.join("\n")}`).toEqual(each);

    const after = createMessenger({ config: { self: { name: "crasher" }, stateDir, instances: { xiaom: {} } }, log: testLog() });
    expect(await after.outbox.list()).toEqual([]);
    await after.close();
    // The second flusher settles what it sent before it leaves (each of 12 turns under load): more than the default 120 s.
  }, 300_000);
});

describe("bursts into one busy session", () => {
  const count = 50;

  /** Sends `count` messages at once into a session of their own; returns the ids in send order. */
  async function burst(sessionKey: string, maxQueued: number): Promise<string[]> {
    await gatewayRequest(gateway, "sessions.create", { key: sessionKey });
    const client = createMessenger({
      config: sessionsSendOnly(gateway, { stateDir: join(scratch, `burst-${maxQueued}`), sessionKey, maxQueued }),
      log: testLog(),
    });
    try {
      const reports = await Promise.all(Array.from({ length: count }, (_, i) => client.send({ to: "xiaom", body: `burst ${i}` })));
      expect(reports.filter((r) => r.via !== "sessions_send")).toEqual([]);
      return reports.map((r) => r.id);
    } finally {
      await client.close();
    }
  }

  /**
   * Which sent ids are in the session's user rows as messages of their own, in transcript order (a
   * collected turn can hold several). The row OpenClaw folds dropped messages into ("[Queue
   * overflow] Dropped N messages…", which may quote them) does not count.
   */
  async function arrivedInOrder(sessionKey: string, ids: readonly string[]): Promise<string[]> {
    const rows = (await readHistory(gateway, sessionKey, 1000))
      .filter((m) => m.role === "user")
      .map((m) => textOf(m.content))
      .filter((row) => !row.includes("[Queue overflow]"));
    return rows.flatMap((row) => ids.filter((id) => row.includes(`id ${id}]`)).sort((a, b) => row.indexOf(a) - row.indexOf(b)));
  }

  const queueIdle = async (sessionKey: string) =>
    (await gatewayRequest<{ pendingInputs?: { total?: number } }>(gateway, "chat.history", { sessionKey, limit: 1 })).pendingInputs?.total ?? 0;

  it("50 sends at once, paced under the target's queue cap: every one in the transcript, once, in order", async () => {
    const sessionKey = "agent:main:burst-paced";
    const ids = await burst(sessionKey, 10);
    await expect.poll(async () => (await arrivedInOrder(sessionKey, ids)).length, { timeout: 180_000, interval: 2000 }).toBe(count);
    await expect.poll(() => queueIdle(sessionKey), { timeout: 60_000, interval: 1000 }).toBe(0);
    expect(await arrivedInOrder(sessionKey, ids)).toEqual(ids);
  }, 300_000);

  // The control: the same burst with pacing turned off overflows OpenClaw's queue (cap 20), which
  // folds the oldest messages into a summary. This is what the pacing above prevents.
  it("without pacing, the same burst loses messages inside the target Gateway", async () => {
    const sessionKey = "agent:main:burst-unpaced";
    const ids = await burst(sessionKey, 10_000);
    await expect.poll(() => queueIdle(sessionKey), { timeout: 180_000, interval: 1000 }).toBe(0);
    const rows = (await readHistory(gateway, sessionKey, 1000)).map((m) => textOf(m.content));
    expect(rows.some((row) => row.includes("[Queue overflow]"))).toBe(true);
    expect((await arrivedInOrder(sessionKey, ids)).length).toBeLessThan(count);
  }, 300_000);
});

// Last in this file: it kills and restarts the shared Gateway.
describe("a target Gateway killed in the middle of a burst", () => {
  it("what it had accepted but not run is found interrupted and sent again by the next flush: every message once", async () => {
    const sessionKey = "agent:main:killed";
    await gatewayRequest(gateway, "sessions.create", { key: sessionKey });
    const client = createMessenger({
      config: {
        self: { name: "xiaoa" },
        stateDir: join(scratch, "killed"),
        // No cooldown: once the Gateway is back, the redeliveries go to the session again.
        defaults: { retries: 1, circuitCooldownMs: 0 },
        instances: {
          xiaom: {
            gateway: { url: gateway.url, token: gateway.token },
            sessionKey,
            workspace: gateway.workspace,
            transports: ["sessions_send", "memory_file"],
            timeouts: { sessions_send: 5000 },
          },
        },
      },
      log: testLog(),
    });
    try {
      // Each turn takes 1.5 s at the mock model, so most of the burst waits in the session's queue.
      const sends = Array.from({ length: 12 }, (_, i) => client.send({ to: "xiaom", body: `killed burst ${i} SLOW:1500` }));
      const pendingIn = async (state: string) =>
        (
          (await gatewayRequest<{ pendingInputs?: { items?: { state?: string }[] } }>(gateway, "chat.history", { sessionKey, limit: 100 })).pendingInputs
            ?.items ?? []
        ).filter((item) => item.state === state).length;
      await expect.poll(() => pendingIn("queued"), { timeout: 30_000, interval: 100 }).toBeGreaterThanOrEqual(3);
      process.kill(gateway.pid!, "SIGKILL");
      const reports = await Promise.all(sends);
      expect(reports.every((report) => report.ok)).toBe(true);
      const accepted = reports.filter((report) => report.via === "sessions_send");
      expect(accepted.length).toBeGreaterThanOrEqual(3);
      await gateway.start();

      expect(await pendingIn("interrupted")).toBeGreaterThan(0);
      // Flushed again and again, as the plugin's outbox service does: the restarted Gateway may
      // settle what it holds only after a first look. A redelivery may also go by the memory file.
      const copiesOf = async () => {
        const transcript = (await readUserTexts(gateway, sessionKey)).join("\u0000");
        const notes = await readMemoryEntries(gateway.workspace);
        return (id: string) => transcript.split(`id ${id}]`).length - 1 + notes.filter((entry) => entry.id === id).length;
      };
      const everyOnce = async () => {
        await client.outbox.flush({ all: true });
        const copies = await copiesOf();
        return reports.map((report) => `${report.id} (first via ${report.via}): ${copies(report.id)}`);
      };
      await expect.poll(everyOnce, { timeout: 150_000, interval: 3000 }).toEqual(reports.map((report) => `${report.id} (first via ${report.via}): 1`));
      // The next flush sees them run and stops following them up.
      await client.outbox.flush({ all: true });
      expect((await client.outbox.list()).length).toBe(0);
    } finally {
      await client.close();
    }
  }, 300_000);
});
