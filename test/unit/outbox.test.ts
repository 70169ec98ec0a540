import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Dispatcher, Outbox } from "../../src/core.js";
import {
  APPLIES,
  createEnvelope,
  type DeliveryContext,
  type Envelope,
  FatalError,
  InstanceRegistry,
  parseConfig,
  type Receipt,
  type Transport,
  UnavailableError,
} from "../../src/index.js";
import { silentLogger } from "../harness/silent-logger.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "oii-outbox-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const envelope = (to: string, body: string, id: string) => createEnvelope({ from: "xiaoa", to, body, id });

describe("Outbox", () => {
  it("moves deliveries recorded by an older outbox (keyed by id alone) into the current table", async () => {
    const { DatabaseSync } = await import("node:sqlite");
    const path = join(dir, "old.sqlite");
    const old = new DatabaseSync(path);
    old.exec("CREATE TABLE delivered (id TEXT PRIMARY KEY, target TEXT NOT NULL, via TEXT NOT NULL, status TEXT NOT NULL, delivered_at TEXT NOT NULL)");
    old.prepare("INSERT INTO delivered VALUES (?, ?, ?, ?, ?)").run("env-old-1", "xiaom", "memory_file", "written", "2026-11-01T00:00:00.000Z");
    old.close();
    const outbox = await Outbox.open(path);
    expect(outbox.delivery("env-old-1", "xiaom")).toEqual({ target: "xiaom", via: "memory_file", status: "written", deliveredAt: "2026-11-01T00:00:00.000Z" });
    expect(outbox.written()).toHaveLength(1);
    outbox.recordDelivery("env-old-1", "xiaob", "sessions_send", "accepted", { status: "accepted", detail: {} });
    expect(outbox.delivery("env-old-1", "xiaom")?.via).toBe("memory_file");
    outbox.close();
  });

  it("keeps envelopes across reopen, once per id, in arrival order", async () => {
    const first = await Outbox.open(join(dir, "outbox.sqlite"));
    expect(first.enqueue(envelope("xiaom", "one", "env-00000001"), "down")).toBe(true);
    expect(first.enqueue(envelope("xiaom", "two", "env-00000002"), "down")).toBe(true);
    expect(first.enqueue(envelope("xiaom", "one again", "env-00000001"), "down")).toBe(false);
    first.close();
    const reopened = await Outbox.open(join(dir, "outbox.sqlite"));
    expect(reopened.list().map((q) => [q.envelope.id, q.envelope.body])).toEqual([
      ["env-00000001", "one"],
      ["env-00000002", "two"],
    ]);
    reopened.markDelivered("env-00000001", "sessions_send", "accepted", { status: "accepted", detail: { runId: "r1" } });
    expect(reopened.list().map((q) => q.envelope.id)).toEqual(["env-00000002"]);
    expect(reopened.delivery("env-00000001", "xiaom")).toMatchObject({ via: "sessions_send", status: "accepted", receipt: { detail: { runId: "r1" } } });
    reopened.markFailed("env-00000002", "still down", new Date(Date.now() + 60_000));
    expect(reopened.list({ dueBy: new Date() })).toEqual([]);
    expect(reopened.list()[0]).toMatchObject({ attempts: 1, lastError: "still down" });
    reopened.close();
  });
});

class Switchable implements Transport {
  readonly id = "sessions_send" as const;
  up = false;
  delivered: string[] = [];
  applies() {
    return APPLIES;
  }
  async deliver(env: Envelope, _context: DeliveryContext): Promise<Receipt> {
    if (env.body.startsWith("poison")) throw new FatalError("rejected", { code: "INVALID_REQUEST" });
    if (!this.up) throw new UnavailableError("down", { code: "UNREACHABLE" });
    this.delivered.push(env.id);
    return { status: "accepted", detail: {} };
  }
}

function setup() {
  const registry = new InstanceRegistry(
    parseConfig({
      self: { name: "xiaoa" },
      defaults: { circuitCooldownMs: 0 },
      instances: { xiaom: { transports: ["sessions_send"] }, xiaob: { transports: ["sessions_send"] } },
    }),
    {},
  );
  const transport = new Switchable();
  let outbox: Promise<Outbox> | undefined;
  const open = () => (outbox ??= Outbox.open(join(dir, "outbox.sqlite")));
  const logger = silentLogger();
  return { transport, open, dispatcher: new Dispatcher({ registry, transports: [transport], logger, outbox: open }) };
}

describe("Dispatcher with an outbox", () => {
  it("queues what no transport could deliver and says so", async () => {
    const { dispatcher, open } = setup();
    const report = await dispatcher.send({ to: "xiaom", body: "hello", id: "queued-0001" });
    expect(report).toMatchObject({ ok: false, status: "queued" });
    expect((await open()).list().map((q) => q.envelope.id)).toEqual(["queued-0001"]);
  });

  it("does not queue a message a transport refused as fatal", async () => {
    const { dispatcher, open } = setup();
    const report = await dispatcher.send({ to: "xiaom", body: "poison pill", id: "fatal-00001" });
    expect(report.status).toBe("failed");
    expect((await open()).list()).toEqual([]);
  });

  it("flushes in arrival order per target once the path is back", async () => {
    const { dispatcher, transport, open } = setup();
    for (const [to, id] of [
      ["xiaom", "m-000001"],
      ["xiaob", "b-000001"],
      ["xiaom", "m-000002"],
      ["xiaom", "m-000003"],
    ] as const) {
      await dispatcher.send({ to, body: `to ${to}`, id });
    }
    expect(await dispatcher.flush()).toHaveLength(2); // one failure per target blocks the rest of that target
    expect((await open()).list().every((q) => q.attempts === 1 || q.attempts === 0)).toBe(true);
    transport.up = true;
    const reports = await dispatcher.flush({ all: true });
    expect(reports.every((r) => r.ok)).toBe(true);
    expect(transport.delivered).toEqual(["m-000001", "b-000001", "m-000002", "m-000003"]);
    expect((await open()).list()).toEqual([]);
    expect(await dispatcher.flush({ all: true })).toEqual([]);
  });
});

describe("accepted envelopes kept for follow-up", () => {
  it("keeps the envelope of an accepted delivery only, and lets go of it after the follow-up window", async () => {
    const outbox = await Outbox.open(join(dir, "outbox.sqlite"));
    try {
      const dayAgo = new Date(Date.now() - 25 * 60 * 60 * 1000);
      outbox.recordDelivery("env-accepted-old", "xiaom", "sessions_send", "accepted", undefined, dayAgo, envelope("xiaom", "old", "env-accepted-old"));
      outbox.recordDelivery("env-accepted-new", "xiaom", "sessions_send", "accepted", undefined, new Date(), envelope("xiaom", "new", "env-accepted-new"));
      outbox.recordDelivery("env-written-new", "xiaom", "memory_file", "written", undefined, new Date(), envelope("xiaom", "note", "env-written-new"));
      const window = new Date(Date.now() - 24 * 60 * 60 * 1000);
      expect(outbox.awaitingFollowUp(window).map((row) => row.envelope.body)).toEqual(["new"]);
      // The old body is gone, not just filtered out: a wider window finds nothing more.
      expect(outbox.awaitingFollowUp(new Date(0)).map((row) => row.envelope.body)).toEqual(["new"]);
    } finally {
      outbox.close();
    }
  });
});
