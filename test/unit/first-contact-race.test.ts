// The race of a first contact (issue 32 item 4): a transport on a link never seen gets a head start,
// then the next transports run alongside; the delivery gate lets one path at a time send, and none
// after one delivered. Fake transports stand for the handshake and the send; the real link is
// bench/two-machines.ts scenario 8 (a Gateway behind a TCP proxy that drops silently).
import { setTimeout as delay } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import { DeliveryGate } from "../../src/core/dispatch/delivery-gate.js";
import { Dispatcher } from "../../src/core.js";
import {
  APPLIES,
  type DeliveryContext,
  type Envelope,
  InstanceRegistry,
  parseConfig,
  type Receipt,
  type Transport,
  type TransportId,
  UnavailableError,
} from "../../src/index.js";
import { silentLogger } from "../harness/silent-logger.js";

const silent = silentLogger();
const HEAD_START_MS = 40;

/** Rejects when the signal aborts; never resolves otherwise. */
const abortable = (signal: AbortSignal, ms = Number.POSITIVE_INFINITY): Promise<void> =>
  new Promise((resolve, reject) => {
    if (signal.aborted) return reject(signal.reason);
    const timer = Number.isFinite(ms) ? setTimeout(resolve, ms) : undefined;
    signal.addEventListener("abort", () => (clearTimeout(timer), reject(signal.reason)), { once: true });
  });

interface Step {
  /** How long the handshake takes; Infinity: a link that drops silently. */
  readonly handshakeMs: number;
  /** How long the target takes to answer once the message left. */
  readonly answerMs?: number;
  /** The answer, after the message left: taken unless this throws. */
  readonly refuse?: () => Error;
}

/** A transport with a handshake: it claims its turn after the handshake, as sessions_send does. */
class HandshakeTransport implements Transport {
  calls = 0;
  /** Messages that left this host through it. */
  sent = 0;
  aborted = false;
  constructor(
    readonly id: TransportId,
    private readonly step: Step,
    private readonly headStart: number | undefined,
  ) {}
  applies() {
    return APPLIES;
  }
  headStartMs() {
    return this.headStart;
  }
  async deliver(_envelope: Envelope, context: DeliveryContext): Promise<Receipt> {
    this.calls += 1;
    context.signal.addEventListener("abort", () => (this.aborted = true), { once: true });
    await abortable(context.signal, this.step.handshakeMs);
    await context.claim?.();
    this.sent += 1;
    await abortable(context.signal, this.step.answerMs ?? 0);
    if (this.step.refuse) throw this.step.refuse();
    return { status: "accepted", detail: {} };
  }
}

/** The same with a probe that answers after `probeMs` (Infinity: never, as a link that drops silently). */
class ProbedTransport extends HandshakeTransport {
  probes = 0;
  probeAborted = false;
  constructor(
    step: Step,
    headStart: number,
    private readonly probeMs: number,
  ) {
    super("sessions_send", step, headStart);
  }
  async probe(_instance: unknown, signal: AbortSignal): Promise<string> {
    this.probes += 1;
    signal.addEventListener("abort", () => (this.probeAborted = true), { once: true });
    await abortable(signal, this.probeMs);
    return "answered";
  }
}

/** A fallback without a handshake (a file, a local spool): it sends as soon as it runs. */
class DirectTransport implements Transport {
  calls = 0;
  startedAt: number | undefined;
  constructor(
    readonly id: TransportId,
    private readonly workMs = 0,
    private readonly failWith?: () => Error,
  ) {}
  applies() {
    return APPLIES;
  }
  async deliver(_envelope: Envelope, context: DeliveryContext): Promise<Receipt> {
    this.calls += 1;
    this.startedAt = performance.now();
    await abortable(context.signal, this.workMs);
    if (this.failWith) throw this.failWith();
    return { status: "written", detail: {} };
  }
}

function dispatcher(transports: Transport[], timeoutMs = 5_000) {
  const order = transports.map((transport) => transport.id);
  const registry = new InstanceRegistry(
    parseConfig({
      self: { name: "xiaoa" },
      defaults: { retries: 0 },
      instances: { xiaom: { transports: order, timeouts: Object.fromEntries(order.map((id) => [id, timeoutMs])) } },
    }),
    {},
  );
  return new Dispatcher({ registry, transports, logger: silent, retryMinTimeoutMs: 1 });
}

const refused = () => new UnavailableError("refused", { code: "UNREACHABLE" });

