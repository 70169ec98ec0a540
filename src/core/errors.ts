import type { ErrorCode } from "./error-codes.js";

/**
 * How a failure steers the dispatcher:
 * - `unavailable`: this transport cannot deliver now (not configured, refused, unreachable): try the next one.
 * - `transient`: a passing fault (connection reset, server busy): retry this transport, then move on.
 * - `fatal`: the input itself is bad; no transport will do better: stop.
 * - `timeout`: the attempt ran out of time and was aborted: try the next transport.
 */
export type FailureClass = "unavailable" | "transient" | "fatal" | "timeout";

export interface InterInstanceErrorOptions {
  /** What the user can do about it, e.g. the exact command or setting to change. */
  readonly hint?: string;
  /** A stable machine-readable reason such as `AUTH_FAILED` or `PAIRING_REQUIRED`. */
  readonly code?: ErrorCode;
  readonly cause?: unknown;
  /** For transient failures: how long the other side asked us to wait before retrying. */
  readonly retryAfterMs?: number;
}

/** Base class of every error this library throws on purpose. */
export class InterInstanceError extends Error {
  readonly hint: string | undefined;
  readonly code: ErrorCode;
  readonly retryAfterMs: number | undefined;

  constructor(message: string, options: InterInstanceErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.hint = options.hint;
    this.code = options.code ?? "ERROR";
    this.retryAfterMs = options.retryAfterMs;
  }
}

/** A failure of one delivery attempt, classified for the dispatcher. */
export abstract class TransportError extends InterInstanceError {
  abstract readonly failureClass: FailureClass;
}

export class UnavailableError extends TransportError {
  readonly failureClass = "unavailable";
}

/**
 * This transport cannot carry this one message (too large for the target's model, say), though the
 * path is fine: the next transport tries, and later messages still use this one.
 */
export class UnsuitableMessageError extends TransportError {
  readonly failureClass = "unavailable";
}

export class TransientError extends TransportError {
  readonly failureClass = "transient";
}

export class FatalError extends TransportError {
  readonly failureClass = "fatal";
}

export class TransportTimeoutError extends TransportError {
  readonly failureClass = "timeout";
}

/** Bad configuration or input, found before anything was sent. `path` names the offending field. */
export class ValidationError extends InterInstanceError {
  readonly issues: readonly { readonly path: string; readonly message: string }[];

  constructor(message: string, issues: readonly { readonly path: string; readonly message: string }[], options: InterInstanceErrorOptions = {}) {
    super(message, { code: "INVALID_INPUT", ...options });
    this.issues = issues;
  }
}

/** The name given as a target matches no configured instance or alias. */
export class UnknownInstanceError extends InterInstanceError {
  readonly target: string;

  constructor(target: string, known: readonly string[]) {
    super(`No instance is called "${target}".`, {
      code: "UNKNOWN_INSTANCE",
      hint: known.length > 0 ? `Known instances and aliases: ${known.join(", ")}.` : "No instances are configured.",
    });
    this.target = target;
  }
}

export function failureClassOf(error: unknown): FailureClass {
  if (error instanceof TransportError) return error.failureClass;
  // An error no transport classified is a bug or an unforeseen fault: let the next transport try.
  return "unavailable";
}
