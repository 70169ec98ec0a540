import pTimeout from "p-timeout";
import { withoutStackTraces } from "./stack.js";

export interface DeadlineOptions {
  /** How long the work may take. */
  readonly milliseconds: number;
  /** The caller's signal: aborting it aborts the work too. */
  readonly signal?: AbortSignal | undefined;
  /** The error the work is aborted with, and rejected with, when the time is up. */
  readonly onTimeout: () => Error;
}

/**
 * Runs `work` with a signal that aborts at the deadline or when the caller aborts. At the deadline
 * the promise rejects with `onTimeout()`'s error at once, whether or not the work heeds its signal.
 */
export function withDeadline<T>(work: (signal: AbortSignal) => Promise<T>, options: DeadlineOptions): Promise<T> {
  const controller = new AbortController();
  const signal = options.signal ? AbortSignal.any([controller.signal, options.signal]) : controller.signal;
  const running = work(signal);
  // p-timeout makes its own timeout error up front, stack and all; with a fallback that error is never seen.
  return withoutStackTraces(() =>
    pTimeout(running, {
      milliseconds: options.milliseconds,
      fallback: () => {
        const error = options.onTimeout();
        controller.abort(error);
        throw error;
      },
    }),
  );
}

/** A signal that aborts after `milliseconds`, or sooner with the caller's. */
export function deadlineSignal(milliseconds: number, signal?: AbortSignal): AbortSignal {
  return signal ? AbortSignal.any([AbortSignal.timeout(milliseconds), signal]) : AbortSignal.timeout(milliseconds);
}
