import { INSTANCE_NAME } from "../config/schema/common.js";
import type { Config } from "../config/schema.js";
import { UnavailableError, ValidationError } from "../core/errors.js";
import { defaultStateDir } from "../gateway/device-identity.js";
import { decodeSetupCode } from "../gateway/pairing.js";
import { locateOpenclaw } from "../transports/agent-cli/locate-openclaw.js";
import { MessagingKeyStore } from "../trust/messaging-key.js";
import { encodeInvite } from "./code.js";
import { checkServing, type probePort } from "./serving.js";
import { makeSetupCode } from "./setup-code.js";

export interface MadeInvite {
  /** The one line to paste into `pair` on the other machine. */
  readonly invite: string;
  readonly name: string;
  readonly url: string;
  readonly tlsFingerprint: string;
  readonly publicKey: string;
  readonly keyFingerprint: string;
  readonly expiresAt: Date;
}

export interface MakeInviteOptions {
  readonly config: Config;
  readonly env: NodeJS.ProcessEnv;
  /** The wss:// address the other machine uses, when not the one OpenClaw derives from `gateway.bind`. */
  readonly url?: string | undefined;
  readonly probe?: typeof probePort;
  readonly signal?: AbortSignal | undefined;
}

/**
 * An invite to this machine: a setup code from this machine's OpenClaw, made only after its
 * Gateway is seen serving the advertised URL off loopback with TLS, with the certificate it serves
 * there and this instance's messaging key.
 */
export async function makeInvite(options: MakeInviteOptions): Promise<MadeInvite> {
  const name = options.config.self.name;
  if (!INSTANCE_NAME.test(name)) {
    throw new ValidationError(`This instance's name "${name}" cannot travel in an invite.`, [{ path: "self.name", message: "letters, digits, - and _ only" }], {
      hint: "Rename it (self.name in the config, e.g. `openclaw-inter-instance init --force --name xiaom`); aliases keep the other names.",
    });
  }
  const command = await locateOpenclaw(options.config.openclawCli.bin, options.env);
  if (!command) {
    throw new UnavailableError("The openclaw CLI was not found on this machine; an invite is made by this machine's OpenClaw.", {
      code: "BINARY_MISSING",
      hint: "Run invite on the machine whose Gateway the other side should reach, where `openclaw` is on PATH (or set openclawCli.bin to its path).",
    });
  }
  const made = await makeSetupCode(command, { url: options.url, env: options.env, signal: options.signal });
  const setup = decodeSetupCode(made.setupCode);
  const { fingerprint } = await checkServing(setup.url, { expectedFingerprint: setup.tlsFingerprint, ...(options.probe ? { probe: options.probe } : {}) });
  const key = new MessagingKeyStore(options.config.stateDir ?? defaultStateDir(options.env)).key();
  const invite = encodeInvite({ name, setupCode: made.setupCode, tlsFingerprint: fingerprint, publicKey: key.publicKey }, key.privateKey);
  return {
    invite,
    name,
    url: setup.url,
    tlsFingerprint: fingerprint,
    publicKey: key.publicKey,
    keyFingerprint: key.fingerprint,
    // OpenClaw's bootstrap tokens live ten minutes; a code without an expiry is given that much.
    expiresAt: setup.expiresAt ?? new Date(Date.now() + 10 * 60_000),
  };
}

/** "until 14:05:09 UTC (in 10 minutes)": how long an invite or code stays valid, for a person. */
export function validity(expiresAt: Date, now: Date = new Date()): string {
  const minutes = Math.max(0, Math.round((expiresAt.getTime() - now.getTime()) / 60_000));
  return `until ${expiresAt.toISOString().slice(11, 19)} UTC (in ${minutes} minute${minutes === 1 ? "" : "s"})`;
}
