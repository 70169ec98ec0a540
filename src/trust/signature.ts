import { createHash, createPublicKey, type KeyObject, sign, verify } from "node:crypto";
import { type FileMeta, signedFileTuples } from "../core/attachments/file-list.js";

/** What a signature covers: every field that says who sent what to whom, and the body by its hash. */
export interface SignedFields {
  readonly id: string;
  readonly from: string;
  readonly to: string;
  readonly createdAt: string;
  readonly body: string;
  readonly redelivery?: number | undefined;
  readonly conversation?: string | undefined;
  readonly hop?: number | undefined;
  readonly replyTo?: string | undefined;
  readonly task?: boolean | undefined;
  /** The files the message lists: each one's name, size, SHA-256 and type are signed. */
  readonly files?: readonly FileMeta[] | undefined;
}

const SIGNATURE_DOMAIN = "openclaw-inter-instance/envelope/v1";
const ED25519_SPKI_PREFIX = Buffer.from("302a300506032b6570032100", "hex");
const SIGNATURE = /^[A-Za-z0-9_-]{86}$/u;

/**
 * The signed bytes: a JSON array, so no field can run into the next one, under a domain string, so
 * a signature over an envelope is never valid as a signature over anything else the key signs.
 */
export function signedPayload(fields: SignedFields): Buffer {
  const bodySha256 = createHash("sha256").update(fields.body, "utf8").digest("hex");
  const parts: unknown[] = [
    SIGNATURE_DOMAIN,
    fields.id,
    fields.from,
    fields.to,
    fields.createdAt,
    bodySha256,
    fields.redelivery ?? 0,
    fields.conversation ?? "",
    fields.hop ?? 0,
    fields.replyTo ?? "",
    fields.task ? 1 : 0,
  ];
  // Only a message with files adds a part, so every signature made before files existed still verifies.
  if (fields.files && fields.files.length > 0) parts.push(signedFileTuples(fields.files));
  return Buffer.from(JSON.stringify(parts), "utf8");
}

/** An Ed25519 public key from its raw 32 bytes, base64url (the form configs and `keys` show). */
export function publicKeyFromRaw(raw: string): KeyObject {
  const bytes = Buffer.from(raw, "base64url");
  if (bytes.length !== 32 || bytes.toString("base64url") !== raw) throw new TypeError("an Ed25519 public key is 32 bytes, base64url (43 characters)");
  return createPublicKey({ key: Buffer.concat([ED25519_SPKI_PREFIX, bytes]), format: "der", type: "spki" });
}

/** The signature, base64url (86 characters). */
export function signFields(fields: SignedFields, privateKey: KeyObject): string {
  return sign(null, signedPayload(fields), privateKey).toString("base64url");
}

/** True only for a well-formed signature by this key over exactly these fields. */
export function verifyFields(fields: SignedFields, signature: string, publicKey: KeyObject): boolean {
  if (!SIGNATURE.test(signature)) return false;
  const bytes = Buffer.from(signature, "base64url");
  // Only the canonical spelling: the last character's spare bits would let one signature be written several ways.
  if (bytes.toString("base64url") !== signature) return false;
  return verify(null, signedPayload(fields), publicKey, bytes);
}

/** A short, human-comparable fingerprint of a raw public key: `SHA256:` and 16 bytes of its hash, hex in pairs. */
export function fingerprintOf(rawPublicKey: string): string {
  const hex = createHash("sha256").update(Buffer.from(rawPublicKey, "base64url")).digest("hex").slice(0, 32);
  return `SHA256:${hex.match(/../gu)!.join(":")}`;
}
