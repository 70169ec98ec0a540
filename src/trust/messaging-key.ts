import { createPrivateKey, generateKeyPairSync, type KeyObject, sign, verify } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomic } from "../util/atomic-write.js";
import { fingerprintOf, publicKeyFromRaw } from "./signature.js";

/**
 * This instance's messaging key. It is kept apart from the device identity on purpose: that one is
 * OpenClaw's pairing identity (a Gateway approves, rotates or revokes it, and the plugin inside a
 * Gateway has none), while a messaging key must sign on every transport, including those no device
 * takes part in (the memory file, A2A, NATS), and rotate on its owner's schedule.
 */
export interface MessagingKey {
  /** Raw Ed25519 public key, base64url: what peers pin. */
  readonly publicKey: string;
  readonly fingerprint: string;
  readonly privateKey: KeyObject;
  readonly createdAt: string;
}

/** The old key's word that a new key now speaks for the same instance. */
export interface KeyRotation {
  readonly previous: string;
  readonly next: string;
  readonly rotatedAt: string;
  /** By the previous key, base64url. */
  readonly signature: string;
}

interface KeyFile {
  readonly version: 1;
  readonly publicKey: string;
  readonly privateKeyPem: string;
  readonly createdAt: string;
  readonly rotations: readonly KeyRotation[];
}

const ROTATION_DOMAIN = "openclaw-inter-instance/key-rotation/v1";

function rotationPayload(previous: string, next: string, rotatedAt: string): Buffer {
  return Buffer.from(JSON.stringify([ROTATION_DOMAIN, previous, next, rotatedAt]), "utf8");
}

/** True when `rotation` is signed by `pinned` and names it as the previous key. */
export function verifyRotation(rotation: KeyRotation, pinned: string): boolean {
  if (rotation.previous !== pinned) return false;
  try {
    return verify(
      null,
      rotationPayload(rotation.previous, rotation.next, rotation.rotatedAt),
      publicKeyFromRaw(pinned),
      Buffer.from(rotation.signature, "base64url"),
    );
  } catch {
    return false;
  }
}

function generate(): { publicKey: string; privateKeyPem: string } {
  const { publicKey, privateKey } = generateKeyPairSync("ed25519");
  return {
    publicKey: publicKey.export({ type: "spki", format: "der" }).subarray(-32).toString("base64url"),
    privateKeyPem: privateKey.export({ type: "pkcs8", format: "pem" }).toString(),
  };
}

function isErrno(error: unknown, code: string): boolean {
  return error instanceof Error && (error as NodeJS.ErrnoException).code === code;
}

/** `<stateDir>/messaging-key.json`, mode 600 in a 700 directory; created on first use. */
export class MessagingKeyStore {
  readonly path: string;
  readonly #dir: string;
  #cached: KeyFile | undefined;

  constructor(stateDir: string) {
    this.#dir = stateDir;
    this.path = join(stateDir, "messaging-key.json");
  }

  key(): MessagingKey {
    const file = this.#file();
    return {
      publicKey: file.publicKey,
      fingerprint: fingerprintOf(file.publicKey),
      privateKey: createPrivateKey(file.privateKeyPem),
      createdAt: file.createdAt,
    };
  }

  /** Every rotation so far, oldest first: a peer that pinned any earlier key can follow the chain. */
  rotations(): readonly KeyRotation[] {
    return this.#file().rotations;
  }

  /** A new key, announced by a rotation the current key signs. */
  rotate(now: Date = new Date()): KeyRotation {
    const current = this.#file();
    const next = generate();
    const rotatedAt = now.toISOString();
    const signature = sign(null, rotationPayload(current.publicKey, next.publicKey, rotatedAt), createPrivateKey(current.privateKeyPem)).toString("base64url");
    const rotation: KeyRotation = { previous: current.publicKey, next: next.publicKey, rotatedAt, signature };
    const updated: KeyFile = { version: 1, ...next, createdAt: rotatedAt, rotations: [...current.rotations, rotation] };
    writeFileAtomic().sync(this.path, `${JSON.stringify(updated, null, 2)}\n`, { mode: 0o600 });
    this.#cached = updated;
    return rotation;
  }

  #file(): KeyFile {
    if (this.#cached) return this.#cached;
    mkdirSync(this.#dir, { recursive: true, mode: 0o700 });
    try {
      return (this.#cached = this.#read());
    } catch (error) {
      if (!isErrno(error, "ENOENT")) throw error;
    }
    const created: KeyFile = { version: 1, ...generate(), createdAt: new Date().toISOString(), rotations: [] };
    try {
      // `wx`: two processes creating it at once agree on the first one's key.
      writeFileSync(this.path, `${JSON.stringify(created, null, 2)}\n`, { flag: "wx", mode: 0o600 });
      return (this.#cached = created);
    } catch (error) {
      if (!isErrno(error, "EEXIST")) throw error;
      return (this.#cached = this.#read());
    }
  }

  #read(): KeyFile {
    const parsed = JSON.parse(readFileSync(this.path, "utf8")) as Partial<KeyFile>;
    if (parsed.version !== 1 || typeof parsed.publicKey !== "string" || typeof parsed.privateKeyPem !== "string") {
      throw new Error(
        `${this.path} holds no valid messaging key. Move it aside to create a new one; peers that pinned the old key must then pin the new one (openclaw-inter-instance keys).`,
      );
    }
    return {
      version: 1,
      publicKey: parsed.publicKey,
      privateKeyPem: parsed.privateKeyPem,
      createdAt: parsed.createdAt ?? "",
      rotations: parsed.rotations ?? [],
    };
  }
}
