import type { Envelope } from "../core/envelope.js";
import type { SenderVerdict } from "./frame.js";
import type { MessagingKey } from "./messaging-key.js";
import { publicKeyFromRaw, signFields, verifyFields, fingerprintOf, type SignedFields } from "./signature.js";

/** The key a receiver pinned for a sender, by the sender's name; undefined when none is. */
export type PinnedKeys = (sender: string) => string | undefined;

/** The envelope with its signature, made over its fields as they are now (a redelivery is signed anew). */
export function signEnvelope(envelope: Envelope, key: MessagingKey): Envelope {
  const { signature: _old, ...unsigned } = envelope;
  return { ...unsigned, signature: signFields(unsigned, key.privateKey) };
}

/**
 * Who sent it, as far as the receiver can tell: verified only by a signature over exactly these
 * fields from the key pinned for the name it claims.
 */
export function verifySender(fields: SignedFields, signature: string | undefined, pinned: PinnedKeys): SenderVerdict {
  const claimedFrom = fields.from;
  const key = pinned(claimedFrom);
  if (!signature) return { verified: false, claimedFrom, reason: "no signature" };
  if (!key) return { verified: false, claimedFrom, reason: `no key is pinned for ${claimedFrom} here` };
  let ok = false;
  try {
    ok = verifyFields(fields, signature, publicKeyFromRaw(key));
  } catch {
    return { verified: false, claimedFrom, reason: `the key pinned for ${claimedFrom} is not a valid Ed25519 public key` };
  }
  return ok ? { verified: true, from: claimedFrom, fingerprint: fingerprintOf(key) } : { verified: false, claimedFrom, reason: "the signature does not match its pinned key" };
}
