import { type KeyObject, sign, verify } from "node:crypto";
import { INSTANCE_NAME } from "../config/schema/common.js";
import { ValidationError } from "../core/errors.js";
import { decodeSetupCode, type SetupCode } from "../gateway/pairing.js";
import { publicKeyFromRaw } from "../trust/signature.js";
import { once } from "../util/lazy.js";
import { zod } from "../util/zod.js";

/** The version is in the prefix: a later format gets `oii2.`, and this one refuses it by name. */
export const INVITE_PREFIX = "oii1.";
const MAX_INVITE_CHARS = 4096;
const SIGNATURE_DOMAIN = "openclaw-inter-instance/invite/v1";

/** What one invite carries: who it is from, how to pair with its Gateway, and what to pin. */
export interface Invite {
  /** The inviter's own name (`self.name` there), the default name for it here. */
  readonly name: string;
  /** OpenClaw's setup code as `openclaw qr` made it: the URL, a short-lived bootstrap token, its expiry. */
  readonly setupCode: string;
  /** The served certificate's SHA-256, colon hex. */
  readonly tlsFingerprint: string;
  /** The inviter's messaging key (raw Ed25519, base64url). */
  readonly publicKey: string;
}

/** An invite decoded and checked, with its setup code read. */
export interface DecodedInvite extends Invite {
  readonly setup: SetupCode;
  readonly url: string;
  readonly expiresAt: Date;
}

/** The wire form: short keys, the fingerprint as bare hex, and the inviter's signature over the rest. */
const wireSchema = once(() => {
  const z = zod();
  return z
    .object({
      n: z.string().regex(INSTANCE_NAME, "must be an instance name: letters, digits, - and _, at most 64"),
      c: z
        .string()
        .max(2048, "is longer than any setup code")
        .regex(/^[A-Za-z0-9_-]+$/u, "must be a base64url setup code"),
      f: z.string().regex(/^[0-9a-f]{64}$/u, "must be a SHA-256 fingerprint (64 hex digits)"),
      k: z.string().regex(/^[A-Za-z0-9_-]{43}$/u, "must be an Ed25519 public key (43 base64url characters)"),
      s: z.string().regex(/^[A-Za-z0-9_-]{86}$/u, "must be an Ed25519 signature (86 base64url characters)"),
    })
    .strict();
});

const FIELD_NAMES: Readonly<Record<string, string>> = { n: "name", c: "setupCode", f: "tlsFingerprint", k: "publicKey", s: "signature" };

function signedBytes(invite: Invite, hexFingerprint: string): Buffer {
  return Buffer.from(JSON.stringify([SIGNATURE_DOMAIN, invite.name, invite.setupCode, hexFingerprint, invite.publicKey]), "utf8");
}

const hexOf = (fingerprint: string) =>
  fingerprint
    .replace(/^sha256:/iu, "")
    .replace(/:/gu, "")
    .toLowerCase();
const colonHex = (hex: string) => hex.toUpperCase().match(/../gu)!.join(":");

/** The invite string: `oii1.` and base64url JSON, signed by the inviter's messaging key (which proves it holds the key it hands out). */
export function encodeInvite(invite: Invite, privateKey: KeyObject): string {
  const f = hexOf(invite.tlsFingerprint);
  const s = sign(null, signedBytes(invite, f), privateKey).toString("base64url");
  const wire = { n: invite.name, c: invite.setupCode, f, k: invite.publicKey, s };
  const parsed = wireSchema().safeParse(wire);
  if (!parsed.success)
    throw invalid(parsed.error.issues[0]?.path[0], parsed.error.issues[0]?.message ?? "invalid", "This is a bug in making the invite; report it.");
  return `${INVITE_PREFIX}${Buffer.from(JSON.stringify(wire), "utf8").toString("base64url")}`;
}

/** True when the text is meant as an invite (whatever its version), not as a bare setup code. */
export function looksLikeInvite(text: string): boolean {
  return /^oii\d+\./u.test(text.trim());
}

const REMAKE = "Ask for a new invite: on that machine run `openclaw-inter-instance invite` (or `openclaw inter-instance invite`) and copy the whole line.";

