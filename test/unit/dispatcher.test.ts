import { mkdtempSync, rmSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it, vi } from "vitest";
import { CircuitBreaker, Dispatcher, Outbox } from "../../src/core.js";
import type { DeliveryReport, DispatcherOptions } from "../../src/index.js";
import {
  APPLIES,
  type DeliveryContext,
  type Envelope,
  FatalError,
  type FollowUp,
  InstanceRegistry,
  notApplicable,
  parseConfig,
  type Receipt,
  TransientError,
  type Transport,
  type TransportId,
  UnavailableError,
  ValidationError,
} from "../../src/index.js";
import { silentLogger } from "../harness/silent-logger.js";

const silent = silentLogger();

type Behaviour = (call: number, context: DeliveryContext) => Promise<Receipt>;

class FakeTransport implements Transport {
  calls = 0;
  declare confirm?: NonNullable<Transport["confirm"]>;
  signals: AbortSignal[] = [];
  constructor(
    readonly id: TransportId,
    private readonly behaviour: Behaviour,
    private readonly applicable = true,
  ) {}
  applies() {
    return this.applicable ? APPLIES : notApplicable("not configured in this fake");
  }
  deliver(_envelope: Envelope, context: DeliveryContext): Promise<Receipt> {
    this.calls += 1;
    this.signals.push(context.signal);
    return this.behaviour(this.calls, context);
  }
}

const ok =
  (status: Receipt["status"] = "accepted"): Behaviour =>
  async () => ({ status, detail: {} });
const fail =
  (error: Error): Behaviour =>
  async () => {
    throw error;
  };

function dispatcherWith(
  transports: FakeTransport[],
  order: TransportId[],
  extra: {
    retries?: number;
    timeouts?: Partial<Record<TransportId, number>>;
    circuitBreaker?: CircuitBreaker;
    outbox?: () => Promise<Outbox>;
    onLost?: DispatcherOptions["onLost"];
  } = {},
) {
  const registry = new InstanceRegistry(
    parseConfig({
      self: { name: "xiaoa" },
      defaults: { retries: extra.retries ?? 2 },
      instances: { xiaom: { aliases: ["小m"], transports: order, ...(extra.timeouts ? { timeouts: extra.timeouts } : {}) }, xiaob: { transports: order } },
    }),
    {},
  );
  return new Dispatcher({
    registry,
    transports,
    logger: silent,
    retryMinTimeoutMs: 1,
    ...(extra.circuitBreaker ? { circuitBreaker: extra.circuitBreaker } : {}),
    ...(extra.outbox ? { outbox: extra.outbox } : {}),
    ...(extra.onLost ? { onLost: extra.onLost } : {}),
  });
}

