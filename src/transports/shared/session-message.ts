import type { Envelope } from "../../core/envelope.js";
import type { Confirmation } from "../../core/transport.js";
import type { GatewayConnection } from "../../gateway/connection.js";
import { readTranscript, rowText, type Transcript, type TranscriptRow } from "../../gateway/transcript.js";
import { policyMarkersIn } from "../../trust/policy-marker.js";
import { signatureTrailer } from "../../trust/session-verdicts.js";

const marker = (envelopeId: string) => `via openclaw-inter-instance, id ${envelopeId}]`;

/**
 * The text a target session receives. The first line names the sender and the envelope id, and
 * keeps a body that starts with "/" from reading as a slash command of the target's owner.
 */
export function formatSessionMessage(envelope: Envelope): string {
  return `[Message from ${envelope.from} ${marker(envelope.id)}\n${envelope.body}${signatureTrailer(envelope)}`;
}

/** The Gateway idempotency key of a delivery: the envelope id, and a fresh one for each redelivery. */
export function sessionIdempotencyKey(envelope: Envelope): string {
  return envelope.redelivery ? `${envelope.id}:redelivery-${envelope.redelivery}` : envelope.id;
}

/** The control characters a Gateway strips from chat messages (it keeps tab, LF and CR). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: these control characters are what it strips
const STRIPPED_CONTROL = /[\u0001-\u0008\u000B\u000C\u000E-\u001F\u007F]/u;

const codePoint = (char: string) => `U+${char.codePointAt(0)!.toString(16).toUpperCase().padStart(4, "0")}`;

/**
 * Why a Gateway chat message cannot carry this body byte-exact, if it cannot: checked before
 * sending. The Gateway refuses NUL, normalizes to NFC, strips control characters (2026.9.x
 * `sanitizeChatSendMessageInput`) and trims trailing whitespace.
 */
export function chatMessageRefusal(envelope: Envelope): string | undefined {
  const { body } = envelope;
  if (body.includes("\u0000")) return "the body has NUL bytes, which the Gateway refuses in chat messages";
  const control = STRIPPED_CONTROL.exec(body)?.[0];
  if (control) return `the body has control characters (${codePoint(control)}), which the Gateway strips from chat messages`;
  if (body.normalize("NFC") !== body) return "the body is not in Unicode NFC form, and the Gateway normalizes chat messages to NFC";
  return trailingWhitespaceRefusal(envelope);
}

/** OpenClaw trims the end of every chat message it stores, on each path into a session. */
export function trailingWhitespaceRefusal(envelope: Envelope): string | undefined {
  return /\s$/u.test(envelope.body) ? "the body ends in whitespace, which the Gateway trims from chat messages" : undefined;
}

/**
 * A rough token count of a text, as model tokenizers give it: a CJK or other wide character about
 * one token, other text about four characters a token.
 */
export function estimatedTokens(text: string): number {
  let wide = 0;
  let narrow = 0;
  for (const char of text) {
    if (char.codePointAt(0)! >= 0x2e80) wide += 1;
    else narrow += 1;
  }
  return wide + Math.ceil(narrow / 4);
}

const keyOf = (row: TranscriptRow) => row.idempotencyKey ?? row.__openclaw?.idempotencyKey;

/**
 * The row a Gateway writes in place of follow-ups its queue dropped past its cap: it quotes each
 * dropped message's first line, header included, but not the message (the agent never got it).
 */
export function isOverflowSummary(row: TranscriptRow): boolean {
  return keyOf(row)?.startsWith("followup-overflow:") === true || (row.role === "user" && rowText(row.content).startsWith("[Queue overflow]"));
}

/** The user row of an envelope: by its idempotency key, or by its header line (transports that cannot set the key). */
function isEnvelopeRow(row: TranscriptRow, envelopeId: string): boolean {
  if (keyOf(row) === `${envelopeId}:user`) return true;
  return row.role === "user" && !isOverflowSummary(row) && rowText(row.content).includes(marker(envelopeId));
}

/** Whether a transcript row carries this envelope (its own user row, or a row that collected several). */
export function carriesEnvelope(row: TranscriptRow, envelopeId: string): boolean {
  return isEnvelopeRow(row, envelopeId);
}

/** OpenClaw's words for a turn whose prompt did not fit the model (agent.wait's error, the terminal-error row). */
const CONTEXT_OVERFLOW = /context overflow|too large for the model|maximum context length|larger context window/iu;

export function isContextOverflow(text: string): boolean {
  return CONTEXT_OVERFLOW.test(text);
}

