import type { Logger } from "pino";
import type { Instance, InstanceRegistry } from "../config/registry.js";
import type { TransportId } from "../config/schema.js";
import type { SecretSet } from "../util/redact.js";
import { HeldFiles } from "./attachments/held-files.js";
import { prepareFiles } from "./attachments/prepare.js";
import { CircuitBreaker } from "./circuit-breaker.js";
import { BackgroundChecks, type DispatchContext } from "./dispatch/context.js";
import { flushQueued } from "./dispatch/flush.js";
import { FOLLOW_UP_WINDOW_MS, followUpAccepted, settleReports } from "./dispatch/follow-up.js";
import { TargetLeases } from "./dispatch/leases.js";
import { probeTransports, routeOf } from "./dispatch/probe.js";
import type {
  DeliveryReport,
  FlushOptions,
  FollowUpStep,
  ProbeOptions,
  ProbeResult,
  ReportOrigin,
  Route,
  SendInput,
  SendOptions,
  Waiting,
} from "./dispatch/report.js";
import { reasonToSkip, tryTransports } from "./dispatch/send.js";
import { createEnvelope, type Envelope } from "./envelope.js";
import { ValidationError } from "./errors.js";
import type { Outbox } from "./outbox.js";
import type { ReceiptStatus, Transport } from "./transport.js";

export { MAX_REDELIVERIES, MAX_REDELIVERY_AGE_MS } from "./dispatch/follow-up.js";
export type {
  Attempt,
  AttemptError,
  AttemptOutcome,
  DeliveryReport,
  FlushOptions,
  FollowUpStep,
  ProbeOptions,
  ProbeResult,
  ReportOrigin,
  Route,
  SendInput,
  SendOptions,
  Waiting,
} from "./dispatch/report.js";

export interface DispatcherOptions {
  readonly registry: InstanceRegistry;
  readonly transports: readonly Transport[];
  readonly logger: Logger;
  readonly secrets?: SecretSet | undefined;
  /** Backoff before the first retry of a transient failure. */
  readonly retryMinTimeoutMs?: number | undefined;
  /** Skips a transport that just failed as unavailable or timed out; default: the registry's cool-down. */
  readonly circuitBreaker?: CircuitBreaker | undefined;
  /** Called when an envelope starts to wait in the outbox: queued, or accepted and to be followed up. */
  readonly onWaiting?: (() => void) | undefined;
  /** Where undeliverable envelopes wait; opened on first use. Without it they are reported `failed`. */
  readonly outbox?: (() => Promise<Outbox>) | undefined;
  /** Signs each envelope before it goes out (again at every retry and redelivery, whose fields change). */
  readonly sign?: ((envelope: Envelope) => Envelope) | undefined;
  /** Told of every report given back (a send, each envelope a flush tried, a redelivery): the audit log, the metrics. */
  readonly onReport?: ((envelope: Envelope, report: DeliveryReport, origin: ReportOrigin) => void) | undefined;
  /** Told when a message is lost for good (the target dropped it and the redeliveries are used up): tell the owner. */
  readonly onLost?: ((envelope: Envelope, report: DeliveryReport) => void) | undefined;
}

/**
 * Tries an instance's transports in priority order. Each attempt has its own timeout, whose expiry
 * aborts the transport's work; transient failures are retried (bounded) on the same transport;
 * unavailable and timed-out transports hand over to the next; a fatal failure stops at once.
 * Accepted messages are followed up on the target's evidence (`settle`, `flush`); what no
 * transport took waits in the outbox.
 */
export class Dispatcher {
  readonly #context: DispatchContext;
  readonly #outbox: (() => Promise<Outbox>) | undefined;
  readonly #held = new HeldFiles();

