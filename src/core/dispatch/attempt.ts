import { setTimeout as delay } from "node:timers/promises";
import pRetry from "p-retry";
import type { Logger } from "pino";
import type { Instance } from "../../config/registry.js";
import { withDeadline } from "../../util/deadline.js";
import type { Envelope } from "../envelope.js";
import { TransientError, TransportTimeoutError, UnsuitableMessageError } from "../errors.js";
import type { Receipt, Transport } from "../transport.js";
import { type DispatchContext, msSince } from "./context.js";
import { describeError } from "./diagnose.js";
import type { Attempt } from "./report.js";

// A look into the target after an ambiguous failure. On a loaded machine one look can run out
// (run2 of session 13: "could not check" at 10 s under a hog), so a look that runs out of time is
// taken once more with twice the time before the attempt counts as unchecked.
const CONFIRM_TIMEOUT_MS = 10_000;
const CONFIRM_LOOKS = 2;
const MAX_RETRY_AFTER_MS = 10_000;

export interface AttemptResult {
  readonly report: Attempt;
  readonly receipt?: Receipt;
  /** The failure was about this message (it cannot go this way), not about the path. */
  readonly aboutTheMessage?: boolean;
}

/**
 * One transport's part in a delivery: each try under the instance's timeout for it (whose expiry
 * aborts the transport's work), transient failures retried with backoff, and after an ambiguous
 * failure a look at the target to see whether it landed anyway.
 */
export async function attempt(
  context: DispatchContext,
  transport: Transport,
  envelope: Envelope,
  instance: Instance,
  logger: Logger,
  callerSignal: AbortSignal | undefined,
  /** Another path may carry the same message meanwhile: the transport enters through this before it sends. */
  claim?: () => Promise<void>,
): Promise<AttemptResult> {
  const started = performance.now();
  const timeoutMs = instance.timeouts[transport.id];
  let tries = 0;
  const tryOnce = (): Promise<Receipt> => {
    tries += 1;
    return withDeadline(
      (signal) =>
        transport.deliver(envelope, { instance, signal, logger: logger.child({ transport: transport.id }), files: context.files, ...(claim ? { claim } : {}) }),
      {
        milliseconds: timeoutMs,
        signal: callerSignal,
        onTimeout: () =>
          new TransportTimeoutError(`${transport.id} did not finish within ${timeoutMs} ms; its work was aborted.`, {
            code: "TIMEOUT",
            hint: `Raise timeouts.${transport.id} for this instance if the target is slow.`,
          }),
      },
    );
  };
  try {
    const receipt = await pRetry(tryOnce, {
      retries: context.registry.retries,
      minTimeout: context.retryMinTimeoutMs,
      factor: 2,
      randomize: true,
      ...(callerSignal ? { signal: callerSignal } : {}),
      shouldRetry: ({ error }) => error instanceof TransientError,
      onFailedAttempt: async ({ error, attemptNumber, retriesLeft }) => {
        logger.debug({ transport: transport.id, attemptNumber, retriesLeft, error: describeError(error, context.secrets) }, "attempt failed");
        // A busy peer says when to come back; p-retry's own backoff follows on top of that.
        if (error instanceof TransientError && error.retryAfterMs && retriesLeft > 0) {
          await delay(Math.min(error.retryAfterMs, MAX_RETRY_AFTER_MS), undefined, callerSignal ? { signal: callerSignal } : {});
        }
      },
    });
    return { report: { transport: transport.id, outcome: receipt.status, tries, ms: msSince(started) }, receipt };
  } catch (error) {
    if (callerSignal?.aborted) throw callerSignal.reason;
    const described = describeError(error, context.secrets);
    logger.info({ transport: transport.id, tries, error: described }, "transport failed");
    const failed: Attempt = { transport: transport.id, outcome: described.class, tries, ms: msSince(started), error: described };
    if (error instanceof UnsuitableMessageError) return { report: failed, aboutTheMessage: true };
    if (!transport.confirm || (described.class !== "timeout" && described.class !== "transient")) return { report: failed };
    // The target may have taken it before the failure; sending it through another path could show it twice.
    const check = await confirm(context, transport, envelope, instance, logger);
    if (check.receipt) {
      logger.info({ transport: transport.id }, "landed despite the failure");
      return { report: { ...failed, outcome: check.receipt.status, ms: msSince(started), checked: "landed" }, receipt: check.receipt };
    }
    return { report: { ...failed, ms: msSince(started), checked: check.checked } };
  }
}

async function confirm(
  context: DispatchContext,
  transport: Transport,
  envelope: Envelope,
  instance: Instance,
  logger: Logger,
): Promise<{ receipt?: Receipt; checked: NonNullable<Attempt["checked"]> }> {
  let lastError: unknown;
  for (let look = 1; look <= CONFIRM_LOOKS; look += 1) {
    const milliseconds = CONFIRM_TIMEOUT_MS * look;
    const ranOut = new Error(`no answer in ${milliseconds} ms`);
    try {
      const confirmation = await withDeadline((signal) => transport.confirm!(envelope, { instance, signal, logger }), {
        milliseconds,
        onTimeout: () => ranOut,
      });
      return confirmation.landed ? { receipt: confirmation.receipt, checked: "landed" } : { checked: confirmation.reason };
    } catch (error) {
      lastError = error;
      if (error !== ranOut) break;
      logger.info({ transport: transport.id, look, ms: milliseconds }, "the look into the target ran out of time");
    }
  }
  return { checked: `could not check: ${describeError(lastError, context.secrets).message}` };
}
