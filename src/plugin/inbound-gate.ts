
import type { Config } from "../config/schema.js";
import { defaultStateDir } from "../gateway/device-identity.js";
import { inboundRecorder, type InboundRecorder } from "../audit/inbound.js";
import { HeldInbox, heldPath, type HeldMessage } from "../inbox/held.js";
import type { SenderVerdict } from "../trust/frame.js";
import { InboundPolicy, type InboundDecision } from "../trust/inbound-policy.js";

/** One message that reached this Gateway, before the agent sees it. */
export interface ArrivingMessage {
  readonly id: string;
  readonly verdict: SenderVerdict;
  readonly body: string;
  /** `session` (a chat message: sessions_send, agent_cli, a2a), `memory_file`, `nats`. */
  readonly transport: string;
  /** The session it is for (where an approved one is delivered). */
  readonly sessionKey: string;
  readonly conversation?: string | undefined;
  readonly hop?: number | undefined;
  /** The envelope it answers, when its signature says so. */
  readonly replyTo?: string | undefined;
}

/** Settles the open task a verified reply answers (true), or leaves the message to be shown as usual (false). */
export type ReplySettler = (reply: { replyTo: string; from: string; body: string; sessionKey?: string }) => Promise<boolean>;

interface Logger {
  info(message: string): void;
  warn(message: string): void;
}

/** `verified: from …` / `UNVERIFIED: claims to be … (why)`: how a verdict reads in lists and frames. */
export function describeVerdict(verdict: SenderVerdict): string {
  return verdict.verified ? `verified: from ${verdict.from} (key ${verdict.fingerprint})` : `UNVERIFIED: claims to be ${verdict.claimedFrom} (${verdict.reason})`;
}

export const senderName = (verdict: SenderVerdict) => (verdict.verified ? verdict.from : verdict.claimedFrom);

/**
 * The receiving side's one gate, for every way a message comes in: the inbound policy decides,
 * a held message is kept for the owner, every decision goes into the audit log, and the owner is
 * told once when a conversation reaches its loop budget. Decisions are per id and repeatable.
 */
export class InboundGate {
  readonly policy: InboundPolicy;
  readonly #config: () => Config;
  readonly #logger: Logger;
  #held: Promise<HeldInbox> | undefined;
  #audit: InboundRecorder | undefined;
  /** Refusals already recorded: a message is looked at when it is stored and again before its turn. */
  readonly #refused = new Set<string>();
  /** Conversations whose owner was told they reached their loop budget. */
  readonly #told = new Set<string>();

  constructor(config: () => Config, logger: Logger) {
    this.#config = config;
    this.#logger = logger;
    this.policy = new InboundPolicy(config);
  }

  /** Where held messages are kept: `<stateDir>/held.sqlite`, which `openclaw-inter-instance inbox` reads. */
  get heldPath(): string {
    return heldPath(this.#config().stateDir ?? defaultStateDir());
  }

  held(): Promise<HeldInbox> {
    return (this.#held ??= HeldInbox.open(this.heldPath).catch((error: unknown) => {
      this.#held = undefined;
      throw error;
    }));
  }

  /**
   * For an allowed message: when it is a verified answer to one of this instance's open tasks,
   * hands it to `settle` (the task's result then goes to the session that delegated it) and says
   * so; otherwise false, and it is shown as any message.
   */
  async answersTask(message: ArrivingMessage, settle: ReplySettler | undefined): Promise<boolean> {
    if (!settle || !message.replyTo || !message.verdict.verified) return false;
    const settled = await settle({ replyTo: message.replyTo, from: message.verdict.from, body: message.body, sessionKey: message.sessionKey }).catch(() => false);
    if (settled) this.record(message, "task result");
    return settled;
  }

  async admit(message: ArrivingMessage): Promise<InboundDecision> {
    const decision = this.policy.decide(message);
    if (decision.action === "hold") {
      const held = await this.held();
      const kept = held.hold({ id: message.id, from: senderName(message.verdict), transport: message.transport, verdict: JSON.stringify(message.verdict), reason: decision.reason, body: message.body, sessionKey: message.sessionKey, conversation: decision.conversation, hop: decision.hop });
      if (kept) {
        this.record(message, "held");
        this.#logger.warn(`inter-instance: held message ${message.id} (${describeVerdict(message.verdict)}): ${decision.reason}. Approve or refuse it: openclaw-inter-instance inbox list`);
      }
    }
    if (decision.action === "refuse" && !this.#refused.has(message.id)) {
      this.#refused.add(message.id);
      this.record(message, "refused");
      this.#logger.warn(`inter-instance: refused message ${message.id} (${describeVerdict(message.verdict)}): ${decision.reason}`);
    }
    if (decision.budgetReached) this.tellOwnerLoopStopped(decision.conversation, senderName(message.verdict));
    return decision;
  }

  /** The agent is about to send one more hop in a conversation: within the loop budget or not. */
  outgoingHop(conversation: string, hop: number, to: string): boolean {
    const verdict = this.policy.outgoingHop(conversation, hop);
    if (verdict.budgetReached) this.tellOwnerLoopStopped(conversation, to);
    return verdict.ok;
  }

  tellOwnerLoopStopped(conversation: string, peer: string): void {
    if (this.#told.has(conversation)) return;
    this.#told.add(conversation);
    const { maxHops, hopWindowMs } = this.#config().inbound;
    this.#logger.warn(
      `inter-instance: the conversation ${conversation} with ${peer} reached its budget of ${maxHops} hops in ${Math.round(hopWindowMs / 60_000)} minutes; nothing more is shown or sent in it. If it should go on, start a new message (or raise inbound.maxHops).`,
    );
    this.#recorder()({ id: conversation, body: "", transport: "policy", status: "loop-stopped" }, { verified: false, claimedFrom: peer, reason: "loop budget" });
  }

  record(message: Pick<ArrivingMessage, "id" | "body" | "transport" | "verdict">, status: string): void {
    this.#recorder()({ id: message.id, body: message.body, transport: message.transport, status }, message.verdict);
  }

  #recorder(): InboundRecorder {
    return (this.#audit ??= inboundRecorder(this.#config(), (line) => this.#logger.warn(line)));
  }

  /**
   * Carries out the owner's decisions: `settle` delivers an approved message (true once it is in
   * the agent's next turn) or receipts a refused one; each is settled once.
   */
  async settleDecisions(settle: (message: HeldMessage & { decision: "approved" | "refused" }, verdict: SenderVerdict) => Promise<boolean>): Promise<void> {
    const held = await this.held();
    for (const message of held.decidedUnsettled()) {
      const verdict = JSON.parse(message.verdict) as SenderVerdict;
      const decision = message.decision!;
      if (!(await settle({ ...message, decision }, verdict))) continue;
      held.markSettled(message.id);
      this.record({ ...message, verdict }, decision === "approved" ? "approved" : "refused by owner");
    }
  }

  async close(): Promise<void> {
    (await this.#held?.catch(() => undefined))?.close();
    this.#held = undefined;
  }
}

