import type { Logger } from "pino";
import type { Instance } from "../config/registry.js";
import type { TransportId } from "../config/schema.js";
import type { FileSource } from "./attachments/held-files.js";
import type { Envelope } from "./envelope.js";

/**
 * - `delivered`: seen in the target session or file.
 * - `accepted`: the target took it (e.g. the Gateway started a run); the reply is pending.
 * - `written`: stored where the target will find it (its memory file), not yet seen by its agent.
 */
export type ReceiptStatus = "delivered" | "accepted" | "written";

export interface Receipt {
  readonly status: ReceiptStatus;
  /** Transport-specific facts: a run id, a file path, whether the target had it already. */
  readonly detail: Readonly<Record<string, string | number | boolean>>;
}

/** What a transport found when it looked for an envelope after an ambiguous failure. */
export type Confirmation =
  | { readonly landed: true; readonly receipt: Receipt }
  /** `not found`: not at the target; `never sent`: it did not leave this host; `lost`: the target holds it but will not run it (interrupted by a restart, or cancelled). */
  | { readonly landed: false; readonly reason: "not found" | "never sent" | "lost" };

/**
 * `lost`: the target holds it but will never run it; sending it again the same way may work.
 * `unsuitable`: a turn ran with it and failed because of the message itself (too large for the
 * target's model): only another transport can carry it.
 */
export type FollowUp =
  | { readonly status: "delivered" }
  /** `custody`: who holds it meanwhile, when the target says: its session (the row is written) or its queue. */
  | { readonly status: "waiting"; readonly custody?: "in session" | "queued" }
  | { readonly status: "lost"; readonly reason: string }
  /** The receiver's inbound policy kept it from its agent: held for its owner, or refused. Not sent again. */
  | { readonly status: "held" | "refused"; readonly reason: string }
  | { readonly status: "unsuitable"; readonly reason: string };

export type Applicability = { readonly ok: true } | { readonly ok: false; readonly reason: string };

export interface DeliveryContext {
  readonly instance: Instance;
  /** Aborted when the attempt times out or the caller gives up; transports must stop their work. */
  readonly signal: AbortSignal;
  readonly logger: Logger;
  /** The bytes of the files the envelope lists (`envelope.files`), checked against their size and digest. */
  readonly files?: FileSource | undefined;
  /**
   * Set while another path may carry the same message (a first contact raced against the next
   * transport): a transport awaits it right before the step after which the target may hold the
   * message. It waits while the other path is sending and rejects once that path delivered it.
   */
  readonly claim?: (() => Promise<void>) | undefined;
}

/** One way of reaching another instance. */
export interface Transport {
  readonly id: TransportId;
  /**
   * Sends to many targets may all be in flight at once (a broker publish: the acks come back
   * pipelined on one connection); a group send then does not hold them to its concurrency limit.
   */
  readonly pipelined?: boolean;
  /** Whether this transport can reach the instance at all (configured, capability present). Pure. */
  applies(instance: Instance, envelope: Envelope): Applicability;
  /**
   * For a link never seen (no handshake on record): how long this transport may take before the
   * dispatcher starts the next one alongside it. Undefined: tried alone, its own budgets apply. A
   * transport that gives one must await `DeliveryContext.claim` before its message leaves.
   */
  headStartMs?(instance: Instance): number | undefined;
  /**
   * Starts what a delivery to this instance will first need (a handshake), so that it runs while the
   * dispatcher does its own work (the outbox, the signature). Sends nothing and never throws or
   * rejects: a failure here is met again, and reported, by `deliver`. A promise it returns says
   * when the part that needs this thread is done (sessions_send: the Gateway's challenge answered):
   * the dispatcher waits for that before its own work, which would otherwise hold the handshake back.
   */
  prepare?(instance: Instance): void | Promise<void>;
  /** Delivers once; throws a classified `TransportError` on failure. */
  deliver(envelope: Envelope, context: DeliveryContext): Promise<Receipt>;
  /**
   * After a timeout or a lost connection the target may have taken the envelope anyway. Looks for
   * it there. Throws when it cannot tell.
   */
  confirm?(envelope: Envelope, context: DeliveryContext): Promise<Confirmation>;
  /**
   * Cheaply answers "could you deliver to this instance right now?" (reachable, auth accepted,
   * binary present, directory writable) without sending anything. Resolves with what was checked;
   * throws a classified `TransportError` with the fix when the path is dead.
   */
  probe?(instance: Instance, signal: AbortSignal): Promise<string>;
  /**
   * For `ask`: waits for the target agent's answer to an envelope this transport delivered, until
   * `context.signal` aborts. Transports that cannot see a reply (a file, a human channel) leave it out.
   */
  awaitReply?(envelope: Envelope, receipt: Receipt, context: DeliveryContext): Promise<string>;
  /**
   * For `delegate`: looks once for the target agent's answer to an envelope this transport
   * delivered. Undefined while there is none yet; throws a `FatalError` when none will come (its
   * inbound policy refused it, its task failed).
   */
  checkReply?(envelope: Envelope, receipt: Receipt, context: DeliveryContext): Promise<string | undefined>;
  /**
   * For an envelope this transport left `accepted` (held by the target, not yet run): where is it
   * now? `lost` only on the target's own evidence that it will never run.
   */
  followUp?(envelope: Envelope, context: DeliveryContext, record?: { readonly acceptedAt: Date }): Promise<FollowUp>;
  close?(): Promise<void>;
}

export const APPLIES: Applicability = { ok: true };

export function notApplicable(reason: string): Applicability {
  return { ok: false, reason };
}