function invalid(field: PropertyKey | undefined, message: string, hint = REMAKE): ValidationError {
  const name = `invite.${FIELD_NAMES[String(field)] ?? String(field ?? "(whole)")}`;
  return new ValidationError(`This invite is not valid: ${name} ${message}.`, [{ path: name, message }], { hint });
}

/** The wire JSON of an invite: version, size, alphabet and every field's form. */
function readWire(text: string): ReturnType<ReturnType<typeof wireSchema>["parse"]> {
  const version = /^oii(\d+)\./u.exec(text)?.[1];
  if (version !== "1") {
    throw invalid(
      "version",
      version ? `is oii${version}, which this version does not read` : "is missing (an invite starts with oii1.)",
      version ? "Update openclaw-inter-instance here (`npm install -g openclaw-inter-instance@latest`), or ask for a new invite." : REMAKE,
    );
  }
  if (text.length > MAX_INVITE_CHARS) throw invalid(undefined, `is ${text.length} characters, more than an invite has`);
  const body = text.slice(INVITE_PREFIX.length);
  if (!/^[A-Za-z0-9_-]+$/u.test(body)) throw invalid(undefined, "has characters base64url does not use (was it cut or wrapped when copied?)");
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(body, "base64url").toString("utf8"));
  } catch {
    throw invalid(undefined, "does not decode (was it cut when copied?)");
  }
  const parsed = wireSchema().safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw invalid(issue?.path[0] ?? (issue?.code === "unrecognized_keys" ? "(unknown field)" : undefined), issue?.message ?? "is malformed");
  }
  return parsed.data;
}

/** The inviter's signature over the fields: any changed character fails it. */
function checkSignature(invite: Invite, hexFingerprint: string, signature: string): void {
  let key: KeyObject;
  try {
    key = publicKeyFromRaw(invite.publicKey);
  } catch {
    throw invalid("k", "is not an Ed25519 public key");
  }
  const bytes = Buffer.from(signature, "base64url");
  if (bytes.toString("base64url") !== signature || !verify(null, signedBytes(invite, hexFingerprint), key, bytes)) {
    throw invalid("s", "does not match the rest: the invite was changed after it was made");
  }
}

/** The setup code inside: one OpenClaw made, for a wss:// URL without credentials, pinned as the invite says. */
function readSetup(wire: { readonly c: string; readonly f: string }): SetupCode & { readonly expiresAt: Date } {
  let setup: SetupCode;
  try {
    setup = decodeSetupCode(wire.c);
  } catch (error) {
    throw invalid("c", `is not a setup code OpenClaw made (${error instanceof Error ? error.message : String(error)})`);
  }
  const url = new URL(setup.url);
  if (url.username || url.password) throw invalid("c", "has a URL with credentials in it");
  if (url.protocol !== "wss:") throw invalid("c", "has a plaintext ws:// URL; an invite is for a Gateway that serves TLS");
  if (setup.tlsFingerprint && hexOf(setup.tlsFingerprint) !== wire.f) throw invalid("f", "differs from the pin in the setup code");
  const { expiresAt } = setup;
  if (!expiresAt) throw invalid("c", "has no expiry");
  return { ...setup, expiresAt };
}

/**
 * Reads an invite and checks everything it can without a network: the format and version, every
 * field (an invite is pasted from anywhere), the inviter's signature (a changed character anywhere
 * fails it), the setup code inside, and its expiry. Throws `ValidationError` naming the field.
 */
export function decodeInvite(text: string, now: Date = new Date()): DecodedInvite {
  const wire = readWire(text.trim());
  const invite: Invite = { name: wire.n, setupCode: wire.c, tlsFingerprint: colonHex(wire.f), publicKey: wire.k };
  checkSignature(invite, wire.f, wire.s);
  const setup = readSetup(wire);
  const { expiresAt } = setup;
  if (expiresAt.getTime() <= now.getTime()) {
    throw new ValidationError(
      `This invite expired at ${expiresAt.toISOString()} (an invite is good for ten minutes).`,
      [{ path: "invite.expiresAt", message: `passed at ${expiresAt.toISOString()}` }],
      { hint: `Ask ${wire.n} for a new one: there run \`openclaw-inter-instance invite\`, then pair here within ten minutes.` },
    );
  }
  return { ...invite, setup, url: setup.url, expiresAt };
}
