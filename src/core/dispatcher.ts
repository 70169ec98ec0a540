import { setTimeout as delay } from "node:timers/promises";
import pRetry from "p-retry";
import pTimeout from "p-timeout";
import type { Logger } from "pino";
import { CircuitBreaker } from "./circuit-breaker.js";
import { leaseOwner, type AwaitingFollowUp, type Outbox } from "./outbox.js";
import type { Instance, InstanceRegistry } from "../config/registry.js";
import type { TransportId } from "../config/schema.js";
import { createEnvelope, type Envelope } from "./envelope.js";
import { once } from "../util/lazy.js";
import { failureClassOf, InterInstanceError, ValidationError, TransientError, TransportError, TransportTimeoutError, UnsuitableMessageError, type FailureClass } from "./errors.js";
import type { SecretSet } from "../util/redact.js";
import type { Receipt, ReceiptStatus, Transport } from "./transport.js";

export type AttemptOutcome = ReceiptStatus | "skipped" | FailureClass;

export interface AttemptError {
  readonly class: FailureClass;
  readonly name: string;
  readonly code: string;
  readonly message: string;
  readonly hint?: string;
}

/** One transport's part in a delivery. */
export interface Attempt {
  readonly transport: TransportId;
  readonly outcome: AttemptOutcome;
  /** How many times the transport ran (1 + retries of transient failures); 0 when skipped. */
  readonly tries: number;
  readonly ms: number;
  readonly error?: AttemptError;
  readonly skippedBecause?: string;
  /** After an ambiguous failure (timeout, lost connection): what checking the target found. */
  readonly checked?: "landed" | "not found" | "never sent" | "lost" | `could not check: ${string}`;
}

/** One look at an accepted message on its target, and what was done about it. */
export interface FollowUpStep {
  readonly at: string;
  readonly via: TransportId;
  /** What the target's evidence showed. */
  readonly found: "delivered" | "in session" | "queued" | "not settled" | "lost" | "held" | "refused" | "unsuitable";
  readonly reason?: string;
  /** `redelivered` under a fresh Gateway key (same envelope id and text); `queued again` in the outbox; `given up` past the bound. */
  readonly action?: "redelivered" | "queued again" | "given up";
  /** The redelivery number of the copy sent by this step. */
  readonly redelivery?: number;
}

export interface DeliveryReport {
  readonly ok: boolean;
  readonly id: string;
  readonly to: string;
  /**
   * `queued`: every transport failed and the envelope waits in the durable outbox for `flush()`.
   * `accepted`: the target took it and has not shown it to its agent yet. After a follow-up
   * (`settleMs`, `settle()`): `delivered`, `held` / `refused` by the receiver's policy, or `lost`:
   * the target dropped it after accepting it and the bounded redeliveries did not get it there.
   */
  readonly status: ReceiptStatus | "queued" | "failed" | "held" | "refused" | "lost";
  /** What following it up after its acceptance found and did, in order. */
  readonly followUp?: readonly FollowUpStep[];
  readonly via?: TransportId;
  readonly receipt?: Receipt;
  readonly attempts: readonly Attempt[];
  /** Set when this id was delivered before: nothing was sent again, the earlier delivery is reported. */
  readonly repeatOf?: { readonly deliveredAt: string };
  /**
   * Set when a transport sent it, got no answer, and could not check the target afterwards: it may
   * have landed. No other transport was tried (that could show it twice); it waits for this one.
   */
  readonly unsettledOn?: TransportId;
}

export interface SendInput {
  /** Instance name or alias: "xiaom", "小m", "mac-mini". */
  readonly to: string;
  readonly body: string;
  /** Idempotency key; a retry with the same id is never shown twice. Generated when absent. */
  readonly id?: string;
  /** Continue a conversation (the agent answering another instance's message): its id and this message's hop. */
  readonly conversation?: string;
  readonly hop?: number;
}

export interface SendOptions {
  readonly signal?: AbortSignal;
  /** Override the instance's transport order for this message. */
  readonly transports?: readonly TransportId[];
  /** Put it in the outbox when every transport fails (default true; `ask` turns it off: nobody would wait for the answer). */
  readonly queue?: boolean;
  /**
   * After the target accepts it, wait up to this long for the evidence that settles it: delivered,
   * or lost by the target and redelivered (see `Dispatcher.settle`). 0 (default): return at acceptance.
   */
  readonly settleMs?: number;
}

