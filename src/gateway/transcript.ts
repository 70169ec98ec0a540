import type { GatewayConnection } from "./connection.js";

/** A transcript row as `chat.history` returns it (only the fields this library reads). */
export interface TranscriptRow {
  readonly role?: string;
  readonly content?: unknown;
  readonly idempotencyKey?: string;
  /** `error` on the row a failed turn leaves (`<key>:terminal-error`), e.g. a context overflow. */
  readonly stopReason?: string;
  readonly __openclaw?: {
    readonly idempotencyKey?: string;
    readonly runId?: string;
    readonly seq?: number;
    /** The transcript event id (what a consumed pending input's `consumedByEventId` names). */
    readonly id?: string;
    /** When the Gateway committed the row, ms since the epoch. */
    readonly recordTimestampMs?: number;
  };
}

/** One input the Gateway holds for the session outside its transcript (`pendingInputs.items`). */
export interface PendingInput {
  readonly state?: "queued" | "cancelled" | "interrupted" | (string & {});
  /** The `idempotencyKey` the input was sent with. */
  readonly runId?: string;
  readonly message?: { readonly content?: unknown };
}

export interface Transcript {
  readonly messages: readonly TranscriptRow[];
  /** Inputs held outside the transcript: queued behind the active run, or interrupted / cancelled. */
  readonly pendingInputs: readonly PendingInput[];
}

/**
 * What the Gateway says of an input it staged under this idempotency key, while its pending row
 * exists: still `pending` (queued, or interrupted / cancelled: see `pendingInputs`), or `consumed`
 * by a transcript event (the user row, a collected row, or a queue-overflow summary).
 */
export interface InputReceipt {
  readonly runId: string;
  readonly state: "pending" | "consumed" | (string & {});
  readonly consumedByEventId?: string;
}

/** One page of `chat.history` read with `inputRunIds`: the rows, the custody of each key, whether a run is active. */
export interface SessionEvidence extends Transcript {
  readonly inputReceipts: readonly InputReceipt[];
  /** Whether the Gateway answered for the keys asked about (false: no receipt says nothing). */
  readonly receiptsKnown: boolean;
  readonly activeRun: boolean;
  /** Older rows exist beyond this page; read them with `offset: nextOffset`. */
  readonly nextOffset: number | undefined;
  /** The pending-inputs page is not the last; the next one is read with `pendingBefore`. */
  readonly pendingBefore: number | undefined;
}

/** OpenClaw answers `inputRunIds` for at most this many keys a call. */
export const MAX_INPUT_RUN_IDS = 50;

interface HistoryAnswer {
  readonly messages?: readonly TranscriptRow[];
  readonly pendingInputs?: { readonly items?: readonly PendingInput[]; readonly nextBefore?: number };
  readonly inputReceipts?: readonly InputReceipt[];
  readonly sessionInfo?: { readonly hasActiveRun?: boolean };
  readonly hasMore?: boolean;
  readonly nextOffset?: number;
}

/**
 * A page of the session with the custody of the given idempotency keys (`chat.history { inputRunIds }`,
 * OpenClaw 2026.9). `offset` reads older rows, `pendingBefore` older pending inputs.
 */
export async function readSessionEvidence(
  connection: GatewayConnection,
  sessionKey: string,
  keys: readonly string[],
  signal: AbortSignal,
  page: { readonly offset?: number; readonly pendingBefore?: number } = {},
): Promise<SessionEvidence> {
  const ask = (withKeys: boolean) =>
    connection.request<HistoryAnswer>(
      "chat.history",
      { sessionKey, limit: HISTORY_LIMIT, ...(withKeys ? { inputRunIds: keys.slice(0, MAX_INPUT_RUN_IDS) } : {}), ...page },
      { signal },
    );
  // The Gateway refuses the whole read when it holds a key twice ("ambiguous source run IDs"): the page is still worth having.
  const history =
    keys.length === 0 ? await ask(false) : await ask(true).catch(async (error: unknown) => ({ ...(await ask(false)), receiptsRefused: String(error) }));
  return {
    receiptsKnown: keys.length > 0 && !("receiptsRefused" in history),
    messages: history.messages ?? [],
    pendingInputs: history.pendingInputs?.items ?? [],
    inputReceipts: history.inputReceipts ?? [],
    activeRun: history.sessionInfo?.hasActiveRun === true,
    nextOffset: history.hasMore ? history.nextOffset : undefined,
    pendingBefore: history.pendingInputs?.nextBefore,
  };
}

/** One transcript row whole, by its event id (`chat.message.get`); undefined when the Gateway no longer has it. */
export async function readTranscriptRow(
  connection: GatewayConnection,
  sessionKey: string,
  messageId: string,
  signal: AbortSignal,
): Promise<TranscriptRow | undefined> {
  const answer = await connection.request<{ message?: TranscriptRow }>("chat.message.get", { sessionKey, messageId }, { signal });
  return answer.message;
}

/** How many recent rows a lookup reads. */
const HISTORY_LIMIT = 100;

export async function readTranscript(connection: GatewayConnection, sessionKey: string, signal: AbortSignal): Promise<Transcript> {
  const history = await connection.request<{ messages?: readonly TranscriptRow[]; pendingInputs?: { items?: readonly PendingInput[] } }>(
    "chat.history",
    { sessionKey, limit: HISTORY_LIMIT },
    { signal },
  );
  return { messages: history.messages ?? [], pendingInputs: history.pendingInputs?.items ?? [] };
}

/** The context window, in tokens, of the model the session runs on (as the Gateway reports it). */
export async function readContextWindow(connection: GatewayConnection, sessionKey: string, signal: AbortSignal): Promise<number | undefined> {
  const history = await connection.request<{ sessionInfo?: { contextTokens?: number }; defaults?: { contextTokens?: number } }>(
    "chat.history",
    { sessionKey, limit: 1 },
    { signal },
  );
  const tokens = history.sessionInfo?.contextTokens ?? history.defaults?.contextTokens;
  return typeof tokens === "number" && tokens > 0 ? tokens : undefined;
}

/**
 * How many inputs, from any sender, wait in the session's queue to run. Interrupted (a Gateway
 * restart) and cancelled inputs stay among the pending inputs, and in `total`, but never run.
 */
export async function readQueuedCount(connection: GatewayConnection, sessionKey: string, signal: AbortSignal): Promise<number> {
  return (await readTranscript(connection, sessionKey, signal)).pendingInputs.filter((input) => input.state === "queued").length;
}

/** The plain text of a row's content: a string, or the text parts of an array. */
export function rowText(content: unknown): string {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  return content.map((part: unknown) => (part && typeof part === "object" && "text" in part && typeof part.text === "string" ? part.text : "")).join("");
}
