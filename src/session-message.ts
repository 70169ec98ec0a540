import type { Envelope } from "./envelope.js";
import type { GatewayConnection } from "./gateway/connection.js";
import { readTranscript, rowText, type Transcript } from "./gateway/transcript.js";
import type { Confirmation } from "./transport.js";

const marker = (envelopeId: string) => `via openclaw-inter-instance, id ${envelopeId}]`;

/**
 * The text a target session receives. The first line names the sender and the envelope id, and
 * keeps a body that starts with "/" from reading as a slash command of the target's owner.
 */
export function formatSessionMessage(envelope: Envelope): string {
  return `[Message from ${envelope.from} ${marker(envelope.id)}\n${envelope.body}`;
}

/** The Gateway idempotency key of a delivery: the envelope id, and a fresh one for each redelivery. */
export function sessionIdempotencyKey(envelope: Envelope): string {
  return envelope.redelivery ? `${envelope.id}:redelivery-${envelope.redelivery}` : envelope.id;
}

/** The control characters a Gateway strips from chat messages (it keeps tab, LF and CR). */
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
  if (/\s$/u.test(body)) return "the body ends in whitespace, which the Gateway trims from chat messages";
  return undefined;
}

/**
 * The agent's answer to an envelope: the text of the first assistant row after the envelope's
 * user row (turns in one session run one at a time, so that row is this envelope's turn).
 */
export function replyInTranscript(transcript: Transcript, envelopeId: string): string | undefined {
  const userKey = `${envelopeId}:user`;
  const header = marker(envelopeId);
  const index = transcript.messages.findIndex(
    (row) => row.idempotencyKey === userKey || row.__openclaw?.idempotencyKey === userKey || (row.role === "user" && rowText(row.content).includes(header)),
  );
  if (index < 0) return undefined;
  for (const row of transcript.messages.slice(index + 1)) {
    if (row.role === "user") return undefined;
    if (row.role === "assistant" && rowText(row.content).trim() !== "") return rowText(row.content);
  }
  return undefined;
}

/**
 * Where an envelope sent into a session shows up: a user row carrying its idempotency key or its
 * header line (transports that cannot set the key); an input queued behind the active run; or an
 * input the Gateway holds but will never run (`lost`: interrupted by a restart, or cancelled).
 */
export function findInTranscript(transcript: Transcript, envelopeId: string): "transcript" | "queued" | "lost" | undefined {
  const userKey = `${envelopeId}:user`;
  const header = marker(envelopeId);
  const inTranscript = transcript.messages.some(
    (row) => row.idempotencyKey === userKey || row.__openclaw?.idempotencyKey === userKey || (row.role === "user" && rowText(row.content).includes(header)),
  );
  if (inTranscript) return "transcript";
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