export interface DispatcherOptions {
  readonly registry: InstanceRegistry;
  readonly transports: readonly Transport[];
  readonly logger: Logger;
  readonly secrets?: SecretSet;
  /** Backoff before the first retry of a transient failure. */
  readonly retryMinTimeoutMs?: number;
  /** Skips a transport that just failed as unavailable or timed out; default: the registry's cool-down. */
  readonly circuitBreaker?: CircuitBreaker;
  /** Called when an envelope starts to wait in the outbox: queued, or accepted and to be followed up. */
  readonly onWaiting?: () => void;
  /** Where undeliverable envelopes wait; opened on first use. Without it they are reported `failed`. */
  readonly outbox?: () => Promise<Outbox>;
  /** Signs each envelope before it goes out (again at every retry and redelivery, whose fields change). */
  readonly sign?: (envelope: Envelope) => Envelope;
  /** Told of every report given back (a send, a delivery, each envelope a flush tried): the audit log. */
  readonly onReport?: (envelope: Envelope, report: DeliveryReport) => void;
  /** Told when a message is lost for good (the target dropped it and the redeliveries are used up): tell the owner. */
  readonly onLost?: (envelope: Envelope, report: DeliveryReport) => void;
}

/** What one transport's probe found. */
export interface ProbeResult {
  readonly transport: TransportId;
  readonly ok: boolean;
  readonly ms: number;
  /** What was checked, when it passed. */
  readonly detail?: string;
  readonly error?: AttemptError;
  readonly skippedBecause?: string;
}

export interface ProbeOptions {
  readonly signal?: AbortSignal;
  readonly transports?: readonly TransportId[];
}

export interface Waiting {
  readonly queued: number;
  readonly followingUp: number;
  /** When the earliest queued envelope may be tried again; absent when nothing is queued. */
  readonly nextAttemptAt?: Date;
}

/** `Dispatcher.route`: the transport a message would take now (undefined: every path is passed over, it would be queued). */
export interface Route {
  readonly to: string;
  readonly via: TransportId | undefined;
  readonly skipped: readonly { readonly transport: TransportId; readonly reason: string }[];
}

export interface FlushOptions {
  readonly signal?: AbortSignal;
  /** Also retry envelopes whose backoff has not run out yet. */
  readonly all?: boolean;
  /** Deliver at most this many envelopes in this call. */
  readonly limit?: number;
}

const FLUSH_BACKOFF_MS = 30_000;
/** A message the target lost after accepting it is sent again at most this often, and only while this young. */
export const MAX_REDELIVERIES = 3;
export const MAX_REDELIVERY_AGE_MS = 60 * 60_000;
/** How long a flush or follow-up holds a target before another process may take it (renewed per envelope). */
const TARGET_LEASE_MS = 5 * 60_000;
const PROBE_TIMEOUT_MS = 10_000;
const CONFIRM_TIMEOUT_MS = 10_000;
/** How long after acceptance an envelope is still followed up. */
const FOLLOW_UP_WINDOW_MS = 24 * 60 * 60 * 1000;
const MAX_FLUSH_BACKOFF_MS = 3_600_000;

/** Probes run `applies` with a stand-in message: they ask about the path, not about a body. */
const probeEnvelope = once(() => createEnvelope({ to: "probe", from: "probe", body: "probe", id: "probe-0000" }));

const ms = (since: number) => Math.round(performance.now() - since);
const MAX_RETRY_AFTER_MS = 10_000;

/**
 * Tries an instance's transports in priority order. Each attempt has its own timeout, whose expiry
 * aborts the transport's work; transient failures are retried (bounded) on the same transport;
 * unavailable and timed-out transports hand over to the next; a fatal failure stops at once.
 */
export class Dispatcher {
  readonly #registry: InstanceRegistry;
  readonly #transports: ReadonlyMap<TransportId, Transport>;
  readonly #logger: Logger;
  readonly #secrets: SecretSet | undefined;
  readonly #retryMinTimeoutMs: number;
  readonly #circuits: CircuitBreaker;
  readonly #outbox: (() => Promise<Outbox>) | undefined;
  readonly #onWaiting: (() => void) | undefined;
  readonly #sign: ((envelope: Envelope) => Envelope) | undefined;
  readonly #onReport: ((envelope: Envelope, report: DeliveryReport) => void) | undefined;
  readonly #onLost: ((envelope: Envelope, report: DeliveryReport) => void) | undefined;

  constructor(options: DispatcherOptions) {
    this.#registry = options.registry;
    this.#transports = new Map(options.transports.map((transport) => [transport.id, transport]));
    this.#logger = options.logger;
    this.#secrets = options.secrets;
    this.#retryMinTimeoutMs = options.retryMinTimeoutMs ?? 250;
    this.#circuits = options.circuitBreaker ?? new CircuitBreaker(options.registry.circuitCooldownMs);
    this.#outbox = options.outbox;
    this.#onWaiting = options.onWaiting;
    this.#sign = options.sign;
    this.#onReport = options.onReport;
    this.#onLost = options.onLost;
  }

  /** The registered transport with this id. */
  transport(id: TransportId): Transport | undefined {
    return this.#transports.get(id);
  }

