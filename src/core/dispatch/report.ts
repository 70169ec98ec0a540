import type { TransportId } from "../../config/schema.js";
import type { FileInput } from "../attachments/prepare.js";
import type { ErrorCode } from "../error-codes.js";
import type { FailureClass } from "../errors.js";
import type { Receipt, ReceiptStatus } from "../transport.js";

export type AttemptOutcome = ReceiptStatus | "skipped" | FailureClass;

export interface AttemptError {
  readonly class: FailureClass;
  readonly name: string;
  readonly code: ErrorCode;
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

/** Where a report comes from: a send (or delivery) call, the outbox trying a queued envelope again, a follow-up redelivering or giving up. */
export type ReportOrigin = "send" | "flush" | "follow-up";

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
  readonly id?: string | undefined;
  /** Continue a conversation (the agent answering another instance's message): its id and this message's hop. */
  readonly conversation?: string | undefined;
  readonly hop?: number | undefined;
  /** The id of the task (or message) this one answers: a verified reply from the task's target settles that task. */
  readonly replyTo?: string | undefined;
  /** Files to carry with the message: bytes or a path on this machine, and the name the receiver sees (made safe). */
  readonly files?: readonly FileInput[] | undefined;
}

export interface SendOptions {
  readonly signal?: AbortSignal | undefined;
  /** Override the instance's transport order for this message. */
  readonly transports?: readonly TransportId[] | undefined;
  /** Put it in the outbox when every transport fails (default true; `ask` turns it off: nobody would wait for the answer). */
  readonly queue?: boolean | undefined;
  /**
   * After the target accepts it, wait up to this long for the evidence that settles it: delivered,
   * or lost by the target and redelivered (see `Dispatcher.settle`). 0 (default): return at acceptance.
   */
  readonly settleMs?: number | undefined;
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
  readonly signal?: AbortSignal | undefined;
  readonly transports?: readonly TransportId[] | undefined;
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
  readonly signal?: AbortSignal | undefined;
  /** Also retry envelopes whose backoff has not run out yet. */
  readonly all?: boolean | undefined;
  /** Deliver at most this many envelopes in this call. */
  readonly limit?: number | undefined;
}

export interface FollowUpLook {
  readonly step: FollowUpStep;
  /** The report of the copy sent again, when the step redelivered it. */
  readonly redelivered?: DeliveryReport;
}

/** The report with one more look: a redelivery's attempts are added and its receipt replaces the old one. */
export function withStep(report: DeliveryReport, step: FollowUpStep, redelivered: DeliveryReport | undefined): DeliveryReport {
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
export function settledStatus(step: FollowUpStep): DeliveryReport["status"] | undefined {
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
