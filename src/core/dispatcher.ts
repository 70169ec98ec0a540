import { setTimeout as delay } from "node:timers/promises";
import pRetry from "p-retry";
import pTimeout from "p-timeout";
import type { Logger } from "pino";
import { CircuitBreaker } from "./circuit-breaker.js";
import type { Outbox } from "./outbox.js";
import type { Instance, InstanceRegistry } from "../config/registry.js";
import type { TransportId } from "../config/schema.js";
import { createEnvelope, type Envelope } from "./envelope.js";
import { once } from "../lazy.js";
import { failureClassOf, InterInstanceError, ValidationError, TransientError, TransportError, TransportTimeoutError, UnsuitableMessageError, type FailureClass } from "./errors.js";
import type { SecretSet } from "../redact.js";
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

export interface DeliveryReport {
  readonly ok: boolean;
  readonly id: string;
  readonly to: string;
  /** `queued`: every transport failed and the envelope waits in the durable outbox for `flush()`. */
  readonly status: ReceiptStatus | "queued" | "failed";
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
    this.#onReport?.(envelope, report);
    return report;
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
    await this.#followUp(outbox, options.signal);
    const now = new Date();
    const blocked = new Set<string>();
    const reports: DeliveryReport[] = [];
    for (const queued of outbox.list(options.all ? {} : { dueBy: now })) {
      options.signal?.throwIfAborted();
      if (options.limit !== undefined && reports.length >= options.limit) break;
      if (blocked.has(queued.target)) continue;
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
      } else {
        blocked.add(queued.target);
        const backoff = Math.min(FLUSH_BACKOFF_MS * 2 ** queued.attempts, MAX_FLUSH_BACKOFF_MS);
        outbox.markFailed(queued.envelope.id, report.attempts.map((a) => `${a.transport}: ${a.error?.code ?? a.outcome}`).join("; "), new Date(Date.now() + backoff));
      }
    }
    return reports;
  }

  /**
   * Looks again at envelopes a target accepted but had not run (a session queue holds them). Ran:
   * the record says delivered. Lost (a Gateway restart interrupts queued input, which then never
   * runs): queued again, with the next redelivery number, for the flush that follows. Envelopes
   * not seen within a day are left alone, and a target that cannot be asked is asked next time.
   */
  async #followUp(outbox: Outbox, signal: AbortSignal | undefined): Promise<void> {
    for (const { envelope, via } of outbox.awaitingFollowUp(new Date(Date.now() - FOLLOW_UP_WINDOW_MS))) {
      signal?.throwIfAborted();
      const transport = this.#transports.get(via as TransportId);
      const instance = this.#registry.find(envelope.to);
      if (!transport?.followUp || !instance) continue;
      const attemptSignal = AbortSignal.any([AbortSignal.timeout(instance.timeouts[transport.id]), ...(signal ? [signal] : [])]);
      const outcome = await transport.followUp(envelope, { instance, signal: attemptSignal, logger: this.#logger }).catch((error: unknown) => {
        this.#logger.debug({ envelopeId: envelope.id, transport: transport.id, err: this.#describe(error) }, "follow-up could not ask the target");
        return undefined;
      });
      if (outcome?.status === "delivered") outbox.markFollowedUp(envelope.id, envelope.to);
      if (outcome?.status === "held" || outcome?.status === "refused") {
        outbox.markFollowedUp(envelope.id, envelope.to, outcome.status);
        this.#logger.warn({ envelopeId: envelope.id, to: envelope.to, transport: transport.id, reason: outcome.reason }, `${outcome.status} by the receiver's policy`);
      }
      if (outcome?.status === "lost") {
        outbox.requeue({ ...envelope, redelivery: (envelope.redelivery ?? 0) + 1 }, `${transport.id}: ${outcome.reason}`);
        this.#logger.warn({ envelopeId: envelope.id, to: envelope.to, transport: transport.id }, "accepted but lost by the target; queued again");
      }
      if (outcome?.status === "unsuitable") {
        outbox.requeue(envelope, `${transport.id}: ${outcome.reason}`, new Date(), [transport.id]);
        this.#logger.warn({ envelopeId: envelope.id, to: envelope.to, transport: transport.id, reason: outcome.reason }, "the target could not use it; queued for another transport");
      }
    }
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
