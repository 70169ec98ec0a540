/** The inter-instance conversation a session's current turn is handling, if any. */
export interface Thread {
  readonly conversation: string;
  readonly hop: number;
  readonly peer: string;
}

/**
 * Which conversation each session is in the middle of: set when a turn carries a message from
 * another instance, cleared when a turn carries none. A message the agent sends in that turn
 * continues the conversation at the next hop, so loop limits can count it.
 */
export class ConversationThreads {
  readonly #bySession = new Map<string, Thread>();

  /** A turn starts in `sessionKey`, carrying these inter-instance messages (the last one decides). */
  turnStarted(sessionKey: string | undefined, carried: readonly Thread[]): void {
    if (!sessionKey) return;
    const last = carried.at(-1);
    if (last) this.#bySession.set(sessionKey, last);
    else this.#bySession.delete(sessionKey);
  }

  /** More messages found later in the same turn (its chat text, after its injections). */
  add(sessionKey: string | undefined, carried: readonly Thread[]): void {
    const last = carried.at(-1);
    if (sessionKey && last) this.#bySession.set(sessionKey, last);
  }

  /** The conversation and hop a message sent from this session now continues. */
  next(sessionKey: string | undefined): { conversation: string; hop: number } | undefined {
    const thread = sessionKey ? this.#bySession.get(sessionKey) : undefined;
    return thread && { conversation: thread.conversation, hop: thread.hop + 1 };
  }
}
