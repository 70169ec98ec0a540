import { normalizeName } from "../config/names.js";
import type { SenderVerdict } from "./frame.js";
import { quoteName } from "./lookalike.js";

/** How long after it was signed a message still verifies here, unless the config says otherwise (`inbound.maxAgeMs`). */
export const DEFAULT_MAX_AGE_MS = 24 * 3_600_000;
/** Clocks of two machines disagree a little: a signature this far in the future, or past the window, still counts. */
export const CLOCK_SKEW_MS = 5 * 60_000;

/** What a signature binds besides the sender and the body: the receiver it names and when it was made. */
export interface SignedFor {
  readonly to: string;
  readonly createdAt: string;
}

export interface ReceiverContext {
  /** This instance's name (`self.name`): a signed `to` must name it. */
  readonly self: string;
  readonly now: number;
  readonly maxAgeMs: number;
}

function duration(ms: number): string {
  const abs = Math.abs(ms);
  if (abs >= 2 * 86_400_000) return `${Math.round(abs / 86_400_000)} days`;
  if (abs >= 2 * 3_600_000) return `${Math.round(abs / 3_600_000)} hours`;
  return `${Math.max(1, Math.round(abs / 60_000))} minutes`;
}

/**
 * A verified verdict stays verified only for a signature made for this instance and recently: a
 * genuine message signed for another instance, or long ago, is a copy someone replays here, and
 * proves nothing about who is talking now. (Once: see `EnvelopeLedger`.)
 */
export function bindToReceiver(verdict: SenderVerdict, signed: SignedFor | undefined, context: ReceiverContext): SenderVerdict {
  if (!verdict.verified) return verdict;
  const claimedFrom = verdict.from;
  const unverified = (reason: string): SenderVerdict => ({ verified: false, claimedFrom, reason });
  if (!signed) return unverified("its signature names no receiver and no time this instance could check");
  if (normalizeName(signed.to) !== normalizeName(context.self)) {
    return unverified(`signed for ${quoteName(signed.to)}, not for this instance (${quoteName(context.self)}): a copy of a message meant for another instance`);
  }
  const created = Date.parse(signed.createdAt);
  if (!Number.isFinite(created)) return unverified(`its signed time ${quoteName(signed.createdAt)} is not a time`);
  if (created - context.now > CLOCK_SKEW_MS)
    return unverified(`signed for ${signed.createdAt}, ${duration(created - context.now)} in the future by this machine's clock`);
  if (context.now - created > context.maxAgeMs + CLOCK_SKEW_MS) {
    return unverified(
      `signed ${duration(context.now - created)} ago (${signed.createdAt}), older than the ${duration(context.maxAgeMs)} this instance accepts: a replayed copy, or a message that waited too long`,
    );
  }
  return verdict;
}
