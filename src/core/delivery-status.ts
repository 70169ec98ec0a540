/**
 * One status for every message on every transport, furthest first:
 * - `queued`: no transport could deliver it yet; it waits in the outbox;
 * - `accepted`: the target took it (a Gateway run, an A2A task, a stream ack, a file written);
 * - `delivered`: it is in the target agent's session (its transcript, or its next turn);
 * - `seen`: a turn of the target agent was prepared with it;
 * - `answered`: the target agent answered it (a reply after it, an ask's reply, a delegated result);
 * - `held`: the target's inbound policy keeps it for its owner (who may still approve it);
 * - `refused`: the target's policy or owner refused it;
 * - `expired`: a delegated task's deadline passed without an answer;
 * - `lost`: the target will never run it and it is not queued again.
 */
export type DeliveryState = "queued" | "accepted" | "delivered" | "seen" | "answered" | "held" | "refused" | "expired" | "lost";

export const DELIVERY_STATES: readonly DeliveryState[] = ["queued", "accepted", "delivered", "seen", "answered", "held", "refused", "expired", "lost"];

/** One fact about a message, from wherever it was learned. */
export interface Evidence {
  readonly state: DeliveryState;
  readonly at: string;
  /** Where it comes from: `outbox`, `receipt`, `transcript`, `task`, `reply`, `policy`, `deadline`. */
  readonly source: string;
  /** What shows it: a run id, a transcript row, a receipt, a task state, a reason. */
  readonly detail?: Readonly<Record<string, string | number | boolean>>;
}

export interface DeliveryStatus {
  readonly id: string;
  readonly state: DeliveryState;
  /** When it reached that state (the evidence's time). */
  readonly since: string;
  /** The facts that led there, oldest first (the ones a later fact overrode are kept too). */
  readonly evidence: readonly Evidence[];
}

// The way forward. A message can be queued again after it was taken (a target that lost it),
// held until its owner decides, and answered late after its deadline.
const NEXT: Record<DeliveryState, readonly DeliveryState[]> = {
  queued: ["accepted", "delivered", "seen", "answered", "held", "refused", "expired", "lost"],
  accepted: ["queued", "delivered", "seen", "answered", "held", "refused", "expired", "lost"],
  delivered: ["seen", "answered", "expired", "lost"],
  seen: ["answered", "expired"],
  answered: [],
  held: ["delivered", "seen", "answered", "refused", "expired"],
  refused: [],
  expired: ["answered"],
  lost: ["queued"],
};

/** Whether a message in state `from` can move to `to` on a new fact. */
export function canMove(from: DeliveryState, to: DeliveryState): boolean {
  return NEXT[from].includes(to);
}

/**
 * The status that the evidence supports: the facts taken in time order, each moving the state on
 * only where the state machine allows (a stale "accepted" after "seen" changes nothing).
 */
export function deliveryStatus(id: string, evidence: readonly Evidence[]): DeliveryStatus | undefined {
  const ordered = [...evidence].sort((a, b) => a.at.localeCompare(b.at));
  const [first, ...rest] = ordered;
  if (!first) return undefined;
  let current = first;
  for (const fact of rest) if (fact.state !== current.state && canMove(current.state, fact.state)) current = fact;
  return { id, state: current.state, since: current.at, evidence: ordered };
}

/** For `--wait delivered` and the like: has the message got at least this far (or can it no longer)? */
export function reached(state: DeliveryState, goal: "accepted" | "delivered" | "seen" | "answered"): "yes" | "not yet" | "never" {
  const order: DeliveryState[] = ["queued", "accepted", "delivered", "seen", "answered"];
  if (order.includes(state)) return order.indexOf(state) >= order.indexOf(goal) ? "yes" : "not yet";
  if (state === "held") return "not yet";
  return state === "expired" && goal !== "answered" ? "not yet" : "never";
}
