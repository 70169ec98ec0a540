import { type InboundRecorder, inboundRecorder } from "../../audit/inbound.js";
import type { Config } from "../../config/schema.js";
import { defaultStateDir } from "../../gateway/device-identity.js";
import { HeldInbox, type HeldMessage, heldPath } from "../../inbox/held.js";
import type { InboundReason, LinkMetrics } from "../../metrics/link-metrics.js";
import { contentHash, EnvelopeLedger, type FirstCopy, type LedgerDecision, ledgerPath } from "../../trust/envelope-ledger.js";
import { describeVerdict as describeForAgent, type SenderVerdict } from "../../trust/frame.js";
import { InboundPolicy, type PolicyState, policyState } from "../../trust/inbound-policy.js";
import { quoteName } from "../../trust/lookalike.js";
import { bindToReceiver, CLOCK_SKEW_MS, DEFAULT_MAX_AGE_MS, type SignedFor } from "../../trust/receiver-binding.js";
import { processShared } from "../../util/process-shared.js";

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
  /** What its signature binds besides sender and body (a verified message without it is not verified here). */
  readonly signedFor?: SignedFor | undefined;
}

/** Which arrival of a text a message belongs to, and which message of that text it is. */
export interface ArrivalSlot {
  readonly ticket: string;
  readonly slot: string;
}

/**
 * What the gate decided for one copy of a message: the inbound policy's decision (or `suppress`, for
 * a second copy of a message already shown in the session) and the verdict it was decided with.
 */
export type GateDecision = LedgerDecision;

/** Settles the open task a verified reply answers (true), or leaves the message to be shown as usual (false). */
export type ReplySettler = (reply: { replyTo: string; from: string; body: string; sessionKey?: string }) => Promise<boolean>;

interface Logger {
  info(message: string): void;
  warn(message: string): void;
}

/** `verified: from "…"` / `UNVERIFIED: claims to be "…" (why)`: how a verdict reads in lists, frames and logs. */
export const describeVerdict = describeForAgent;

export const senderName = (verdict: SenderVerdict) => (verdict.verified ? verdict.from : verdict.claimedFrom);

const WEEK_MS = 7 * 86_400_000;

/**
 * A Gateway runs the plugin's register() in several registries, and a chat message passes hooks of
 * more than one (its stored row in one, its turn in another): what the gates count (hops, rates)
 * and whom they told is kept once per state dir in this process, so a conversation's budget is
 * counted, and its owner told, once.
 */
const sharedStates = processShared("inbound-gate-state", () => new Map<string, { policy: PolicyState; told: Set<string> }>());

function sharedState(config: () => Config): { policy: PolicyState; told: Set<string> } {
  let stateDir: string;
  try {
    stateDir = config().stateDir ?? defaultStateDir();
  } catch {
    return { policy: policyState(), told: new Set() };
  }
  let state = sharedStates.get(stateDir);
  if (!state) sharedStates.set(stateDir, (state = { policy: policyState(), told: new Set() }));
  return state;
}

/**
 * The receiving side's one gate, for every way a message comes in. A verified signature counts only
 * when it names this instance and is recent; every copy of an id is compared with the first one this
 * instance saw (durably, in `envelopes.sqlite`): a repeat in the same session is suppressed, a copy
 * in another session or with other content is no longer verified. Then the inbound policy decides, a
 * held message is kept for the owner, every decision goes into the audit log, and the owner is told
 * once when a conversation reaches its loop budget. Each copy (arrival) is decided once, whichever
 * hook or registry asks first; later asks read that decision.
 */
export class InboundGate {
  readonly policy: InboundPolicy;
  readonly #config: () => Config;
  readonly #logger: Logger;
  readonly #now: () => number;
  #held: Promise<HeldInbox> | undefined;
  #ledger: EnvelopeLedger | undefined;
  #audit: InboundRecorder | undefined;
  /** Conversations whose owner was told they reached their loop budget. */
  readonly #told: Set<string>;
  #metrics: LinkMetrics | undefined;

  /** `shared`: count and tell once per state dir in this process (the plugin; tests pass false). */
  constructor(config: () => Config, logger: Logger, now: () => number = Date.now, shared = true) {
    this.#config = config;
    this.#logger = logger;
    this.#now = now;
    const state = shared ? sharedState(config) : { policy: policyState(), told: new Set<string>() };
    this.#told = state.told;
    this.policy = new InboundPolicy(config, now, state.policy);
  }

