import type { GatewayConnection } from "./connection.js";

/** A transcript row as `chat.history` returns it (only the fields this library reads). */
export interface TranscriptRow {
  readonly role?: string;
  readonly content?: unknown;
  readonly idempotencyKey?: string;
  readonly __openclaw?: { readonly idempotencyKey?: string; readonly runId?: string; readonly seq?: number };
}

export interface Transcript {
  readonly messages: readonly TranscriptRow[];
  /** Inputs queued behind the active run; they enter `messages` only when their run starts. */
  readonly pendingInputs: unknown;
}

/** How many recent rows a lookup reads. */
const HISTORY_LIMIT = 100;

export async function readTranscript(connection: GatewayConnection, sessionKey: string, signal: AbortSignal): Promise<Transcript> {
  const history = await connection.request<{ messages?: readonly TranscriptRow[]; pendingInputs?: unknown }>(
    "chat.history",
    { sessionKey, limit: HISTORY_LIMIT },
    { signal },
  );
  return { messages: history.messages ?? [], pendingInputs: history.pendingInputs ?? null };
}

/** How many inputs wait in the session's queue, from any sender (`total` counts all, whatever the `limit`). */
export async function readQueuedCount(connection: GatewayConnection, sessionKey: string, signal: AbortSignal): Promise<number> {
  const history = await connection.request<{ pendingInputs?: { total?: unknown } }>("chat.history", { sessionKey, limit: 1 }, { signal });
  const total = history.pendingInputs?.total;
  return typeof total === "number" ? total : 0;
}

/** The plain text of a row's content: a string, or the text parts of an array. */
export function rowText(content: unknown): string {
  if (typeof content === "string") return content;
  if (!Array.isArray(content)) return "";
  return content
    .map((part: unknown) => (part && typeof part === "object" && "text" in part && typeof part.text === "string" ? part.text : ""))
    .join("");
}
