import type { Envelope } from "../../core/envelope.js";
import type { GatewayConnection } from "../../gateway/connection.js";
import { readSessionEvidence, readTranscriptRow, type SessionEvidence, type TranscriptRow } from "../../gateway/transcript.js";
import { carriesEnvelope, isOverflowSummary, sessionIdempotencyKey, type TurnOutcome, turnOutcome } from "../shared/session-message.js";

/**
 * Where an accepted `sessions.send` is now, on the target's own evidence:
 * - a turn outcome (`ran`, `pending` = its row is in the transcript, `too_large`, `held`, `refused`);
 * - `queued`: the Gateway holds it as a queued pending input (in its custody, not yet run);
 * - `lost`: nobody will run it: its pending input was interrupted or cancelled, a queue-overflow
 *   summary consumed it, or it is in nobody's custody while the session is quiet (or, past the
 *   commit grace, while it is busy but a later turn has run);
 * - `unsettled`: the evidence does not decide yet (a run is active, the key is still being staged).
 */
export type Custody =
  | { readonly state: "ran" | "pending" | "queued" }
  | { readonly state: "too_large"; readonly error: string }
  | { readonly state: "held" | "refused"; readonly why: string }
  | { readonly state: "lost"; readonly reason: string }
  | { readonly state: "unsettled"; readonly reason: string };

/**
 * A steer that slips in as a turn ends waits out this commit timeout before OpenClaw queues it
 * again (`DEFAULT_QUEUE_TRANSCRIPT_COMMIT_TIMEOUT_MS`): until then "not there" is not "lost".
 */
export const COMMIT_GRACE_MS = 120_000;
/** Pages of older rows or pending inputs read before the evidence is called insufficient. */
const MAX_PAGES = 10;

/** Every Gateway idempotency key this envelope was sent under: its id, then one per redelivery. */
export function sessionKeys(envelope: Envelope): string[] {
  return Array.from({ length: (envelope.redelivery ?? 0) + 1 }, (_, redelivery) => sessionIdempotencyKey({ ...envelope, redelivery }));
}

const committedAt = (row: TranscriptRow) => row.__openclaw?.recordTimestampMs;

/**
 * Whether a turn of this session ran to an answer after `since`: a user row committed after it,
 * followed by an assistant row. The session moved on past the moment this input was staged.
 */
export function laterTurnRan(rows: readonly TranscriptRow[], since: number): boolean {
  const firstLater = rows.findIndex((row) => row.role === "user" && (committedAt(row) ?? 0) > since);
  return firstLater >= 0 && rows.slice(firstLater + 1).some((row) => row.role === "assistant");
}

export interface CustodyLookup {
  readonly connection: GatewayConnection;
  readonly sessionKey: string;
  readonly signal: AbortSignal;
  /** When the target acknowledged the current key (ms since the epoch). */
  readonly acceptedAt: number;
  readonly now?: number;
}

/**
 * Settles one accepted envelope on the target's evidence (see `Custody`). Costs one `chat.history`
 * in the common case; more only to page back to an old row, or to read the event that consumed it.
 */
