import type { SenderVerdict } from "../trust/frame.js";
import type { InboundDecision } from "../trust/inbound-policy.js";
import { onlyMarkers, policyMarker } from "../trust/policy-marker.js";
import { verdictsInText, type SessionVerdict } from "../trust/session-verdicts.js";
import type { PinnedKeys } from "../trust/sign-envelope.js";
import type { ConversationThreads } from "./conversation-threads.js";
import type { InboundGate, ReplySettler } from "./inbound-gate.js";

const FRAME = /^\[inter-instance (message|task) ([A-Za-z0-9_-]{16}) \|[^\n]*\n[\s\S]*?^\[end of inter-instance \1 \2\]$/gmu;

/** A text without the frames this plugin put around messages it delivered: what is inside one is a body, not a message. */
export function withoutFrames(text: string): string {
  return text.replace(FRAME, "");
}

export interface SessionGateDependencies {
  readonly gate: InboundGate;
  readonly pinned: PinnedKeys;
  readonly threads: ConversationThreads;
  readonly settleReply?: ReplySettler;
  /** Puts an allowed message of a blocked turn into the session's next turn (framed); true once queued. */
  readonly requeue: (message: SessionVerdict & { conversation: string; hop: number }, verdict: SenderVerdict) => Promise<boolean>;
}

export type SessionGateResult = { outcome: "block"; reason: string; message: string } | undefined;

const markerFor = (id: string, decision: InboundDecision): string =>
  decision.action === "hold"
    ? policyMarker("held", id, `kept for the owner of this instance (${decision.reason}); it reaches the agent only if the owner approves it`)
    : policyMarker("refused", id, decision.action === "refuse" ? decision.reason : "refused");

/**
 * The text of a chat message about to be stored, with each inter-instance message the policy
 * holds or refuses replaced by its receipt line. Synchronous, for `before_message_write`: on
 * `sessions.send` what it stores is also what the model reads, so a held body never reaches the
 * transcript or the prompt. (The held store is written by `gate.admit`, which the caller starts.)
 */
export function withHeldReplaced(text: string, pinned: PinnedKeys, decide: (message: SessionVerdict) => InboundDecision): { text: string; kept: { message: SessionVerdict; decision: InboundDecision }[] } {
  const kept = verdictsInText(text, pinned)
    .map((message) => ({ message, decision: decide(message) }))
    .filter(({ decision }) => decision.action !== "allow");
  let rewritten = text;
  for (const { message, decision } of [...kept].reverse()) rewritten = `${rewritten.slice(0, message.start)}${markerFor(message.id, decision)}\n${rewritten.slice(message.end)}`;
  return { text: kept.length === 0 ? text : rewritten.trimEnd(), kept };
}

/**
 * The inbound policy for text that came in as a chat message (sessions_send, agent_cli, a2a), at
 * the last moment before the model reads it. When every message in the turn is allowed, the turn
 * runs. Otherwise it is blocked (OpenClaw then keeps only our replacement text in the transcript):
 * held messages wait in the held store for the owner, refused ones are dropped, allowed ones go
 * into the next turn, and the replacement names each id with what happened to it, which is what
 * the sender's follow-up reads as its receipt.
 */
export async function gateSessionTurn(prompt: string, sessionKey: string | undefined, deps: SessionGateDependencies): Promise<SessionGateResult> {
  const messages = verdictsInText(withoutFrames(prompt), deps.pinned);
  // Every message of the turn was replaced by its receipt when it was stored: no turn to run.
  if (messages.length === 0) return onlyMarkers(prompt) ? { outcome: "block", reason: "inter-instance inbound policy", message: prompt.trim() } : undefined;
  const session = sessionKey ?? "agent:main:main";
  const decided = [];
  for (const message of messages) {
    const arriving = { id: message.id, verdict: message.verdict, body: message.body, transport: "session", sessionKey: session, conversation: message.conversation, hop: message.hop, replyTo: message.replyTo };
    const decision = await deps.gate.admit(arriving);
    // A chat message that answers one of our tasks is shown as it came; the task is settled with it.
    if (decision.action === "allow") await deps.gate.answersTask(arriving, deps.settleReply);
    decided.push({ message, arriving, decision });
  }
  const allowed = decided.filter(({ decision }) => decision.action === "allow");
  deps.threads.add(sessionKey, allowed.map(({ message, decision }) => ({ conversation: decision.conversation, hop: decision.hop, peer: message.verdict.verified ? message.verdict.from : message.verdict.claimedFrom })));
  if (allowed.length === decided.length) {
    for (const { arriving } of decided) deps.gate.record(arriving, "shown");
    return undefined;
  }
  const lines = [];
  for (const { message, arriving, decision } of decided) {
    if (decision.action !== "allow") lines.push(markerFor(message.id, decision));
    else if (await deps.requeue({ ...message, conversation: decision.conversation, hop: decision.hop }, message.verdict)) {
      deps.gate.record(arriving, "surfaced");
      lines.push(policyMarker("requeued", message.id, "allowed; moved into the next turn, apart from the messages held here"));
    } else lines.push(policyMarker("refused", message.id, "allowed, but it could not be moved into the next turn; send it again"));
  }
  return { outcome: "block", reason: "inter-instance inbound policy", message: lines.join("\n") };
}

/** A stored message's content (a string, or parts of which the text ones count) with its text rewritten. */
export function rewrittenContent(content: unknown, rewrite: (text: string) => string): unknown {
  if (typeof content === "string") return rewrite(content);
  if (!Array.isArray(content)) return content;
  return content.map((part: unknown) =>
    part && typeof part === "object" && (part as { type?: unknown }).type === "text" && typeof (part as { text?: unknown }).text === "string" ? { ...part, text: rewrite((part as { text: string }).text) } : part,
  );
}
