import type { GatewayConnection } from "./connection.js";

/** A transcript row as `chat.history` returns it (only the fields this library reads). */
export interface TranscriptRow {
  readonly role?: string;
  readonly content?: unknown;
  readonly idempotencyKey?: string;
  /** `error` on the row a failed turn leaves (`<key>:terminal-error`), e.g. a context overflow. */
  readonly stopReason?: string;
  readonly __openclaw?: { readonly idempotencyKey?: string; readonly runId?: string; readonly seq?: number };
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
  return content
    .map((part: unknown) => (part && typeof part === "object" && "text" in part && typeof part.text === "string" ? part.text : ""))
    .join("");
}