  /** Validates the input (throws `ValidationError` / `UnknownInstanceError`), then delivers. */
  async send(input: SendInput, options: SendOptions = {}): Promise<DeliveryReport> {
    const instance = this.#registry.resolve(input.to);
    if (instance.missingSecrets.length > 0) {
      const [first] = instance.missingSecrets;
      throw new ValidationError(
        `The token for ${instance.name} is not available: ${instance.missingSecrets.map((missing) => `${missing.field}: ${missing.reason}`).join("; ")}. Nothing was sent.`,
        instance.missingSecrets.map((missing) => ({ path: missing.field, message: missing.reason })),
        { hint: first!.fix },
      );
    }
    const envelope = createEnvelope({ to: instance.name, body: input.body, from: this.#registry.self, id: input.id, conversation: input.conversation, hop: input.hop });
    return this.deliver(envelope, instance, options);
  }

  /**
   * Delivers an already built envelope; queues it in the outbox when every transport fails. An id
   * this sender already delivered to the same target is not sent again: the earlier delivery is
   * reported (`repeatOf`). Not every target de-duplicates, and a fallback transport never could.
   */
  async deliver(envelope: Envelope, instance: Instance, options: SendOptions = {}): Promise<DeliveryReport> {
    const report = await this.#deliver(envelope, instance, options);
    if (report.status !== "accepted" || !options.settleMs || report.repeatOf) {
      this.#onReport?.(envelope, report);
      return report;
    }
    // Reported once it is settled (or the wait is over): the audit log says what the evidence showed.
    const [settled = report] = await this.settle([report], { timeoutMs: options.settleMs, ...(options.signal ? { signal: options.signal } : {}) }).catch((error: unknown) => {
      this.#onReport?.(envelope, report);
      throw error;
    });
    this.#onReport?.(envelope, settled);
    return settled;
  }

  async #deliver(envelope: Envelope, instance: Instance, options: SendOptions): Promise<DeliveryReport> {
    const outbox = this.#outbox && (await this.#outbox());
    const earlier = outbox?.delivery(envelope.id, instance.name);
    if (earlier) {
      this.#logger.info({ envelopeId: envelope.id, to: instance.name, via: earlier.via }, "delivered before; not sent again");
      const status = earlier.status as ReceiptStatus;
      return {
        ok: true,
        id: envelope.id,
        to: instance.name,
        status,
        via: earlier.via as TransportId,
        receipt: earlier.receipt ?? { status, detail: {} },
        attempts: [],
        repeatOf: { deliveredAt: earlier.deliveredAt },
      };
    }
    const report = await this.#tryAll(envelope, instance, options);
    if (report.ok && report.via && report.receipt && outbox) {
      outbox.recordDelivery(envelope.id, instance.name, report.via, report.status, report.receipt, new Date(), envelope);
      if (report.status === "accepted") this.#onWaiting?.();
    }
    if (report.ok || report.status !== "failed" || !outbox || options.queue === false || report.attempts.some((a) => a.outcome === "fatal")) return report;
    const reasons = report.attempts.map((a) => `${a.transport}: ${a.error?.code ?? a.skippedBecause ?? a.outcome}`).join("; ");
    outbox.enqueue(envelope, reasons, new Date(), { pinnedTo: report.unsettledOn });
    this.#onWaiting?.();
    this.#logger.warn({ envelopeId: envelope.id, to: instance.name, outbox: outbox.path }, "queued in the outbox");
    return { ...report, status: "queued" };
  }

  /**
   * How many envelopes wait: queued for a retry, and accepted but not yet seen to run (followed up
   * by `flush`); and when the first queued one is next due, each having backed off on its own.
   */
  async waiting(): Promise<Waiting> {
    if (!this.#outbox) return { queued: 0, followingUp: 0 };
    const outbox = await this.#outbox();
    const queued = outbox.list();
    const due = queued.map((entry) => Date.parse(entry.nextAttemptAt)).filter((time) => Number.isFinite(time));
    return {
      queued: queued.length,
      followingUp: outbox.awaitingFollowUp(new Date(Date.now() - FOLLOW_UP_WINDOW_MS)).length,
      ...(due.length > 0 ? { nextAttemptAt: new Date(Math.min(...due)) } : {}),
    };
  }

  /**
   * Retries queued envelopes in arrival order per target. A target whose oldest envelope still
   * fails keeps the rest queued behind it, so order is never broken; it is tried again after a backoff.
   */
  async flush(options: FlushOptions = {}): Promise<DeliveryReport[]> {
    if (!this.#outbox) return [];
    const outbox = await this.#outbox();
    const leases = new TargetLeases(outbox);
    try {
      const looks = await this.#followUp(outbox, leases, options.signal);
      // What a follow-up sent again is among the envelopes this flush tried.
      const redelivered = [...looks.values()].flatMap((look) => (look.redelivered ? [{ ...look.redelivered, followUp: [look.step] }] : []));
      return [...redelivered, ...(await this.#flushQueued(outbox, leases, options))];
    } finally {
      leases.releaseAll();
    }
  }

  async #flushQueued(outbox: Outbox, leases: TargetLeases, options: FlushOptions): Promise<DeliveryReport[]> {
    const now = new Date();
    const blocked = new Set<string>();
    const reports: DeliveryReport[] = [];
    for (const listed of outbox.list(options.all ? {} : { dueBy: now })) {
      options.signal?.throwIfAborted();
      if (options.limit !== undefined && reports.length >= options.limit) break;
      if (blocked.has(listed.target)) continue;
      // Another process holds this target: its envelopes are that process's to send, in order.
      if (!leases.claim(listed.target)) {
        blocked.add(listed.target);
        continue;
      }
      // Read again under the lease: another flusher may have sent it since the list was read.
      const queued = outbox.queued(listed.envelope.id);
      if (!queued) continue;
      const instance = this.#registry.find(queued.target);
      if (!instance) {
        blocked.add(queued.target);
        outbox.markFailed(queued.envelope.id, `no instance "${queued.target}" in the config`, new Date(now.getTime() + MAX_FLUSH_BACKOFF_MS));
        continue;
      }
      const report = await this.#tryAll(queued.envelope, instance, {
        ...(options.signal ? { signal: options.signal } : {}),
        ...(queued.pinnedTo ? { transports: [queued.pinnedTo as TransportId] } : {}),
        avoid: new Map(queued.avoid.map((id) => [id, queued.lastError])),
      });
      reports.push(report);
      this.#onReport?.(queued.envelope, report);
      // The target answered that it does not hold it: it is no longer bound to the transport that sent it.
      if (!report.ok && queued.pinnedTo && report.attempts.some((a) => a.transport === queued.pinnedTo && a.checked === "not found")) outbox.unpin(queued.envelope.id);
      if (report.ok && report.via) {
        outbox.markDelivered(queued.envelope.id, report.via, report.status, report.receipt);
        if (report.status === "accepted") this.#onWaiting?.();
      } else {
        blocked.add(queued.target);
        const backoff = Math.min(FLUSH_BACKOFF_MS * 2 ** queued.attempts, MAX_FLUSH_BACKOFF_MS);
        outbox.markFailed(queued.envelope.id, report.attempts.map((a) => `${a.transport}: ${a.error?.code ?? a.outcome}`).join("; "), new Date(Date.now() + backoff));
      }
    }
    return reports;
  }

  /**
   * Follows up, once, every envelope a target accepted but nobody has seen run (see `settle` for
   * what is done with what is found): for a process that sends and leaves the queue to others.
   */
  async followUp(options: { readonly signal?: AbortSignal } = {}): Promise<FollowUpStep[]> {
    if (!this.#outbox) return [];
    const outbox = await this.#outbox();
    const leases = new TargetLeases(outbox);
    try {
      return [...(await this.#followUp(outbox, leases, options.signal)).values()].map(({ step }) => step);
    } finally {
      leases.releaseAll();
    }
  }

  /**
   * Waits, up to `timeoutMs`, for the evidence that settles messages a target accepted: a turn
   * ran with it or its row is in the session (delivered); the receiver's policy held or refused
   * it; or the target lost it after its ack (an interrupted or cancelled pending input, a
   * queue-overflow drop, in nobody's custody while the session is quiet). A lost one is sent again
   * at once under a fresh Gateway idempotency key with the same envelope id, header and
   * signature, at most `MAX_REDELIVERIES` times and while younger than `MAX_REDELIVERY_AGE_MS`;
   * past that it is `lost` for good and `onLost` is told. Each look is in the report's `followUp`.
   * What is still unsettled at the deadline stays `accepted`, for the next `flush` or `followUp`.
   */
  async settle(reports: readonly DeliveryReport[], options: { readonly timeoutMs: number; readonly signal?: AbortSignal }): Promise<DeliveryReport[]> {
    if (!this.#outbox) return [...reports];
    const outbox = await this.#outbox();
    const leases = new TargetLeases(outbox);
    const keyOf = (report: { readonly id: string; readonly to: string }) => `${report.id} ${report.to}`;
    const current = new Map(reports.map((report) => [keyOf(report), report]));
    const open = new Set(reports.filter((report) => report.status === "accepted").map(keyOf));
    const deadline = Date.now() + options.timeoutMs;
    let pause = 250;
    try {
      while (open.size > 0) {
        const ids = new Set([...open].map((key) => current.get(key)!.id));
        const looks = await this.#followUp(outbox, leases, options.signal, ids);
        for (const key of open) {
          const report = current.get(key)!;
          const look = looks.get(key);
          const updated = look ? withStep(report, look.step, look.redelivered) : report;
          // Not followed any more without a settling look (queued again elsewhere): the outbox says where it is.
          const status = (look && settledStatus(look.step)) ?? (outbox.delivery(report.id, report.to)?.status !== "accepted" && outbox.queued(report.id) ? "queued" : undefined);
          current.set(key, status ? { ...updated, status, ok: status === "delivered" || status === "queued" } : updated);
          if (status) open.delete(key);
        }
        if (open.size === 0 || Date.now() + pause > deadline) break;
        await delay(pause, undefined, options.signal ? { signal: options.signal } : {});
        pause = Math.min(pause * 2, 4_000);
      }
    } finally {
      leases.releaseAll();
    }
    return reports.map((report) => current.get(keyOf(report))!);
  }

  /**
   * `settle` for every envelope this outbox holds as accepted and not yet seen run, whoever sent it:
   * what a one-shot flusher calls before it leaves, since an earlier process (killed, or one that
   * never settled) may have left accepted messages that the target then lost.
   */
  async settleAll(options: { readonly timeoutMs: number; readonly signal?: AbortSignal }): Promise<DeliveryReport[]> {
    if (!this.#outbox) return [];
    const outbox = await this.#outbox();
    const awaiting = outbox.awaitingFollowUp(new Date(Date.now() - FOLLOW_UP_WINDOW_MS));
    const reports = awaiting.map(({ envelope, via }): DeliveryReport => ({ ok: true, id: envelope.id, to: envelope.to, status: "accepted", via: via as TransportId, attempts: [] }));
    return this.settle(reports, options);
  }

  /**
   * Looks at accepted envelopes (all, or those with these ids) on their targets, one target at a
   * time under its lease, and acts on what is found. Keyed `<id> <target>`.
   */
  async #followUp(outbox: Outbox, leases: TargetLeases, signal: AbortSignal | undefined, ids?: ReadonlySet<string>): Promise<Map<string, FollowUpLook>> {
    const looks = new Map<string, FollowUpLook>();
    const awaiting = () => outbox.awaitingFollowUp(new Date(Date.now() - FOLLOW_UP_WINDOW_MS), ids ? { ids } : {});
    for (const target of new Set(awaiting().map((item) => item.envelope.to))) {
      if (!leases.claim(target)) continue;
      // Read again under the lease: another process may have settled or redelivered them meanwhile.
      for (const item of awaiting().filter((candidate) => candidate.envelope.to === target)) {
        signal?.throwIfAborted();
        leases.claim(target);
        const look = await this.#followOne(outbox, item, signal);
        if (look) looks.set(`${item.envelope.id} ${target}`, look);
      }
    }
    return looks;
  }

  /** One look at one accepted envelope; undefined when its target could not be asked (asked next time). */
  async #followOne(outbox: Outbox, { envelope, via, acceptedAt }: AwaitingFollowUp, signal: AbortSignal | undefined): Promise<FollowUpLook | undefined> {
    const transport = this.#transports.get(via as TransportId);
    const instance = this.#registry.find(envelope.to);
    if (!transport?.followUp || !instance) return undefined;
    const attemptSignal = AbortSignal.any([AbortSignal.timeout(instance.timeouts[transport.id]), ...(signal ? [signal] : [])]);
    const outcome = await transport.followUp(envelope, { instance, signal: attemptSignal, logger: this.#logger }, { acceptedAt }).catch((error: unknown) => {
      this.#logger.debug({ envelopeId: envelope.id, transport: transport.id, err: this.#describe(error) }, "follow-up could not ask the target");
      return undefined;
    });
    if (!outcome) return undefined;
    const step = { at: new Date().toISOString(), via: transport.id };
    switch (outcome.status) {
      case "delivered":
        outbox.markFollowedUp(envelope.id, envelope.to);
        return { step: { ...step, found: "delivered" } };
      case "waiting":
        return { step: { ...step, found: outcome.custody ?? "not settled" } };
      case "held":
      case "refused":
        outbox.markFollowedUp(envelope.id, envelope.to, outcome.status);
        this.#logger.warn({ envelopeId: envelope.id, to: envelope.to, transport: transport.id, reason: outcome.reason }, `${outcome.status} by the receiver's policy`);
        return { step: { ...step, found: outcome.status, reason: outcome.reason } };
      case "unsuitable":
        outbox.requeue(envelope, `${transport.id}: ${outcome.reason}`, new Date(), [transport.id]);
        this.#logger.warn({ envelopeId: envelope.id, to: envelope.to, transport: transport.id, reason: outcome.reason }, "the target could not use it; queued for another transport");
        return { step: { ...step, found: "unsuitable", reason: outcome.reason, action: "queued again" } };
      case "lost":
        return this.#redeliver(outbox, envelope, instance, { ...step, found: "lost", reason: outcome.reason }, signal);
    }
  }

  /** A target lost an envelope after accepting it: sent again now under a fresh key, or given up past the bound. */
  async #redeliver(outbox: Outbox, envelope: Envelope, instance: Instance, step: FollowUpStep, signal: AbortSignal | undefined): Promise<FollowUpLook> {
    const redelivery = (envelope.redelivery ?? 0) + 1;
    const ageMs = Date.now() - Date.parse(envelope.createdAt);
    if (redelivery > MAX_REDELIVERIES || ageMs > MAX_REDELIVERY_AGE_MS) {
      const bound = redelivery > MAX_REDELIVERIES ? `sent ${MAX_REDELIVERIES + 1} times` : `older than ${MAX_REDELIVERY_AGE_MS / 60_000} minutes`;
      const reason = `${step.reason ?? "lost by the target"}; not sent again (${bound})`;
      outbox.markLost(envelope.id, envelope.to, reason);
      const given: FollowUpStep = { ...step, reason, action: "given up" };
      const report: DeliveryReport = { ok: false, id: envelope.id, to: envelope.to, status: "lost", via: step.via, attempts: [], followUp: [given] };
      this.#logger.error({ envelopeId: envelope.id, to: envelope.to, reason }, "lost by the target after it accepted the message; given up");
      this.#onReport?.(envelope, report);
      this.#onLost?.(envelope, report);
      return { step: given };
    }
    const again: Envelope = { ...envelope, redelivery };
    this.#logger.warn({ envelopeId: envelope.id, to: envelope.to, redelivery, reason: step.reason }, "accepted but lost by the target; sending it again");
    const report = await this.#tryAll(again, instance, signal ? { signal } : {});
    this.#onReport?.(again, report);
    if (report.ok && report.via && report.receipt) {
      outbox.recordDelivery(again.id, again.to, report.via, report.status, report.receipt, new Date(), again);
      return { step: { ...step, action: "redelivered", redelivery }, redelivered: report };
    }
    outbox.requeue(again, `${step.via}: ${step.reason ?? "lost"}`);
    if (report.unsettledOn) outbox.pin(again.id, report.unsettledOn);
    this.#onWaiting?.();
    return { step: { ...step, action: "queued again", redelivery }, redelivered: { ...report, status: "queued" } };
  }

  /**
   * Asks each of an instance's transports whether it could deliver now, without sending. A dead
   * path opens its circuit, so the next message skips it at once instead of waiting out its timeout.
   */
  async probe(target: string, options: ProbeOptions = {}): Promise<ProbeResult[]> {
    const instance = this.#registry.resolve(target);
    const results: ProbeResult[] = [];
    for (const id of options.transports ?? instance.transports) {
      options.signal?.throwIfAborted();
      const transport = this.#transports.get(id);
      const applicability = transport ? transport.applies(instance, probeEnvelope()) : { ok: false as const, reason: `no ${id} transport is registered` };
      if (!transport?.probe || !applicability.ok) {
        results.push({ transport: id, ok: false, ms: 0, skippedBecause: applicability.ok ? "this transport has no probe" : applicability.reason });
        continue;
      }
      const started = performance.now();
      const controller = new AbortController();
      const signal = options.signal ? AbortSignal.any([controller.signal, options.signal]) : controller.signal;
      const timeoutMs = Math.min(PROBE_TIMEOUT_MS, instance.timeouts[id]);
      try {
        const detail = await pTimeout(transport.probe(instance, signal), {
          milliseconds: timeoutMs,
          fallback: () => {
            const error = new TransportTimeoutError(`${id} probe got no answer within ${timeoutMs} ms.`, { code: "TIMEOUT" });
            controller.abort(error);
            throw error;
          },
        });
        this.#circuits.record(instance.name, id, { ok: true });
        results.push({ transport: id, ok: true, ms: ms(started), detail });
      } catch (error) {
        if (options.signal?.aborted) throw options.signal.reason;
        const described = this.#describe(error);
        this.#circuits.record(instance.name, id, { ok: false, failureClass: described.class, code: `probe failed: ${described.code}` });
        results.push({ transport: id, ok: false, ms: ms(started), error: described });
      }
    }
    return results;
  }

  /**
   * The way a message to this target would go now, without sending anything: the first transport in
   * its order that applies and whose circuit is closed, and why each one before it is passed over.
   */
  route(target: string): Route {
    const instance = this.#registry.resolve(target);
    const skipped: { transport: TransportId; reason: string }[] = [];
    for (const id of instance.transports) {
      const transport = this.#transports.get(id);
      const applicability = transport ? transport.applies(instance, probeEnvelope()) : { ok: false as const, reason: `no ${id} transport is registered` };
      const circuit = this.#circuits.state(instance.name, id);
      if (applicability.ok && !circuit.open) return { to: instance.name, via: id, skipped };
      skipped.push({ transport: id, reason: applicability.ok ? (circuit.reason ?? "circuit open") : applicability.reason });
    }
    return { to: instance.name, via: undefined, skipped };
  }

  /** `avoid`: transports that must not carry this envelope, each with the reason. */
  async #tryAll(unsigned: Envelope, instance: Instance, options: SendOptions & { readonly avoid?: ReadonlyMap<string, string> }): Promise<DeliveryReport> {
    const envelope = this.#sign ? this.#sign(unsigned) : unsigned;
    const logger = this.#logger.child({ envelopeId: envelope.id, to: instance.name });
    const attempts: Attempt[] = [];
    const circuitSkipped: Transport[] = [];
    const tryTransport = async (transport: Transport): Promise<DeliveryReport | "stop" | undefined> => {
      const attempt = await this.#attempt(transport, envelope, instance, logger, options.signal);
      attempts.push(attempt.report);
      // A message this path cannot carry says nothing about the path.
      if (!attempt.aboutTheMessage) this.#circuits.record(
        instance.name,
        transport.id,
        attempt.receipt ? { ok: true } : { ok: false, failureClass: attempt.report.error?.class ?? "unavailable", code: attempt.report.error?.code ?? "ERROR" },
      );
      if (attempt.receipt) {
        logger.info({ transport: transport.id, status: attempt.receipt.status, ms: attempt.report.ms }, "delivered");
        return { ok: true, id: envelope.id, to: instance.name, status: attempt.receipt.status, via: transport.id, receipt: attempt.receipt, attempts };
      }
      // It may have landed and nobody can tell: another transport could show it twice, so it waits for this one.
      if (attempt.report.checked?.startsWith("could not check")) return { ...this.#failed(envelope, instance, attempts, logger), unsettledOn: transport.id };
      return attempt.report.outcome === "fatal" ? "stop" : undefined;
    };

    for (const id of options.transports ?? instance.transports) {
      options.signal?.throwIfAborted();
      const transport = this.#transports.get(id);
      const avoided = options.avoid?.get(id);
      const applicability = !transport
        ? { ok: false as const, reason: `no ${id} transport is registered` }
        : avoided !== undefined
          ? { ok: false as const, reason: `cannot carry this message (${avoided})` }
          : transport.applies(instance, envelope);
      const circuit = this.#circuits.state(instance.name, id);
      if (!transport || !applicability.ok || circuit.open) {
        const reason = !applicability.ok ? applicability.reason : (circuit.reason ?? "");
        attempts.push({ transport: id, outcome: "skipped", tries: 0, ms: 0, skippedBecause: reason });
        if (transport && applicability.ok) circuitSkipped.push(transport);
        logger.debug({ transport: id, reason }, "transport skipped");
        continue;
      }
      const result = await tryTransport(transport);
      if (result === "stop") return this.#failed(envelope, instance, attempts, logger);
      if (result) return result;
    }
    // Every open path failed: the ones skipped for an open circuit are better than nothing.
    for (const transport of circuitSkipped) {
      options.signal?.throwIfAborted();
      const result = await tryTransport(transport);
      if (result === "stop") break;
      if (result) return result;
    }
    return this.#failed(envelope, instance, attempts, logger);
  }

  #failed(envelope: Envelope, instance: Instance, attempts: Attempt[], logger: Logger): DeliveryReport {
    logger.warn({ attempts: attempts.map((a) => `${a.transport}:${a.outcome}`) }, "not delivered");
    return { ok: false, id: envelope.id, to: instance.name, status: "failed", attempts };
  }

  async #attempt(
    transport: Transport,
    envelope: Envelope,
    instance: Instance,
    logger: Logger,
    callerSignal: AbortSignal | undefined,
  ): Promise<{ report: Attempt; receipt?: Receipt; aboutTheMessage?: boolean }> {
    const started = performance.now();
    const timeoutMs = instance.timeouts[transport.id];
    let tries = 0;
    const once = async (): Promise<Receipt> => {
      tries += 1;
      const controller = new AbortController();
      const signal = callerSignal ? AbortSignal.any([controller.signal, callerSignal]) : controller.signal;
      return pTimeout(transport.deliver(envelope, { instance, signal, logger: logger.child({ transport: transport.id }) }), {
        milliseconds: timeoutMs,
        fallback: () => {
          const error = new TransportTimeoutError(`${transport.id} did not finish within ${timeoutMs} ms; its work was aborted.`, {
            code: "TIMEOUT",
            hint: `Raise timeouts.${transport.id} for this instance if the target is slow.`,
          });
          controller.abort(error);
          throw error;
        },
      });
    };
    try {
      const receipt = await pRetry(once, {
        retries: this.#registry.retries,
        minTimeout: this.#retryMinTimeoutMs,
        factor: 2,
        randomize: true,
        ...(callerSignal ? { signal: callerSignal } : {}),
        shouldRetry: ({ error }) => error instanceof TransientError,
        onFailedAttempt: async ({ error, attemptNumber, retriesLeft }) => {
          logger.debug({ transport: transport.id, attemptNumber, retriesLeft, err: this.#describe(error) }, "attempt failed");
          // A busy peer says when to come back; p-retry's own backoff follows on top of that.
          if (error instanceof TransientError && error.retryAfterMs && retriesLeft > 0) {
            await delay(Math.min(error.retryAfterMs, MAX_RETRY_AFTER_MS), undefined, callerSignal ? { signal: callerSignal } : {});
          }
        },
      });
      return { report: { transport: transport.id, outcome: receipt.status, tries, ms: ms(started) }, receipt };
    } catch (error) {
      if (callerSignal?.aborted) throw callerSignal.reason;
      const described = this.#describe(error);
      logger.info({ transport: transport.id, tries, err: described }, "transport failed");
      const failed: Attempt = { transport: transport.id, outcome: described.class, tries, ms: ms(started), error: described };
      if (error instanceof UnsuitableMessageError) return { report: failed, aboutTheMessage: true };
      if (!transport.confirm || (described.class !== "timeout" && described.class !== "transient")) return { report: failed };
      // The target may have taken it before the failure; sending it through another path could show it twice.
      const check = await this.#confirm(transport, envelope, instance, logger);
      if (check.receipt) {
        logger.info({ transport: transport.id }, "landed despite the failure");
        return { report: { ...failed, outcome: check.receipt.status, ms: ms(started), checked: "landed" }, receipt: check.receipt };
      }
      return { report: { ...failed, ms: ms(started), checked: check.checked } };
    }
  }

  async #confirm(transport: Transport, envelope: Envelope, instance: Instance, logger: Logger): Promise<{ receipt?: Receipt; checked: NonNullable<Attempt["checked"]> }> {
    const controller = new AbortController();
    try {
      const confirmation = await pTimeout(transport.confirm!(envelope, { instance, signal: controller.signal, logger }), {
        milliseconds: CONFIRM_TIMEOUT_MS,
        fallback: () => {
          controller.abort(new Error("confirm timed out"));
          throw new Error(`no answer in ${CONFIRM_TIMEOUT_MS} ms`);
        },
      });
      return confirmation.landed ? { receipt: confirmation.receipt, checked: "landed" } : { checked: confirmation.reason };
    } catch (error) {
      return { checked: `could not check: ${this.#describe(error).message}` };
    }
  }

  #describe(error: unknown): AttemptError {
    const scrub = (text: string) => this.#secrets?.scrub(text) ?? text;
    const failureClass = failureClassOf(error);
    if (error instanceof InterInstanceError) {
      return {
        class: failureClass,
        name: error.name,
        code: error.code,
        message: scrub(error.message),
        ...(error.hint ? { hint: scrub(error.hint) } : {}),
      };
    }
    const plain = error instanceof Error ? error : new Error(String(error));
    return { class: failureClass, name: plain.name, code: error instanceof TransportError ? error.code : "UNCLASSIFIED", message: scrub(plain.message) };
  }

  async close(): Promise<void> {
    await Promise.all([...this.#transports.values()].map((transport) => transport.close?.()));
  }
}

interface FollowUpLook {
  readonly step: FollowUpStep;
  /** The report of the copy sent again, when the step redelivered it. */
  readonly redelivered?: DeliveryReport;
}

/** The report with one more look: a redelivery's attempts are added and its receipt replaces the old one. */
function withStep(report: DeliveryReport, step: FollowUpStep, redelivered: DeliveryReport | undefined): DeliveryReport {
  const followUp = [...(report.followUp ?? []), step];
  if (!redelivered) return { ...report, followUp };
  return {
    ...report,
    followUp,
    attempts: [...report.attempts, ...redelivered.attempts],
    ...(redelivered.via ? { via: redelivered.via } : {}),
    ...(redelivered.receipt ? { receipt: redelivered.receipt } : {}),
  };
}

/** The status a look settles a message at, if it does. */
function settledStatus(step: FollowUpStep): DeliveryReport["status"] | undefined {
  switch (step.found) {
    case "delivered":
    case "in session":
      return "delivered";
    case "held":
    case "refused":
      return step.found;
    case "lost":
      return step.action === "given up" ? "lost" : step.action === "queued again" ? "queued" : undefined;
    case "unsuitable":
      return "queued";
    default:
      return undefined;
  }
}

/** The targets one flush or follow-up holds: claimed (and renewed) on use, all given back at the end. */
class TargetLeases {
  readonly #outbox: Outbox;
  readonly #held = new Set<string>();
  readonly #owner = leaseOwner();

  constructor(outbox: Outbox) {
    this.#outbox = outbox;
  }

  /** Claims or renews the target; false when another live process holds it. */
  claim(target: string): boolean {
    if (!this.#outbox.claimTarget(target, this.#owner, TARGET_LEASE_MS)) return false;
    this.#held.add(target);
    return true;
  }

  releaseAll(): void {
    for (const target of this.#held) this.#outbox.releaseTarget(target, this.#owner);
    this.#held.clear();
  }
}