describe("Dispatcher", () => {
  it("uses the first transport that delivers and reports it", async () => {
    const first = new FakeTransport("sessions_send", ok());
    const second = new FakeTransport("memory_file", ok("written"));
    const report = await dispatcherWith([first, second], ["sessions_send", "memory_file"]).send({ to: "小m", body: "hi" });
    expect(report).toMatchObject({ ok: true, status: "accepted", via: "sessions_send", to: "xiaom" });
    expect(report.attempts).toHaveLength(1);
    expect(second.calls).toBe(0);
  });

  it("retries transient failures, bounded, then falls back", async () => {
    const flaky = new FakeTransport("sessions_send", fail(new TransientError("reset", { code: "CONNECTION_DROPPED" })));
    const fallback = new FakeTransport("memory_file", ok("written"));
    const report = await dispatcherWith([flaky, fallback], ["sessions_send", "memory_file"], { retries: 3 }).send({ to: "xiaom", body: "hi" });
    expect(flaky.calls).toBe(4);
    expect(report.attempts.map((a) => [a.transport, a.outcome, a.tries])).toEqual([
      ["sessions_send", "transient", 4],
      ["memory_file", "written", 1],
    ]);
  });

  it("recovers when a retry of a transient failure succeeds", async () => {
    const flaky = new FakeTransport("sessions_send", async (call) => {
      if (call < 2) throw new TransientError("busy");
      return { status: "accepted", detail: {} };
    });
    const report = await dispatcherWith([flaky], ["sessions_send"]).send({ to: "xiaom", body: "hi" });
    expect(report.attempts).toEqual([expect.objectContaining({ transport: "sessions_send", outcome: "accepted", tries: 2 })]);
  });

  it("does not retry an unavailable transport", async () => {
    const refused = new FakeTransport("sessions_send", fail(new UnavailableError("no", { code: "AUTH_FAILED", hint: "fix the token" })));
    const fallback = new FakeTransport("memory_file", ok("written"));
    const report = await dispatcherWith([refused, fallback], ["sessions_send", "memory_file"]).send({ to: "xiaom", body: "hi" });
    expect(refused.calls).toBe(1);
    expect(report.attempts[0]).toMatchObject({ outcome: "unavailable", error: { class: "unavailable", code: "AUTH_FAILED", hint: "fix the token" } });
  });

  it("stops at a fatal failure", async () => {
    const bad = new FakeTransport("sessions_send", fail(new FatalError("body rejected", { code: "INVALID_REQUEST" })));
    const fallback = new FakeTransport("memory_file", ok("written"));
    const report = await dispatcherWith([bad, fallback], ["sessions_send", "memory_file"]).send({ to: "xiaom", body: "hi" });
    expect(report).toMatchObject({ ok: false, status: "failed" });
    expect(fallback.calls).toBe(0);
  });

  it("cuts a hanging transport at its timeout, aborts its work, and moves on", async () => {
    const hanging = new FakeTransport("sessions_send", (_call, context) => new Promise<Receipt>(() => void context.signal));
    const fallback = new FakeTransport("memory_file", ok("written"));
    const report = await dispatcherWith([hanging, fallback], ["sessions_send", "memory_file"], { timeouts: { sessions_send: 50 } }).send({
      to: "xiaom",
      body: "hi",
    });
    expect(report.attempts.map((a) => a.outcome)).toEqual(["timeout", "written"]);
    expect(hanging.calls).toBe(1);
    expect(hanging.signals[0]?.aborted).toBe(true);
    expect(report.attempts[0]?.error?.code).toBe("TIMEOUT");
  });

  it("skips transports that do not apply or are not registered, and says why", async () => {
    const notConfigured = new FakeTransport("sessions_send", ok(), false);
    const fallback = new FakeTransport("memory_file", ok("written"));
    const report = await dispatcherWith([notConfigured, fallback], ["sessions_send", "agent_cli", "memory_file"]).send({ to: "xiaom", body: "hi" });
    expect(report.attempts.map((a) => [a.transport, a.outcome, a.skippedBecause])).toEqual([
      ["sessions_send", "skipped", "not configured in this fake"],
      ["agent_cli", "skipped", "no agent_cli transport is registered"],
      ["memory_file", "written", undefined],
    ]);
  });

  it("reports failure with every attempt when nothing delivers", async () => {
    const a = new FakeTransport("sessions_send", fail(new UnavailableError("down")));
    const b = new FakeTransport("memory_file", fail(new Error("unexpected bug")));
    const report = await dispatcherWith([a, b], ["sessions_send", "memory_file"]).send({ to: "xiaom", body: "hi" });
    expect(report).toMatchObject({ ok: false, status: "failed" });
    expect(report.attempts.map((x) => [x.outcome, x.error?.code])).toEqual([
      ["unavailable", "ERROR"],
      ["unavailable", "UNCLASSIFIED"],
    ]);
  });

  it("honours the transport order given per call", async () => {
    const a = new FakeTransport("sessions_send", ok());
    const b = new FakeTransport("memory_file", ok("written"));
    const report = await dispatcherWith([a, b], ["sessions_send", "memory_file"]).send({ to: "xiaom", body: "hi" }, { transports: ["memory_file"] });
    expect(report.via).toBe("memory_file");
    expect(a.calls).toBe(0);
  });

  it("close: the owner's own closing runs while the transports say goodbye, and a failure of either is still thrown", async () => {
    const events: string[] = [];
    let goodbyeAnswered = () => {};
    const slow = Object.assign(new FakeTransport("sessions_send", ok()), {
      close: () => {
        events.push("transport closing");
        return new Promise<void>((resolve) => {
          goodbyeAnswered = () => {
            events.push("transport closed");
            resolve();
          };
        });
      },
    });
    const closing = dispatcherWith([slow], ["sessions_send"]).close(async () => {
      events.push("outbox and audit closed");
      goodbyeAnswered();
    });
    await closing;
    expect(events).toEqual(["transport closing", "outbox and audit closed", "transport closed"]);

    const broken = Object.assign(new FakeTransport("sessions_send", ok()), { close: async () => Promise.reject(new Error("socket already gone")) });
    let ownersClosed = false;
    await expect(
      dispatcherWith([broken], ["sessions_send"]).close(async () => {
        ownersClosed = true;
      }),
    ).rejects.toThrow("socket already gone");
    expect(ownersClosed).toBe(true);
  });

  it("starts the first transport's handshake before its own work, and never for bad input or an open circuit", async () => {
    const events: string[] = [];
    const first = Object.assign(new FakeTransport("sessions_send", fail(new UnavailableError("refused", { code: "UNREACHABLE" }))), {
      prepare: (instance: { name: string }) => void events.push(`prepare ${instance.name}`),
    });
    const second = Object.assign(new FakeTransport("memory_file", ok("written")), { prepare: () => void events.push("prepare memory_file") });
    const dir = mkdtempSync(join(tmpdir(), "oii-prepare-"));
    let opened: Outbox | undefined;
    try {
      const outbox = async () => {
        events.push("outbox");
        return (opened ??= await Outbox.open(join(dir, "outbox.sqlite")));
      };
      const dispatcher = dispatcherWith([first, second], ["sessions_send", "memory_file"], { outbox, circuitBreaker: new CircuitBreaker(30_000) });
      await expect(dispatcher.send({ to: "xiaom", body: "" })).rejects.toBeInstanceOf(ValidationError);
      expect(events).toEqual([]);
      await dispatcher.send({ to: "xiaom", body: "hi" });
      expect(events).toEqual(["prepare xiaom", "outbox"]);
      // sessions_send refused, so its circuit is open: the next send does not start its handshake.
      events.length = 0;
      await dispatcher.send({ to: "xiaom", body: "again" });
      expect(events).toEqual(["outbox"]);
      await dispatcher.send({ to: "xiaom", body: "by file" }, { transports: ["memory_file"] });
      expect(events).toEqual(["outbox", "prepare memory_file", "outbox"]);
    } finally {
      opened?.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("rejects bad input before any transport runs", async () => {
    const a = new FakeTransport("sessions_send", ok());
    const dispatcher = dispatcherWith([a], ["sessions_send"]);
    await expect(dispatcher.send({ to: "xiaom", body: "" })).rejects.toBeInstanceOf(ValidationError);
    await expect(dispatcher.send({ to: "nobody", body: "hi" })).rejects.toThrow(/No instance is called "nobody"/u);
    expect(a.calls).toBe(0);
  });

  it("stops when the caller aborts", async () => {
    const hanging = new FakeTransport(
      "sessions_send",
      (_call, context) => new Promise<Receipt>((_resolve, reject) => context.signal.addEventListener("abort", () => reject(context.signal.reason))),
    );
    const controller = new AbortController();
    const pending = dispatcherWith([hanging], ["sessions_send"]).send({ to: "xiaom", body: "hi" }, { signal: controller.signal });
    setTimeout(() => controller.abort(new Error("caller gave up")), 20);
    await expect(pending).rejects.toThrow("caller gave up");
    expect(hanging.signals[0]?.aborted).toBe(true);
  });

  it("answers a resend of a delivered id from its record, for the same target only, also after a restart", async () => {
    const dir = mkdtempSync(join(tmpdir(), "oii-repeat-"));
    const path = join(dir, "outbox.sqlite");
    try {
      const transport = new FakeTransport("sessions_send", async (call) => ({ status: "accepted", detail: { call } }));
      const outbox = await Outbox.open(path);
      const dispatcher = dispatcherWith([transport], ["sessions_send"], { outbox: async () => outbox });
      const first = await dispatcher.send({ to: "xiaom", body: "hi", id: "env-repeat-1" });
      const again = await dispatcher.send({ to: "小m", body: "hi", id: "env-repeat-1" });
      expect(transport.calls).toBe(1);
      expect(again).toMatchObject({
        ok: true,
        via: "sessions_send",
        attempts: [],
        receipt: { detail: { call: 1 } },
        repeatOf: { deliveredAt: expect.any(String) },
      });
      expect(first.repeatOf).toBeUndefined();
      // The id names one message to one target; the same id to another target is another delivery.
      await dispatcher.send({ to: "xiaob", body: "hi", id: "env-repeat-1" });
      expect(transport.calls).toBe(2);
      outbox.close();
      const reopened = await Outbox.open(path);
      const afterRestart = await dispatcherWith([transport], ["sessions_send"], { outbox: async () => reopened }).send({
        to: "xiaom",
        body: "hi",
        id: "env-repeat-1",
      });
      expect(afterRestart.repeatOf).toBeDefined();
      expect(transport.calls).toBe(2);
      reopened.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("records nothing for a failed send, so the next try really sends", async () => {
    const dir = mkdtempSync(join(tmpdir(), "oii-repeat-"));
    try {
      const outbox = await Outbox.open(join(dir, "outbox.sqlite"));
      const flaky = new FakeTransport("sessions_send", async (call) => {
        if (call === 1) throw new UnavailableError("down", { code: "UNREACHABLE" });
        return { status: "accepted", detail: {} };
      });
      const dispatcher = dispatcherWith([flaky], ["sessions_send"], { outbox: async () => outbox, circuitBreaker: new CircuitBreaker(0) });
      expect((await dispatcher.send({ to: "xiaom", body: "hi", id: "env-repeat-2" }, { queue: false })).ok).toBe(false);
      const second = await dispatcher.send({ to: "xiaom", body: "hi", id: "env-repeat-2" });
      expect(second).toMatchObject({ ok: true, attempts: [{ outcome: "accepted" }] });
      expect(flaky.calls).toBe(2);
      outbox.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a look into the target that runs out of time is taken once more, with twice the time, before the attempt counts as unchecked", async () => {
    vi.useFakeTimers({ toFake: ["setTimeout", "clearTimeout"] });
    try {
      const session = new FakeTransport("sessions_send", fail(new TransientError("connection dropped mid-request", { code: "CONNECTION_DROPPED" })));
      const looks: number[] = [];
      session.confirm = (_envelope, context) => {
        looks.push(Date.now());
        // The first look hangs (a loaded target); the second answers.
        if (looks.length === 1) return new Promise((_resolve, reject) => context.signal.addEventListener("abort", () => reject(context.signal.reason)));
        return Promise.resolve({ landed: true, receipt: { status: "accepted", detail: {} } });
      };
      const file = new FakeTransport("memory_file", ok("written"));
      const dispatcher = dispatcherWith([session, file], ["sessions_send", "memory_file"], { retries: 0 });
      const sent = dispatcher.send({ to: "xiaom", body: "answer lost on a loaded machine", id: "env-slow-look-1" });
      await vi.advanceTimersByTimeAsync(10_000);
      const report = await sent;
      expect(looks).toHaveLength(2);
      expect(report).toMatchObject({ ok: true, via: "sessions_send" });
      expect(report.attempts).toEqual([expect.objectContaining({ transport: "sessions_send", checked: "landed" })]);
      expect(file.calls).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });

  it("a send that got no answer and could not be checked is not handed to another transport: queued for the same one, which the target de-duplicates", async () => {
    const dir = mkdtempSync(join(tmpdir(), "oii-unsettled-"));
    try {
      const outbox = await Outbox.open(join(dir, "outbox.sqlite"));
      let reachable = false;
      const session = new FakeTransport("sessions_send", async () => {
        if (!reachable) throw new TransientError("connection dropped mid-request", { code: "CONNECTION_DROPPED" });
        return { status: "accepted", detail: {} };
      });
      session.confirm = async () => {
        if (!reachable) throw new Error("no answer");
        return { landed: false, reason: "not found" };
      };
      const file = new FakeTransport("memory_file", ok("written"));
      const dispatcher = dispatcherWith([session, file], ["sessions_send", "memory_file"], {
        outbox: async () => outbox,
        circuitBreaker: new CircuitBreaker(0),
        retries: 0,
      });
      const report = await dispatcher.send({ to: "xiaom", body: "in flight when the link went", id: "env-unsettled-1" });
      expect(report).toMatchObject({ ok: false, status: "queued", unsettledOn: "sessions_send" });
      expect(report.attempts.map((a) => a.transport)).toEqual(["sessions_send"]);
      expect(file.calls).toBe(0);
      expect(outbox.list()[0]).toMatchObject({ pinnedTo: "sessions_send" });
      // Still cut off: the flush tries only sessions_send, never the memory file.
      await dispatcher.flush({ all: true });
      expect(file.calls).toBe(0);
      // Back, and the target says it has no such message: the pin goes, and the next flush delivers it once.
      reachable = true;
      session.deliver = async () => {
        throw new TransientError("dropped", { code: "CONNECTION_DROPPED" });
      };
      await dispatcher.flush({ all: true });
      expect(outbox.list()[0]?.pinnedTo).toBeUndefined();
      const [last] = await dispatcher.flush({ all: true });
      expect(last).toMatchObject({ ok: true, via: "memory_file" });
      expect(file.calls).toBe(1);
      outbox.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  describe("circuit breaker", () => {
    it("skips a transport that just failed as unavailable, then tries it again after the cool-down", async () => {
      let now = 1_000_000;
      const breaker = new CircuitBreaker(30_000, () => now);
      const down = new FakeTransport("sessions_send", fail(new UnavailableError("refused", { code: "UNREACHABLE" })));
      const fallback = new FakeTransport("memory_file", ok("written"));
      const dispatcher = dispatcherWith([down, fallback], ["sessions_send", "memory_file"], { circuitBreaker: breaker });
      await dispatcher.send({ to: "xiaom", body: "1" });
      const second = await dispatcher.send({ to: "xiaom", body: "2" });
      expect(down.calls).toBe(1);
      expect(second.attempts[0]).toMatchObject({
        transport: "sessions_send",
        outcome: "skipped",
        skippedBecause: expect.stringMatching(/^circuit open: UNREACHABLE/u),
      });
      now += 30_001;
      await dispatcher.send({ to: "xiaom", body: "3" });
      expect(down.calls).toBe(2);
    });

    it("does not open on a transient or fatal failure", async () => {
      const breaker = new CircuitBreaker(30_000);
      breaker.record("xiaom", "sessions_send", { ok: false, failureClass: "transient", code: "X" });
      breaker.record("xiaom", "sessions_send", { ok: false, failureClass: "fatal", code: "X" });
      expect(breaker.state("xiaom", "sessions_send").open).toBe(false);
      breaker.record("xiaom", "sessions_send", { ok: false, failureClass: "timeout", code: "TIMEOUT" });
      expect(breaker.state("xiaom", "sessions_send").open).toBe(true);
      breaker.record("xiaom", "sessions_send", { ok: true });
      expect(breaker.state("xiaom", "sessions_send").open).toBe(false);
    });

    it("still tries circuit-open transports when every other path fails", async () => {
      const breaker = new CircuitBreaker(30_000);
      breaker.record("xiaom", "sessions_send", { ok: false, failureClass: "unavailable", code: "UNREACHABLE" });
      const recovered = new FakeTransport("sessions_send", ok());
      const broken = new FakeTransport("memory_file", fail(new UnavailableError("disk full", { code: "DISK_FULL" })));
      const report = await dispatcherWith([recovered, broken], ["sessions_send", "memory_file"], { circuitBreaker: breaker }).send({ to: "xiaom", body: "x" });
      expect(report.attempts.map((a) => [a.transport, a.outcome])).toEqual([
        ["sessions_send", "skipped"],
        ["memory_file", "unavailable"],
        ["sessions_send", "accepted"],
      ]);
      expect(report.via).toBe("sessions_send");
    });
  });
});

describe("Dispatcher.probe", () => {
  class ProbedTransport extends FakeTransport {
    probes = 0;
    constructor(
      id: TransportId,
      behaviour: Behaviour,
      private readonly probeResult: () => Promise<string>,
    ) {
      super(id, behaviour);
    }
    probe(): Promise<string> {
      this.probes += 1;
      return this.probeResult();
    }
  }

  it("reports each transport's probe, and a failed probe makes the next message skip that transport", async () => {
    const dead = new ProbedTransport("sessions_send", ok(), async () => {
      throw new UnavailableError("Gateway not reachable", { code: "UNREACHABLE" });
    });
    const alive = new ProbedTransport("memory_file", ok("written"), async () => "workspace writable");
    const dispatcher = dispatcherWith([dead, alive], ["sessions_send", "memory_file", "a2a"]);
    const results = await dispatcher.probe("小m");
    expect(results).toMatchObject([
      { transport: "sessions_send", ok: false, error: { class: "unavailable", code: "UNREACHABLE" } },
      { transport: "memory_file", ok: true, detail: "workspace writable" },
      { transport: "a2a", ok: false, skippedBecause: "no a2a transport is registered" },
    ]);
    const report = await dispatcher.send({ to: "xiaom", body: "after the probe" });
    expect(report.attempts[0]).toMatchObject({ transport: "sessions_send", outcome: "skipped", tries: 0 });
    expect(report.attempts[0]?.skippedBecause).toMatch(/probe failed: UNREACHABLE/u);
    expect(dead.calls).toBe(0);
    expect(report.via).toBe("memory_file");
  });

  it("a probe that hangs is cut at its timeout and counts as dead", async () => {
    const hanging = new ProbedTransport("sessions_send", ok(), () => new Promise<string>(() => {}));
    const dispatcher = dispatcherWith([hanging], ["sessions_send"], { timeouts: { sessions_send: 50 } });
    const [result] = await dispatcher.probe("xiaom");
    expect(result).toMatchObject({ transport: "sessions_send", ok: false, error: { class: "timeout" } });
  });

  it("a passing probe closes a circuit a failed send had opened", async () => {
    let healthy = false;
    const flaky = new ProbedTransport(
      "sessions_send",
      async () => {
        if (!healthy) throw new UnavailableError("down", { code: "UNREACHABLE" });
        return { status: "accepted", detail: {} };
      },
      async () => "up again",
    );
    const dispatcher = dispatcherWith([flaky], ["sessions_send"]);
    expect((await dispatcher.send({ to: "xiaom", body: "one" })).ok).toBe(false);
    expect((await dispatcher.send({ to: "xiaom", body: "two" })).attempts.at(-1)).toMatchObject({ outcome: "unavailable" });
    healthy = true;
    await dispatcher.probe("xiaom");
    const report = await dispatcher.send({ to: "xiaom", body: "three" });
    expect(report.attempts).toHaveLength(1);
    expect(report).toMatchObject({ ok: true, via: "sessions_send" });
  });
});

describe("following up accepted envelopes", () => {
  /** A session transport whose target says, on follow-up, what the test tells it to. */
  class FollowedTransport extends FakeTransport {
    followUps: FollowUp["status"][] = [];
    delivered: Envelope[] = [];
    constructor(private readonly answers: FollowUp[]) {
      super("sessions_send", async () => ({ status: "accepted", detail: {} }));
    }
    override deliver(envelope: Envelope, context: DeliveryContext): Promise<Receipt> {
      this.delivered.push(envelope);
      return super.deliver(envelope, context);
    }
    async followUp(): Promise<FollowUp> {
      const answer = this.answers.shift() ?? { status: "waiting" };
      this.followUps.push(answer.status);
      return answer;
    }
  }

  async function withOutbox(work: (outbox: Outbox, path: string) => Promise<void>): Promise<void> {
    const dir = mkdtempSync(join(tmpdir(), "oii-follow-up-"));
    const path = join(dir, "outbox.sqlite");
    const outbox = await Outbox.open(path);
    try {
      await work(outbox, path);
    } finally {
      outbox.close();
      rmSync(dir, { recursive: true, force: true });
    }
  }

  it("settle: a send that waits for the evidence is redelivered at once when lost and reported delivered, each look in the report", async () => {
    await withOutbox(async (outbox) => {
      const transport = new FollowedTransport([
        { status: "waiting", custody: "queued" },
        { status: "lost", reason: "interrupted" },
        { status: "waiting", custody: "in session" },
      ]);
      const dispatcher = dispatcherWith([transport], ["sessions_send"], { outbox: async () => outbox });
      const report = await dispatcher.send({ to: "xiaom", body: "hi" }, { settleMs: 30_000 });
      expect(report).toMatchObject({ ok: true, status: "delivered", via: "sessions_send" });
      expect(report.followUp?.map((step) => [step.found, step.action ?? ""])).toEqual([
        ["queued", ""],
        ["lost", "redelivered"],
        ["in session", ""],
      ]);
      expect(transport.delivered.map((envelope) => [envelope.id, envelope.redelivery])).toEqual([
        [report.id, undefined],
        [report.id, 1],
      ]);
    });
  });

  it("settle keeps to its time: a pass over many slow looks stops at the deadline, and what it did not reach stays accepted", async () => {
    await withOutbox(async (outbox) => {
      class SlowLooks extends FollowedTransport {
        override async followUp(): Promise<FollowUp> {
          await new Promise((resolve) => setTimeout(resolve, 200));
          return super.followUp();
        }
      }
      const transport = new SlowLooks([]);
      const dispatcher = dispatcherWith([transport], ["sessions_send"], { outbox: async () => outbox });
      const reports = await Promise.all(Array.from({ length: 20 }, (_, index) => dispatcher.send({ to: "xiaom", body: `slow ${index}` })));
      const started = performance.now();
      const settled = await dispatcher.settle(reports, { timeoutMs: 500 });
      // 20 looks of 200 ms each would take 4 s; at most the look in hand finishes after the deadline.
      expect(performance.now() - started).toBeLessThan(1_500);
      expect(transport.followUps.length).toBeLessThan(8);
      expect(settled.every((report) => report.status === "accepted")).toBe(true);
    });
  });

  it("settleAll: a one-shot flusher settles what an earlier process had accepted and left (killed before it settled)", async () => {
    await withOutbox(async (outbox, path) => {
      const earlier = dispatcherWith([new FollowedTransport([])], ["sessions_send"], { outbox: async () => outbox });
      const left = await earlier.send({ to: "xiaom", body: "accepted, then its sender died" });
      expect(left.status).toBe("accepted");
      const again = await Outbox.open(path);
      try {
        const transport = new FollowedTransport([{ status: "lost", reason: "interrupted" }, { status: "delivered" }]);
        const flusher = dispatcherWith([transport], ["sessions_send"], { outbox: async () => again });
        // Its flush follows up first: the target lost it, so it goes again (still only accepted).
        const flushed = await flusher.flush({ all: true });
        expect(flushed.map((report) => [report.id, report.status, report.followUp?.[0]?.action])).toEqual([[left.id, "accepted", "redelivered"]]);
        const [settled, ...rest] = await flusher.settleAll({ timeoutMs: 30_000 });
        expect(rest).toEqual([]);
        expect(settled).toMatchObject({ id: left.id, status: "delivered", ok: true });
        expect(settled?.followUp?.map((step) => step.found)).toEqual(["delivered"]);
        expect(transport.delivered.map((envelope) => [envelope.id, envelope.redelivery])).toEqual([[left.id, 1]]);
        expect(await flusher.settleAll({ timeoutMs: 1_000 })).toEqual([]);
      } finally {
        again.close();
      }
    });
  });

  it("settle: what is still unsettled at the deadline stays accepted, for the next flush", async () => {
    await withOutbox(async (outbox) => {
      const transport = new FollowedTransport([]);
      const dispatcher = dispatcherWith([transport], ["sessions_send"], { outbox: async () => outbox });
      const report = await dispatcher.send({ to: "xiaom", body: "hi" }, { settleMs: 600 });
      expect(report.status).toBe("accepted");
      expect(report.followUp?.every((step) => step.found === "not settled")).toBe(true);
      expect((await dispatcher.waiting()).followingUp).toBe(1);
    });
  });

  it("a message lost again and again is redelivered a bounded number of times, then lost for good and the owner told", async () => {
    await withOutbox(async (outbox) => {
      const lost = (reason: string): FollowUp => ({ status: "lost", reason });
      const transport = new FollowedTransport([lost("interrupted"), lost("cancelled"), lost("overflow"), lost("interrupted"), { status: "delivered" }]);
      const told: DeliveryReport[] = [];
      const dispatcher = dispatcherWith([transport], ["sessions_send"], { outbox: async () => outbox, onLost: (_envelope, report) => told.push(report) });
      const report = await dispatcher.send({ to: "xiaom", body: "hi" }, { settleMs: 30_000 });
      expect(report).toMatchObject({ ok: false, status: "lost" });
      expect(report.followUp?.at(-1)).toMatchObject({ found: "lost", action: "given up", reason: expect.stringContaining("not sent again") });
      expect(transport.delivered.map((envelope) => envelope.redelivery)).toEqual([undefined, 1, 2, 3]);
      expect(outbox.delivery(report.id, "xiaom")).toMatchObject({ status: "lost", note: expect.stringContaining("interrupted") });
      expect(told).toHaveLength(1);
      // Lost for good is not followed up again.
      await dispatcher.flush();
      expect(transport.followUps).toHaveLength(4);
    });
  });

  it("two flushers on one outbox file send each envelope once, in order per target", async () => {
    await withOutbox(async (outbox, path) => {
      let down = true;
      const sent: string[] = [];
      const behaviour: Behaviour = async () => {
        if (down) throw new UnavailableError("down", { code: "DOWN" });
        await new Promise((resolve) => setTimeout(resolve, 5));
        return { status: "delivered", detail: {} };
      };
      class Recording extends FakeTransport {
        override deliver(envelope: Envelope, context: DeliveryContext): Promise<Receipt> {
          return super.deliver(envelope, context).then((receipt) => (sent.push(envelope.body), receipt));
        }
      }
      const first = dispatcherWith([new Recording("sessions_send", behaviour)], ["sessions_send"], { outbox: async () => outbox });
      for (let index = 0; index < 20; index += 1) expect((await first.send({ to: "xiaom", body: `m${index}` })).status).toBe("queued");
      const second = await Outbox.open(path);
      try {
        const other = dispatcherWith([new Recording("sessions_send", behaviour)], ["sessions_send"], { outbox: async () => second });
        down = false;
        const [a, b] = await Promise.all([first.flush({ all: true }), other.flush({ all: true })]);
        expect(a.length + b.length).toBe(20);
        expect(sent).toEqual(Array.from({ length: 20 }, (_, index) => `m${index}`));
        expect(outbox.list()).toEqual([]);
      } finally {
        second.close();
      }
    });
  });

  it("a lease left by a process that died is taken over at once", async () => {
    await withOutbox(async (outbox) => {
      expect(outbox.claimTarget("xiaom", `${hostname()} 2147483646 dead`, 60_000)).toBe(true);
      expect(outbox.claimTarget("xiaom", `${hostname()} ${process.pid} me`, 60_000)).toBe(true);
      expect(outbox.claimTarget("xiaom", `${hostname()} ${process.pid} someone-else-here`, 60_000)).toBe(false);
      expect(outbox.claimTarget("xiaom", "another-host 1 x", 60_000)).toBe(false);
    });
  });

  it("sends again, with the next redelivery number, what the target lost; stops once it has run", async () => {
    const dir = mkdtempSync(join(tmpdir(), "oii-follow-up-"));
    const outbox = await Outbox.open(join(dir, "outbox.sqlite"));
    try {
      const transport = new FollowedTransport([{ status: "waiting" }, { status: "lost", reason: "interrupted" }, { status: "delivered" }]);
      const dispatcher = dispatcherWith([transport], ["sessions_send"], { outbox: async () => outbox });
      const report = await dispatcher.send({ to: "xiaom", body: "hi" });
      expect(report.status).toBe("accepted");
      await dispatcher.flush();
      expect(transport.delivered).toHaveLength(1);
      const [redelivered] = await dispatcher.flush();
      expect(redelivered).toMatchObject({ id: report.id, ok: true, status: "accepted" });
      expect(transport.delivered.map((envelope) => envelope.redelivery)).toEqual([undefined, 1]);
      await dispatcher.flush();
      await dispatcher.flush();
      expect(transport.followUps).toEqual(["waiting", "lost", "delivered"]);
      expect(outbox.delivery(report.id, "xiaom")?.status).toBe("delivered");
    } finally {
      outbox.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