  /** Counts every decision there too (the plugin's metrics route). */
  countIn(metrics: LinkMetrics): void {
    this.#metrics = metrics;
  }

  get #stateDir(): string {
    return this.#config().stateDir ?? defaultStateDir();
  }

  /** Where held messages are kept: `<stateDir>/held.sqlite`, which `openclaw-inter-instance inbox` reads. */
  get heldPath(): string {
    return heldPath(this.#stateDir);
  }

  held(): Promise<HeldInbox> {
    return (this.#held ??= HeldInbox.open(this.heldPath).catch((error: unknown) => {
      this.#held = undefined;
      throw error;
    }));
  }

  /** How long a signature verifies after it was made (`inbound.maxAgeMs`, 24 h by default). */
  get maxAgeMs(): number {
    return this.#config().inbound.maxAgeMs ?? DEFAULT_MAX_AGE_MS;
  }

  /** What this instance remembers of the ids it decided on (opened on first use, synchronously: hooks may not wait). */
  ledger(): EnvelopeLedger {
    return (this.#ledger ??= EnvelopeLedger.open(ledgerPath(this.#stateDir), {
      retentionMs: () => Math.max(WEEK_MS, 2 * this.maxAgeMs + CLOCK_SKEW_MS),
      now: this.#now,
    }));
  }

  /**
   * The decision for one copy of a message, synchronously: read when this arrival was decided before,
   * else made and recorded now (`fresh`; the caller then runs `effects`). Without a slot, the
   * arrival is the message's id on its path (a memory-file entry, a broker message).
   */
  decide(message: ArrivingMessage, at?: ArrivalSlot): { decision: GateDecision; fresh: boolean } {
    const ledger = this.ledger();
    const ticket = at?.ticket ?? ledger.pathTicket(message.sessionKey, message.transport, message.id);
    const hash = contentHash(senderName(message.verdict), message.body);
    return ledger.decide(ticket, at?.slot ?? `${message.id}#0`, { id: message.id, hash, sessionKey: message.sessionKey }, (first) =>
      this.#make(message, hash, first),
    );
  }

  /** `decide`, and for a fresh decision what follows from it: the held store, the audit log, the owner's notices. */
  async admit(message: ArrivingMessage, at?: ArrivalSlot): Promise<GateDecision> {
    const { decision, fresh } = this.decide(message, at);
    if (fresh) await this.effects(message, decision);
    return decision;
  }

  /** Forgets that a message was shown (it could not be delivered after all): its next copy counts as the first. */
  forgetShown(id: string, at: ArrivalSlot): void {
    this.ledger().forget(id, at.ticket);
  }

  #make(message: ArrivingMessage, hash: string, first: FirstCopy | undefined): LedgerDecision {
    const { id } = message;
    const conversation = message.conversation ?? id;
    const hop = message.hop ?? 1;
    const config = this.#config();
    const verdict = bindToReceiver(message.verdict, message.signedFor, { self: config.self.name, now: this.#now(), maxAgeMs: this.maxAgeMs });
    const name = senderName(message.verdict);
    const policy = (decided: SenderVerdict, kind: LedgerDecision["kind"]): LedgerDecision => {
      const decision = this.policy.decide({
        id,
        verdict: decided,
        conversation: message.conversation,
        hop: message.hop,
        contentHash: `${hash}:${kind}:${message.sessionKey}`,
      });
      return { ...decision, verdict: decided, kind };
    };
    if (!first) return policy(verdict, "new");
    if (first.hash !== hash) {
      const changed: SenderVerdict = {
        verified: false,
        claimedFrom: name,
        reason: `the id ${id} came here before with other content: this copy is not the message first seen with it`,
      };
      return {
        action: config.inbound.unverified === "refuse" ? "refuse" : "hold",
        reason: `a changed copy (${changed.reason})`,
        conversation,
        hop,
        verdict: changed,
        kind: "changed",
      };
    }
    if (first.sessionKey === message.sessionKey) {
      const repeat: SenderVerdict = {
        verified: false,
        claimedFrom: name,
        reason: `a repeat of a message already ${first.action === "allow" ? "shown" : "decided on"} in this session`,
      };
      const action = first.action === "allow" || first.action === "suppress" ? "suppress" : first.action;
      const reason =
        action === "suppress"
          ? "already shown in this session; this copy was not shown again"
          : `a repeat of a message ${first.action === "hold" ? "held" : "refused"} before`;
      return { action, reason, conversation, hop, verdict: repeat, kind: "repeat" };
    }
    const replay: SenderVerdict = {
      verified: false,
      claimedFrom: name,
      reason: `a copy of a message already ${first.action === "allow" ? "shown" : "decided on"} in the session ${quoteName(first.sessionKey)}: a replayed signature proves nothing`,
    };
    return policy(replay, "replay");
  }

  /** What follows from a fresh decision: held messages kept for the owner, the audit log, the owner's notices. */
  async effects(message: ArrivingMessage, decision: GateDecision): Promise<void> {
    const { verdict } = decision;
    const copy = { ...message, verdict };
    if (decision.kind === "repeat") {
      this.record(copy, "suppressed", "repeat");
      this.#logger.info(
        `inter-instance: message ${message.id} came again (${decision.reason}); this copy is ${decision.action === "suppress" ? "suppressed" : decision.action === "hold" ? "held like the first" : "refused like the first"}`,
      );
      return;
    }
    if (decision.action === "hold") {
      const held = await this.held();
      const kept = held.hold({
        id: message.id,
        from: senderName(verdict),
        transport: message.transport,
        verdict: JSON.stringify(verdict),
        reason: decision.reason ?? "held",
        body: message.body,
        sessionKey: message.sessionKey,
        conversation: decision.conversation,
        hop: decision.hop,
      });
      // A copy of an id the owner already has in the held store adds nothing there.
      this.record(copy, kept ? "held" : "suppressed", reasonOf(decision));
      if (kept)
        this.#logger.warn(
          `inter-instance: held message ${message.id} (${describeVerdict(verdict)}): ${decision.reason}. Approve or refuse it: openclaw-inter-instance inbox list`,
        );
    }
    if (decision.action === "refuse") {
      this.record(copy, "refused", reasonOf(decision));
      this.#logger.warn(`inter-instance: refused message ${message.id} (${describeVerdict(verdict)}): ${decision.reason}`);
    }
    if (decision.budgetReached) this.tellOwnerLoopStopped(decision.conversation, senderName(verdict));
  }

  /**
   * For an allowed message: when it is a verified answer to one of this instance's open tasks,
   * hands it to `settle` (the task's result then goes to the session that delegated it) and says
   * so; otherwise false, and it is shown as any message. Pass the verdict the gate decided with.
   */
  async answersTask(message: ArrivingMessage, settle: ReplySettler | undefined): Promise<boolean> {
    if (!settle || !message.replyTo || !message.verdict.verified) return false;
    const settled = await settle({ replyTo: message.replyTo, from: message.verdict.from, body: message.body, sessionKey: message.sessionKey }).catch(
      () => false,
    );
    if (settled) this.record(message, "task result");
    return settled;
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
    this.#recorder().record(
      { id: conversation, body: "", transport: "policy", status: "loop-stopped" },
      { verified: false, claimedFrom: peer, reason: "loop budget" },
    );
    this.#metrics?.observeLoopStop();
  }

  record(message: Pick<ArrivingMessage, "id" | "body" | "transport" | "verdict">, status: string, reason: InboundReason = "none"): void {
    this.#recorder().record({ id: message.id, body: message.body, transport: message.transport, status }, message.verdict);
    this.#metrics?.observeInbound({ transport: message.transport, status, reason, verified: message.verdict.verified });
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
    await this.#audit?.close();
    this.#audit = undefined;
    (await this.#held?.catch(() => undefined))?.close();
    this.#held = undefined;
    this.#ledger?.close();
    this.#ledger = undefined;
  }
}

/** Why a message was held or refused, in a word (a metrics label): the copy's kind, else the sender's standing. */
function reasonOf(decision: GateDecision): InboundReason {
  if (decision.kind !== "new") return decision.kind;
  return decision.verdict.verified ? "policy" : "unverified";
}
