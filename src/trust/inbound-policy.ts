import type { Config, InboundAction } from "../config/schema.js";
import type { SenderVerdict } from "./frame.js";
import { quoteName } from "./lookalike.js";

/** One message on its way to the agent, as far as the receiving side knows it. */
export interface InboundMessage {
  readonly id: string;
  readonly verdict: SenderVerdict;
  /** Its conversation (the id of the message that started it) and hop; a message without one starts its own. */
  readonly conversation?: string | undefined;
  readonly hop?: number | undefined;
  /** What it says (see `contentHash`): a copy with the same id and other content is another message, decided anew. */
  readonly contentHash?: string | undefined;
}

interface DecisionBase {
  readonly conversation: string;
  readonly hop: number;
  /**
   * Set once per conversation, on the message with which it reaches its loop budget (the last hop
   * shown, or the first refused): the caller tells the owner that nothing more goes through in it.
   */
  readonly budgetReached?: true;
}

export type InboundDecision = (DecisionBase & { readonly action: "allow" }) | (DecisionBase & { readonly action: "hold" | "refuse"; readonly reason: string });

/** What sending one more hop in a conversation is allowed to do. */
export interface OutgoingHop {
  readonly ok: boolean;
  /** Once per conversation, as with `InboundDecision.budgetReached`. */
  readonly budgetReached: boolean;
}

/** What the plugin remembers of one conversation: the times of its hops in the window. */
type Hops = number[];

const REMEMBERED_DECISIONS = 10_000;

/** What an `InboundPolicy` counts and remembers. */
export interface PolicyState {
  readonly bySender: Map<string, number[]>;
  readonly byConversation: Map<string, Hops>;
  readonly stopped: Set<string>;
  readonly decided: Map<string, InboundDecision>;
}

/** A fresh, empty state. */
export function policyState(): PolicyState {
  return { bySender: new Map(), byConversation: new Map(), stopped: new Set(), decided: new Map() };
}

/**
 * The receiving side's policy: whether a message reaches the agent (`allow`), waits for the owner
 * (`hold`) or never does (`refuse`), by who provably sent it, how often that sender wrote in the
 * last hour, and how many hops its conversation has had. The same id always gets the same
 * decision (a message surfaced again after a retry is counted once).
 */
export class InboundPolicy {
  readonly #config: () => Config;
  readonly #now: () => number;
  readonly #bySender: Map<string, number[]>;
  readonly #byConversation: Map<string, Hops>;
  readonly #stopped: Set<string>;
  readonly #decided: Map<string, InboundDecision>;

  /**
   * `state`: what the policy counts (senders' messages, conversations' hops, decisions), to share
   * between the several registries one Gateway runs the plugin in (see `policyState`).
   */
  constructor(config: () => Config, now: () => number = Date.now, state: PolicyState = policyState()) {
    this.#config = config;
    this.#now = now;
    this.#bySender = state.bySender;
    this.#byConversation = state.byConversation;
    this.#stopped = state.stopped;
    this.#decided = state.decided;
  }

  decide(message: InboundMessage): InboundDecision {
    const { verdict } = message;
    const key = JSON.stringify([
      message.id,
      message.contentHash ?? "",
      verdict.verified ? verdict.from : `${verdict.claimedFrom}\n${verdict.reason}`,
      verdict.verified,
    ]);
    const known = this.#decided.get(key);
    if (known) return known;
    const decision = this.#decide(message);
    this.#decided.set(key, decision);
    if (this.#decided.size > REMEMBERED_DECISIONS) this.#decided.delete(this.#decided.keys().next().value!);
    return decision;
  }

  /** Counts a hop this side sends in a conversation (its agent answering another instance's message). */
  outgoingHop(conversation: string, hop: number): OutgoingHop {
    const { maxHops } = this.#config().inbound;
    const hops = this.#hopsInWindow(conversation);
    const ok = hop <= maxHops && hops.length < maxHops;
    if (ok) hops.push(this.#now());
    const atBudget = !ok || hop >= maxHops || hops.length >= maxHops;
    return { ok, budgetReached: atBudget && this.#firstTimeAtBudget(conversation) };
  }

  #firstTimeAtBudget(conversation: string): boolean {
    if (this.#stopped.has(conversation)) return false;
    this.#stopped.add(conversation);
    return true;
  }

  #decide(message: InboundMessage): InboundDecision {
    const config = this.#config();
    const conversation = message.conversation ?? message.id;
    const hop = message.hop ?? 1;
    const hops = this.#hopsInWindow(conversation);
    const { maxHops, hopWindowMs } = config.inbound;
    if (hop > maxHops || hops.length >= maxHops) {
      const reason = `conversation ${conversation} reached its budget of ${maxHops} hops in ${Math.round(hopWindowMs / 60_000)} minutes`;
      return { action: "refuse", reason, conversation, hop, ...this.#budgetFlag(conversation) };
    }
    const { verdict } = message;
    const sender = verdict.verified ? config.instances[verdict.from] : undefined;
    const action: InboundAction = sender ? sender.inbound : config.inbound.unverified;
    if (action !== "allow") {
      const reason = verdict.verified
        ? `the policy for ${verdict.from} is ${action}`
        : `unverified sender (${verdict.reason}); the policy for unverified senders is ${action}`;
      return { action, reason, conversation, hop };
    }
    const name = verdict.verified ? verdict.from : verdict.claimedFrom;
    const rate = sender?.ratePerHour ?? config.inbound.ratePerHour;
    const sent = this.#recent(this.#bySender, name, 3_600_000);
    if (sent.length >= rate)
      return { action: "hold", reason: `${verdict.verified ? name : quoteName(name)} sent more than ${rate} messages in the last hour`, conversation, hop };
    sent.push(this.#now());
    hops.push(this.#now());
    // The hop that reaches the budget is still shown; the owner is told now that the conversation ends here.
    const atBudget = hop >= maxHops || hops.length >= maxHops;
    return { action: "allow", conversation, hop, ...(atBudget ? this.#budgetFlag(conversation) : {}) };
  }

  #budgetFlag(conversation: string): { budgetReached?: true } {
    return this.#firstTimeAtBudget(conversation) ? { budgetReached: true } : {};
  }

  #hopsInWindow(conversation: string): Hops {
    return this.#recent(this.#byConversation, conversation, this.#config().inbound.hopWindowMs);
  }

  #recent(map: Map<string, number[]>, key: string, windowMs: number): number[] {
    const since = this.#now() - windowMs;
    const times = (map.get(key) ?? []).filter((at) => at > since);
    map.set(key, times);
    return times;
  }
}
