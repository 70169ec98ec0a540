import type { Envelope } from "../core/envelope.js";
import type { SenderVerdict } from "./frame.js";
import { quoteName, skeleton } from "./lookalike.js";
import type { MessagingKey } from "./messaging-key.js";
import { fingerprintOf, publicKeyFromRaw, type SignedFields, signFields, verifyFields } from "./signature.js";

/** The key a receiver pinned for a sender, by the sender's name; undefined when none is. */
export type PinnedKeys = (sender: string) => string | undefined;

/**
 * The envelope with its signature. The redelivery number is not signed (nor written next to the
 * signature): a redelivery is the same message, byte for byte, so the receiver can tell it is one.
 * (Signatures from before this change did sign it; `redelivery=N` in their lines still verifies.)
 */
export function signEnvelope(envelope: Envelope, key: MessagingKey): Envelope {
  const { signature: _old, ...unsigned } = envelope;
  const { redelivery: _redelivery, ...signed } = unsigned;
  return { ...unsigned, signature: signFields(signed, key.privateKey) };
}

/**
 * Who sent it, as far as the receiver can tell: verified only by a signature over exactly these
 * fields from the key pinned for the name it claims.
 */
export function verifySender(fields: SignedFields, signature: string | undefined, pinned: PinnedKeys): SenderVerdict {
  const claimedFrom = fields.from;
  const key = pinned(claimedFrom);
  if (!signature) return { verified: false, claimedFrom, reason: "no signature" };
  if (!key) return { verified: false, claimedFrom, reason: `no key is pinned for ${quoteName(claimedFrom)} here${imitation(claimedFrom, pinned)}` };
  let ok = false;
  try {
    ok = verifyFields(fields, signature, publicKeyFromRaw(key));
  } catch {
    return { verified: false, claimedFrom, reason: `the key pinned for ${quoteName(claimedFrom)} is not a valid Ed25519 public key` };
  }
  return ok
    ? { verified: true, from: claimedFrom, fingerprint: fingerprintOf(key) }
    : { verified: false, claimedFrom, reason: "the signature does not match its pinned key" };
}

/** "; it imitates "xiaoa" with look-alike characters" when a name reads as one that is pinned but is not it. */
function imitation(name: string, pinned: PinnedKeys): string {
  const reads = skeleton(name);
  return reads !== name.toLowerCase() && /^[\x20-\x7e]+$/u.test(reads) && pinned(reads)
    ? `; it imitates ${quoteName(reads)} with look-alike or invisible characters`
    : "";
}