  constructor(options: DispatcherOptions) {
    this.#outbox = options.outbox;
    const outbox = options.outbox;
    this.#context = {
      registry: options.registry,
      transports: new Map(options.transports.map((transport) => [transport.id, transport])),
      logger: options.logger,
      secrets: options.secrets,
      retryMinTimeoutMs: options.retryMinTimeoutMs ?? 250,
      circuits: options.circuitBreaker ?? new CircuitBreaker(options.registry.circuitCooldownMs),
      sign: options.sign,
      onReport: options.onReport,
      onLost: options.onLost,
      onWaiting: options.onWaiting,
      files: this.#held.source(async (file) => (outbox ? (await outbox()).files.read(file) : undefined)),
      background: new BackgroundChecks(),
    };
  }

  /** The registered transport with this id. */
  transport(id: TransportId): Transport | undefined {
    return this.#context.transports.get(id);
  }

  /** Validates the input (throws `ValidationError` / `UnknownInstanceError`), then delivers. */
  async send(input: SendInput, options: SendOptions = {}): Promise<DeliveryReport> {
    const instance = this.#context.registry.resolve(input.to);
    if (instance.missingSecrets.length > 0) {
      const [first] = instance.missingSecrets;
      throw new ValidationError(
        `The token for ${instance.name} is not available: ${instance.missingSecrets.map((missing) => `${missing.field}: ${missing.reason}`).join("; ")}. Nothing was sent.`,
        instance.missingSecrets.map((missing) => ({ path: missing.field, message: missing.reason })),
        { hint: first!.fix },
      );
    }
    const files = input.files && input.files.length > 0 ? await prepareFiles(input.files, this.#context.registry.attachments) : [];
    const envelope = createEnvelope({
      to: instance.name,
      body: input.body,
      from: this.#context.registry.self,
      id: input.id,
      conversation: input.conversation,
      hop: input.hop,
      replyTo: input.replyTo,
      files,
    });
    await this.#prepareFirstTransport(envelope, instance, options.transports ?? instance.transports);
    const release = this.#held.hold(files);
    try {
      return await this.deliver(envelope, instance, options);
    } finally {
      release();
    }
  }

  /**
   * The handshake of the transport tried first, started now: it overlaps the outbox and the signature
   * instead of following them. Not for one the send will pass over (not applicable, circuit open).
   */
  async #prepareFirstTransport(envelope: Envelope, instance: Instance, transports: readonly TransportId[]): Promise<void> {
    const first = transports[0];
    if (first === undefined) return;
    const transport = this.#context.transports.get(first);
    if (transport?.prepare && !reasonToSkip(this.#context, transport, first, envelope, instance, undefined)) await transport.prepare(instance);
  }

  /**
   * Delivers an already built envelope; queues it in the outbox when every transport fails. An id
   * this sender already delivered to the same target is not sent again: the earlier delivery is
   * reported (`repeatOf`). Not every target de-duplicates, and a fallback transport never could.
   */
  async deliver(envelope: Envelope, instance: Instance, options: SendOptions = {}): Promise<DeliveryReport> {
    const report = await this.#deliver(envelope, instance, options);
    if (report.status !== "accepted" || !options.settleMs || report.repeatOf) {
      this.#context.onReport?.(envelope, report, "send");
      return report;
    }
    // Reported once it is settled (or the wait is over): the audit log says what the evidence showed.
    const [settled = report] = await this.settle([report], { timeoutMs: options.settleMs, ...(options.signal ? { signal: options.signal } : {}) }).catch(
      (error: unknown) => {
        this.#context.onReport?.(envelope, report, "send");
        throw error;
      },
    );
    this.#context.onReport?.(envelope, settled, "send");
    return settled;
  }

  async #deliver(envelope: Envelope, instance: Instance, options: SendOptions): Promise<DeliveryReport> {
    const outbox = this.#outbox && (await this.#outbox());
    const earlier = outbox?.delivery(envelope.id, instance.name);
    if (earlier) {
      this.#context.logger.info({ envelopeId: envelope.id, to: instance.name, via: earlier.via }, "delivered before; not sent again");
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
    const expected = outbox?.expectDelivery();
    let report: DeliveryReport;
    try {
      report = await tryTransports(this.#context, envelope, instance, options);
    } catch (error) {
      expected?.();
      throw error;
    }
    if (report.ok && report.via && report.receipt && outbox) {
      // Kept for a redelivery while the target has not run it.
      if (report.status === "accepted" && envelope.files) outbox.keepFiles(this.#held.withBytes(envelope.files));
      await outbox.commitDelivery(envelope.id, instance.name, report.via, report.status, report.receipt, new Date(), envelope, expected);
      if (report.status === "accepted") this.#context.onWaiting?.();
    }
    expected?.();
    if (report.ok || report.status !== "failed" || !outbox || options.queue === false || report.attempts.some((a) => a.outcome === "fatal")) return report;
    const reasons = report.attempts.map((a) => `${a.transport}: ${a.error?.code ?? a.skippedBecause ?? a.outcome}`).join("; ");
    if (envelope.files) outbox.keepFiles(this.#held.withBytes(envelope.files));
    outbox.enqueue(envelope, reasons, new Date(), { pinnedTo: report.unsettledOn });
    this.#context.onWaiting?.();
    this.#context.logger.warn({ envelopeId: envelope.id, to: instance.name, outbox: outbox.path }, "queued in the outbox");
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
      const looks = await followUpAccepted(this.#context, outbox, leases, options.signal);
      // What a follow-up sent again is among the envelopes this flush tried.
      const redelivered = [...looks.values()].flatMap((look) => (look.redelivered ? [{ ...look.redelivered, followUp: [look.step] }] : []));
      return [...redelivered, ...(await flushQueued(this.#context, outbox, leases, options))];
    } finally {
      leases.releaseAll();
      // Files of envelopes that aged out of follow-up, or that a crash left without their row.
      outbox.sweepFiles();
    }
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
      return [...(await followUpAccepted(this.#context, outbox, leases, options.signal)).values()].map(({ step }) => step);
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
    try {
      return await settleReports(this.#context, outbox, leases, reports, options);
    } finally {
      leases.releaseAll();
    }
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
    const reports = awaiting.map(
      ({ envelope, via }): DeliveryReport => ({ ok: true, id: envelope.id, to: envelope.to, status: "accepted", via: via as TransportId, attempts: [] }),
    );
    return this.settle(reports, options);
  }

  /**
   * Asks each of an instance's transports whether it could deliver now, without sending. A dead
   * path opens its circuit, so the next message skips it at once instead of waiting out its timeout.
   */
  probe(target: string, options: ProbeOptions = {}): Promise<ProbeResult[]> {
    return probeTransports(this.#context, target, options);
  }

  /**
   * The way a message to this target would go now, without sending anything: the first transport in
   * its order that applies and whose circuit is closed, and why each one before it is passed over.
   */
  route(target: string): Route {
    return routeOf(this.#context, target);
  }

  /**
   * Stops the background work, then closes the transports. `alongside` (the owner's own closing: the
   * outbox, the audit log) runs while they close, once nothing here can use those any more: a
   * Gateway takes 10 to 20 ms to answer a close frame, time a one-shot command need not add.
   */
  async close(alongside?: () => Promise<void>): Promise<void> {
    await this.#context.background.stop();
    const transportsClosed = Array.from(this.#context.transports.values(), async (transport) => transport.close?.());
    const closed = await Promise.allSettled([...transportsClosed, alongside?.()]);
    const failed = closed.find((result) => result.status === "rejected");
    if (failed) throw failed.reason;
  }
}
