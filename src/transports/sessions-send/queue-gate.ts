import { setTimeout as delay } from "node:timers/promises";

/** How long a full window waits, by default, before it asks the target how many messages are still queued. */
const DRAIN_POLL_MS = 500;

/** Asks the target session how many inputs wait in its queue right now. */
export type QueuedCount = (signal: AbortSignal) => Promise<number>;

/**
 * Keeps the messages waiting in a target session under a window. OpenClaw queues what arrives
 * while a turn runs (`messages.queue`, cap 20 by default) and folds the overflow into a one-line
 * summary, so an unpaced burst loses messages that `sessions.send` had already accepted; its A2A
 * channel is stricter still and needs a window of one.
 *
 * Sends count against the window locally; only a full window asks the target (`queuedCount`), so
 * an idle or lightly used session costs no extra round trip.
 */
export class SessionQueueGate {
  readonly #queued = new Map<string, number>();
  readonly #turn = new Map<string, Promise<unknown>>();

  /**
   * Waits until one more message fits in the session's queue and reserves its place. Call the
   * returned function if the message was not accepted after all, to give the place back.
   */
  async admit(session: string, window: number, queuedCount: QueuedCount, signal: AbortSignal, pollMs = DRAIN_POLL_MS): Promise<() => void> {
    // Admissions to one session run one at a time, so a pipelined burst cannot overshoot the window.
    const previous = this.#turn.get(session) ?? Promise.resolve();
    const admitted = previous.catch(() => undefined).then(() => this.#reserve(session, window, queuedCount, signal, pollMs));
    this.#turn.set(session, admitted);
    try {
      await admitted;
    } finally {
      if (this.#turn.get(session) === admitted) this.#turn.delete(session);
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.#queued.set(session, Math.max(0, (this.#queued.get(session) ?? 1) - 1));
    };
  }

  async #reserve(session: string, window: number, queuedCount: QueuedCount, signal: AbortSignal, pollMs: number): Promise<void> {
    let queued = this.#queued.get(session) ?? 0;
    while (queued >= window) {
      signal.throwIfAborted();
      queued = await queuedCount(signal);
      if (queued >= window) await delay(pollMs, undefined, { signal }).catch(() => signal.throwIfAborted());
    }
    this.#queued.set(session, queued + 1);
  }
}