/**
 * The agent's answer to an envelope: the text of the first assistant row after the envelope's
 * user row (turns in one session run one at a time, so that row is this envelope's turn). The row
 * a failed turn leaves (`stopReason: "error"`) is the Gateway's, not the agent's.
 */
export function replyInTranscript(transcript: Transcript, envelopeId: string): string | undefined {
  const index = transcript.messages.findIndex((row) => isEnvelopeRow(row, envelopeId));
  if (index < 0) return undefined;
  for (const row of transcript.messages.slice(index + 1)) {
    if (row.role === "user") return undefined;
    if (row.role === "assistant" && row.stopReason !== "error" && rowText(row.content).trim() !== "") return rowText(row.content);
  }
  return undefined;
}

/**
 * What became of the turn that one `sessions.send` (by its idempotency key) started:
 * - `ran`: an assistant row of the agent follows the message, so a model request held it;
 * - `too_large`: the turn failed on context overflow, and every later turn will too;
 * - `pending`: in the transcript, no turn has answered yet (running, or failed otherwise: a later
 *   turn still sees it in the history);
 * - `queued` / `lost` / `absent`: still waiting outside the transcript, held for good, or not there.
 */
export type TurnOutcome =
  | { readonly state: "ran" }
  | { readonly state: "too_large"; readonly error: string }
  /** The receiver's inbound policy kept it from the agent (its plugin left this receipt in the transcript instead). */
  | { readonly state: "held" | "refused"; readonly why: string }
  | { readonly state: "pending" | "queued" | "lost" | "absent" };

/** The receiving plugin's receipt for this envelope in place of the chat message, if it left one. */
function policyReceipt(transcript: Transcript, envelopeId: string): TurnOutcome | undefined {
  for (const row of transcript.messages) {
    if (row.role !== "user") continue;
    const receipt = policyMarkersIn(rowText(row.content)).get(envelopeId);
    // Moved into the next turn: it will run there, as an injection (followed up as pending).
    if (receipt) return receipt.state === "requeued" ? { state: "pending" } : { state: receipt.state, why: receipt.why };
  }
  return undefined;
}

export function turnOutcome(transcript: Transcript, envelope: Envelope): TurnOutcome {
  const receipt = policyReceipt(transcript, envelope.id);
  if (receipt) return receipt;
  const idempotencyKey = sessionIdempotencyKey(envelope);
  // By its own key, or by its header inside a row that collected several queued messages.
  const index = transcript.messages.findIndex((row) => keyOf(row) === `${idempotencyKey}:user` || isEnvelopeRow(row, envelope.id));
  if (index < 0) {
    const held = transcript.pendingInputs.filter((input) => input.runId === idempotencyKey);
    if (held.some((input) => input.state === "queued")) return { state: "queued" };
    return { state: held.length > 0 ? "lost" : "absent" };
  }
  for (const row of transcript.messages.slice(index + 1)) {
    if (row.role !== "assistant") continue;
    if (row.stopReason === "error") {
      const error = rowText(row.content);
      if (keyOf(row) === `${idempotencyKey}:terminal-error` && isContextOverflow(error)) return { state: "too_large", error };
      continue;
    }
    return { state: "ran" };
  }
  return { state: "pending" };
}

/**
 * Where an envelope sent into a session shows up: a user row carrying its idempotency key or its
 * header line (transports that cannot set the key); an input queued behind the active run; or an
 * input the Gateway holds but will never run (`lost`: interrupted by a restart, or cancelled).
 */
export function findInTranscript(transcript: Transcript, envelopeId: string): "transcript" | "queued" | "lost" | undefined {
  if (transcript.messages.some((row) => isEnvelopeRow(row, envelopeId))) return "transcript";
  const header = marker(envelopeId);
  const held = transcript.pendingInputs.filter((input) => input.runId === envelopeId || rowText(input.message?.content).includes(header));
  if (held.some((input) => input.state === "queued")) return "queued";
  return held.length > 0 ? "lost" : undefined;
}

/** Looks for an envelope sent into a session: delivered when in the transcript, accepted when still queued. */
export async function confirmInSession(
  connection: GatewayConnection,
  sessionKey: string,
  envelopeId: string,
  signal: AbortSignal,
  detail: Readonly<Record<string, string>> = {},
): Promise<Confirmation> {
  const found = findInTranscript(await readTranscript(connection, sessionKey, signal), envelopeId);
  if (found === "lost") return { landed: false, reason: "lost" };
  if (!found) return { landed: false, reason: "not found" };
  return {
    landed: true,
    receipt: {
      status: found === "transcript" ? "delivered" : "accepted",
      detail: { ...detail, gatewayStatus: found === "transcript" ? "in transcript" : "pending input", sessionKey },
    },
  };
}