describe("first contact over a link never seen", () => {
  it("starts the fallback after the head start when the handshake hangs, and stops the handshake once the fallback delivered", async () => {
    const top = new HandshakeTransport("sessions_send", { handshakeMs: Number.POSITIVE_INFINITY }, HEAD_START_MS);
    const fallback = new DirectTransport("memory_file");
    const started = performance.now();
    const report = await dispatcher([top, fallback]).send({ to: "xiaom", body: "hi" });
    const ms = performance.now() - started;
    expect(report).toMatchObject({ ok: true, via: "memory_file", status: "written" });
    // Well before the top's 5 s attempt timeout: the head start, then the fallback.
    expect(ms).toBeGreaterThanOrEqual(HEAD_START_MS - 5);
    expect(ms).toBeLessThan(1_000);
    expect(fallback.startedAt! - started).toBeGreaterThanOrEqual(HEAD_START_MS - 5);
    expect(top.aborted).toBe(true);
    expect(top.sent).toBe(0);
    expect(report.attempts.find((a) => a.transport === "sessions_send")).toMatchObject({
      outcome: "skipped",
      skippedBecause: expect.stringContaining("first contact"),
    });
  });

  it("uses the top transport alone when its handshake answers within the head start", async () => {
    const top = new HandshakeTransport("sessions_send", { handshakeMs: 5 }, HEAD_START_MS);
    const fallback = new DirectTransport("memory_file");
    const report = await dispatcher([top, fallback]).send({ to: "xiaom", body: "hi" });
    expect(report).toMatchObject({ ok: true, via: "sessions_send" });
    expect(fallback.calls).toBe(0);
    expect(top.sent).toBe(1);
  });

  it("goes on to the next transport at once when the top fails within the head start", async () => {
    const top = new HandshakeTransport("sessions_send", { handshakeMs: 0, refuse: refused }, HEAD_START_MS);
    const fallback = new DirectTransport("memory_file");
    const report = await dispatcher([top, fallback]).send({ to: "xiaom", body: "hi" });
    expect(report).toMatchObject({ ok: true, via: "memory_file" });
    expect(report.attempts.map((a) => [a.transport, a.outcome])).toEqual([
      ["sessions_send", "unavailable"],
      ["memory_file", "written"],
    ]);
  });

  it("a handshake that completes while the fallback sends waits, and never sends once the fallback delivered", async () => {
    // Handshake done at 60 ms, while the fallback (started at 40 ms) is still writing until 140 ms.
    const top = new HandshakeTransport("sessions_send", { handshakeMs: 60 }, HEAD_START_MS);
    const fallback = new DirectTransport("memory_file", 100);
    const report = await dispatcher([top, fallback]).send({ to: "xiaom", body: "hi" });
    expect(report).toMatchObject({ ok: true, via: "memory_file" });
    expect(top.sent).toBe(0);
    expect(fallback.calls).toBe(1);
  });

  it("the other path waits for the answer of a top that has sent, and does not send when the top delivered", async () => {
    // At 40 ms the middle transport runs (and fails at 140 ms); the top's handshake ends at 60 ms and
    // waits for the middle one, then sends; the last transport waits for the top's answer.
    const top = new HandshakeTransport("sessions_send", { handshakeMs: 60, answerMs: 80 }, HEAD_START_MS);
    const middle = new DirectTransport("agent_cli", 100, refused);
    const last = new DirectTransport("memory_file");
    const report = await dispatcher([top, middle, last]).send({ to: "xiaom", body: "hi" });
    expect(report).toMatchObject({ ok: true, via: "sessions_send" });
    expect(top.sent).toBe(1);
    expect(middle.calls).toBe(1);
    expect(last.calls).toBe(0);
  });

  it("the other path delivers when the top's answer after sending is a refusal", async () => {
    const top = new HandshakeTransport("sessions_send", { handshakeMs: 60, answerMs: 40, refuse: refused }, HEAD_START_MS);
    const middle = new DirectTransport("agent_cli", 100, refused);
    const last = new DirectTransport("memory_file");
    const report = await dispatcher([top, middle, last]).send({ to: "xiaom", body: "hi" });
    expect(report).toMatchObject({ ok: true, via: "memory_file" });
    expect(top.sent).toBe(1);
    expect(last.calls).toBe(1);
  });

  it("waits for the top when every other path failed", async () => {
    const top = new HandshakeTransport("sessions_send", { handshakeMs: 150 }, HEAD_START_MS);
    const fallback = new DirectTransport("memory_file", 0, refused);
    const report = await dispatcher([top, fallback]).send({ to: "xiaom", body: "hi" });
    expect(report).toMatchObject({ ok: true, via: "sessions_send" });
    expect(top.sent).toBe(1);
  });

  it("probes a path stopped in its handshake: a dead one opens its circuit, so later messages skip it instead of each waiting out the head start", async () => {
    const top = new ProbedTransport({ handshakeMs: Number.POSITIVE_INFINITY }, HEAD_START_MS, Number.POSITIVE_INFINITY);
    const fallback = new DirectTransport("memory_file");
    // The probe is bounded by the top's attempt timeout.
    const link = dispatcher([top, fallback], 150);
    try {
      const first = await link.send({ to: "xiaom", body: "first" });
      expect(first).toMatchObject({ ok: true, via: "memory_file" });
      await expect.poll(() => link.route("xiaom").via, { timeout: 2_000, interval: 10 }).toBe("memory_file");
      expect(top.probes).toBe(1);
      const started = performance.now();
      const later = await link.send({ to: "xiaom", body: "later" });
      expect(performance.now() - started).toBeLessThan(HEAD_START_MS);
      expect(later).toMatchObject({ ok: true, via: "memory_file" });
      expect(later.attempts[0]).toMatchObject({ transport: "sessions_send", outcome: "skipped", skippedBecause: expect.stringContaining("circuit open") });
      expect(top.calls).toBe(1);
    } finally {
      await link.close();
    }
  });

  it("a path stopped in its handshake that answers the probe stays in use", async () => {
    const top = new ProbedTransport({ handshakeMs: Number.POSITIVE_INFINITY }, HEAD_START_MS, 5);
    const link = dispatcher([top, new DirectTransport("memory_file")], 150);
    try {
      await link.send({ to: "xiaom", body: "first" });
      await expect.poll(() => top.probes, { timeout: 2_000, interval: 10 }).toBe(1);
      await delay(200);
      expect(link.route("xiaom").via).toBe("sessions_send");
    } finally {
      await link.close();
    }
  });

  it("close stops a probe still running", async () => {
    const top = new ProbedTransport({ handshakeMs: Number.POSITIVE_INFINITY }, HEAD_START_MS, Number.POSITIVE_INFINITY);
    const link = dispatcher([top, new DirectTransport("memory_file")], 60_000);
    await link.send({ to: "xiaom", body: "first" });
    await expect.poll(() => top.probes, { timeout: 2_000, interval: 10 }).toBe(1);
    const closing = performance.now();
    await link.close();
    expect(top.probeAborted).toBe(true);
    expect(performance.now() - closing).toBeLessThan(1_000);
  });

  it("does not race a link with history: the transport is tried alone within its own budget", async () => {
    const top = new HandshakeTransport("sessions_send", { handshakeMs: 150 }, undefined);
    const fallback = new DirectTransport("memory_file");
    const report = await dispatcher([top, fallback]).send({ to: "xiaom", body: "hi" });
    expect(report).toMatchObject({ ok: true, via: "sessions_send" });
    expect(fallback.calls).toBe(0);
  });
});

describe("DeliveryGate", () => {
  it("lets one path in at a time, re-entrant for the holder", async () => {
    const gate = new DeliveryGate();
    expect(await gate.enter("a")).toBe(true);
    expect(await gate.enter("a")).toBe(true);
    let bIn: boolean | undefined;
    const b = gate.enter("b").then((entered) => (bIn = entered));
    await delay(5);
    expect(bIn).toBeUndefined();
    gate.leave("a", false);
    await b;
    expect(bIn).toBe(true);
  });

  it("turns every other path away once one settled the delivery, and says who did at once", async () => {
    const closedBy: string[] = [];
    const gate = new DeliveryGate((by) => closedBy.push(by));
    await gate.enter("a");
    const b = gate.enter("b");
    gate.leave("a", true);
    expect(closedBy).toEqual(["a"]);
    expect(await b).toBe(false);
    expect(await gate.enter("c")).toBe(false);
    expect(gate.settled).toBe(true);
  });

  it("ignores a leave from a path that does not hold it", async () => {
    const gate = new DeliveryGate();
    await gate.enter("a");
    gate.leave("b", true);
    expect(gate.settled).toBe(false);
    expect(await gate.enter("a")).toBe(true);
  });
});
