import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { writeFileAtomic } from "../util/atomic-write.js";

/** The Ed25519 key that identifies this client to every Gateway it pairs with. */
export interface DeviceIdentity {
  readonly deviceId: string;
  readonly publicKeyPem: string;
  readonly privateKeyPem: string;
}

export interface DeviceTokenRecord {
  readonly token: string;
  readonly scopes: readonly string[];
}

type TokenFile = Record<string, DeviceTokenRecord>;

/** Default home of the client's identity: `$OPENCLAW_INTER_INSTANCE_HOME`, else `~/.openclaw-inter-instance`. */
export function defaultStateDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.OPENCLAW_INTER_INSTANCE_HOME || join(homedir(), ".openclaw-inter-instance");
}

function rawPublicKey(publicKeyPem: string): Buffer {
  // An Ed25519 SPKI DER is a fixed 12-byte prefix followed by the 32-byte key.
  return createPublicKey(publicKeyPem).export({ type: "spki", format: "der" }).subarray(-32);
}

/** Gateway wire format: raw public key, base64url. */
export function publicKeyRawBase64Url(publicKeyPem: string): string {
  return rawPublicKey(publicKeyPem).toString("base64url");
}

/** Gateway wire format: Ed25519 signature of the UTF-8 payload, base64url. */
export function signPayload(privateKeyPem: string, payload: string): string {
  return sign(null, Buffer.from(payload, "utf8"), createPrivateKey(privateKeyPem)).toString("base64url");
}

/** The Gateway derives the device id as the SHA-256 of the raw public key, hex. */
export function deviceIdOf(publicKeyPem: string): string {
  return createHash("sha256").update(rawPublicKey(publicKeyPem)).digest("hex");
}

function isErrno(error: unknown, code: string): boolean {
  return error instanceof Error && "code" in error && (error as NodeJS.ErrnoException).code === code;
}

/**
 * Persists the device identity and the device tokens Gateways issue after pairing, so a remote
 * Gateway approves this client once (`openclaw devices approve`) and recognises it afterwards.
 * Files are private (0600) and replaced atomically.
 */
export class DeviceIdentityStore {
  readonly dir: string;
  #identity: DeviceIdentity | undefined;

  constructor(dir: string = defaultStateDir()) {
    this.dir = dir;
  }

  get identityPath(): string {
    return join(this.dir, "device-identity.json");
  }

  get tokensPath(): string {
    return join(this.dir, "device-tokens.json");
  }

  /** Loads the identity, creating it on first use; concurrent first uses agree on one key. */
  identity(): DeviceIdentity {
    if (this.#identity) return this.#identity;
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    try {
      this.#identity = this.#read();
      return this.#identity;
    } catch (error) {
      if (!isErrno(error, "ENOENT")) throw error;
    }
    const { publicKey, privateKey } = generateKeyPairSync("ed25519");
    const publicKeyPem = publicKey.export({ type: "spki", format: "pem" }).toString();
    const privateKeyPem = privateKey.export({ type: "pkcs8", format: "pem" }).toString();
    const created: DeviceIdentity = { deviceId: deviceIdOf(publicKeyPem), publicKeyPem, privateKeyPem };
    try {
      writeFileSync(this.identityPath, `${JSON.stringify({ version: 1, ...created, createdAt: new Date().toISOString() }, null, 2)}\n`, {
        flag: "wx",
        mode: 0o600,
      });
      this.#identity = created;
    } catch (error) {
      if (!isErrno(error, "EEXIST")) throw error;
      this.#identity = this.#read();
    }
    return this.#identity;
  }

  #read(): DeviceIdentity {
    const parsed = JSON.parse(readFileSync(this.identityPath, "utf8")) as Partial<DeviceIdentity>;
    if (typeof parsed.publicKeyPem !== "string" || typeof parsed.privateKeyPem !== "string") {
      throw new Error(`${this.identityPath} holds no valid device identity; delete it to create a new one (the Gateways must then approve this device again).`);
    }
    return { deviceId: deviceIdOf(parsed.publicKeyPem), publicKeyPem: parsed.publicKeyPem, privateKeyPem: parsed.privateKeyPem };
  }

  #readTokens(): TokenFile {
    try {
      return JSON.parse(readFileSync(this.tokensPath, "utf8")) as TokenFile;
    } catch {
      return {};
    }
  }

  loadToken(gatewayUrl: string, deviceId: string, role: string): DeviceTokenRecord | undefined {
    return this.#readTokens()[tokenKey(gatewayUrl, deviceId, role)];
  }

  storeToken(gatewayUrl: string, deviceId: string, role: string, record: DeviceTokenRecord): void {
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    const tokens = this.#readTokens();
    const key = tokenKey(gatewayUrl, deviceId, role);
    const stored = tokens[key];
    // A Gateway hands the same token back at every connect: a one-shot process need not rewrite (and fsync) the file for it.
    if (stored?.token === record.token && Array.isArray(stored.scopes) && stored.scopes.join(" ") === record.scopes.join(" ")) return;
    tokens[key] = { token: record.token, scopes: [...record.scopes] };
    writeFileAtomic().sync(this.tokensPath, `${JSON.stringify(tokens, null, 2)}\n`, { mode: 0o600 });
  }

  clearToken(gatewayUrl: string, deviceId: string, role: string): void {
    const tokens = this.#readTokens();
    const key = tokenKey(gatewayUrl, deviceId, role);
    if (!(key in tokens)) return;
    delete tokens[key];
    writeFileAtomic().sync(this.tokensPath, `${JSON.stringify(tokens, null, 2)}\n`, { mode: 0o600 });
  }
}

function tokenKey(gatewayUrl: string, deviceId: string, role: string): string {
  return `${new URL(gatewayUrl).origin}|${deviceId}|${role}`;
}