export async function custodyInSession(envelope: Envelope, lookup: CustodyLookup): Promise<Custody> {
  const { connection, sessionKey, signal, acceptedAt } = lookup;
  const current = sessionIdempotencyKey(envelope);
  const first = await readSessionEvidence(connection, sessionKey, sessionKeys(envelope), signal);

  const inRows = outcomeInRows(first, envelope);
  if (inRows) return inRows;

  const receipt = first.inputReceipts.find((candidate) => candidate.runId === current);
  if (receipt?.state === "consumed" && receipt.consumedByEventId) {
    const row =
      first.messages.find((candidate) => candidate.__openclaw?.id === receipt.consumedByEventId) ??
      (await readTranscriptRow(connection, sessionKey, receipt.consumedByEventId, signal).catch(() => undefined));
    if (!row) return { state: "unsettled", reason: "consumed by an event the Gateway does not show yet" };
    if (isOverflowSummary(row))
      return { state: "lost", reason: "the target's follow-up queue was past its cap: it dropped the message and gave its agent only a one-line summary" };
    if (carriesEnvelope(row, envelope.id)) return { state: "pending" };
    return { state: "lost", reason: "consumed by a turn that does not carry its text" };
  }
  if (receipt?.state === "pending") return pendingState(first, current, lookup);
  if (!first.receiptsKnown) {
    const input = first.pendingInputs.find((candidate) => candidate.runId === current);
    if (input && input.state !== "queued")
      return { state: "lost", reason: `the target Gateway marked it ${input.state ?? "released"} and never runs such input by itself` };
    return { state: "unsettled", reason: "the target did not say who holds it" };
  }

  // Neither a row on the newest page nor a pending row: an older page may still hold its row.
  const older = await findInOlderRows(first, envelope, lookup);
  if (older) return older;
  const age = (lookup.now ?? Date.now()) - acceptedAt;
  const movedOn = laterTurnRan(first.messages, acceptedAt);
  // A session that never goes quiet (a backlog, a busy owner) still settles: past the commit grace and
  // a whole later turn, a steered or queued input is in the transcript or pending again, or nowhere.
  if (first.activeRun && !(age >= COMMIT_GRACE_MS && movedOn)) return { state: "unsettled", reason: "not found while a run is active" };
  const wait = await connection.request<{ status?: string }>("agent.wait", { runId: current, timeoutMs: 0 }, { signal }).catch(() => undefined);
  if (wait?.status === "pending") return { state: "unsettled", reason: "the Gateway still has it as a queued run" };
  if (age < COMMIT_GRACE_MS && !movedOn) return { state: "unsettled", reason: "not found yet, within the Gateway's commit grace" };
  return {
    state: "lost",
    reason: first.activeRun
      ? "in nobody's custody: not in the transcript, no pending input, and a later turn has run since"
      : "in nobody's custody: not in the transcript, no pending input, and the session is quiet",
  };
}

function outcomeInRows(evidence: Pick<SessionEvidence, "messages">, envelope: Envelope): Custody | undefined {
  const outcome: TurnOutcome = turnOutcome({ messages: evidence.messages, pendingInputs: [] }, envelope);
  switch (outcome.state) {
    case "absent":
    case "queued":
    case "lost":
      return undefined;
    case "pending":
      return { state: "pending" };
    default:
      return outcome;
  }
}

/** A key whose pending row exists: queued (in custody), or interrupted / cancelled (never run again by the Gateway). */
async function pendingState(first: SessionEvidence, key: string, lookup: CustodyLookup): Promise<Custody> {
  let page = first;
  for (let pages = 0; pages < MAX_PAGES; pages += 1) {
    const input = page.pendingInputs.find((candidate) => candidate.runId === key);
    if (input?.state === "queued") return { state: "queued" };
    if (input) return { state: "lost", reason: `the target Gateway marked it ${input.state ?? "released"} and never runs such input by itself` };
    if (page.pendingBefore === undefined) break;
    page = await readSessionEvidence(lookup.connection, lookup.sessionKey, [key], lookup.signal, { pendingBefore: page.pendingBefore });
  }
  return { state: "unsettled", reason: "held as pending input in a state not listed" };
}

/** Pages back while older rows could have been committed after the send. */
async function findInOlderRows(first: SessionEvidence, envelope: Envelope, lookup: CustodyLookup): Promise<Custody | undefined> {
  let page = first;
  for (let pages = 0; pages < MAX_PAGES && page.nextOffset !== undefined; pages += 1) {
    const oldest = page.messages[0] && committedAt(page.messages[0]);
    if (oldest !== undefined && oldest < lookup.acceptedAt) return undefined;
    page = await readSessionEvidence(lookup.connection, lookup.sessionKey, [], lookup.signal, { offset: page.nextOffset });
    const found = outcomeInRows(page, envelope);
    if (found) return found;
  }
  return page.nextOffset === undefined ? undefined : { state: "unsettled", reason: "the transcript is longer than the pages read" };
}
