import { isIP } from "node:net";
import { networkInterfaces } from "node:os";
import { connect } from "node:tls";
import { UnavailableError } from "../core/errors.js";

/** What a port answered to a TLS handshake. */
export type PortAnswer =
  | { readonly kind: "tls"; readonly fingerprint: string }
  | { readonly kind: "plaintext" }
  | { readonly kind: "refused"; readonly code: string }
  | { readonly kind: "silent" };

const PROBE_TIMEOUT_MS = 3_000;

/** Opens a TLS handshake to host:port without trusting the certificate, and says what answered. */
export function probePort(host: string, port: number, timeoutMs = PROBE_TIMEOUT_MS): Promise<PortAnswer> {
  const bare = host.replace(/^\[|\]$/gu, "");
  return new Promise((resolve) => {
    const socket = connect({ host: bare, port, rejectUnauthorized: false, ...(isIP(bare) ? {} : { servername: bare }) });
    const done = (answer: PortAnswer) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(answer);
    };
    const timer = setTimeout(() => done({ kind: "silent" }), timeoutMs);
    socket.once("secureConnect", () => {
      const fingerprint = socket.getPeerCertificate().fingerprint256;
      done(fingerprint ? { kind: "tls", fingerprint } : { kind: "plaintext" });
    });
    socket.once("error", (error: NodeJS.ErrnoException) => {
      const code = error.code ?? "";
      if (/^(ECONNREFUSED|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_AGAIN|EADDRNOTAVAIL)$/u.test(code)) done({ kind: "refused", code });
      // Anything else after the TCP connect (a plaintext answer, a reset) means the port is open but speaks no TLS.
      else done({ kind: "plaintext" });
    });
  });
}

/**
 * How to restart a Gateway so that a new bind or TLS setting takes effect: the process must stop
 * and start again; OpenClaw's in-process restart (and `openclaw gateway restart`) keeps the socket it has.
 */
export const FULL_RESTART =
  "Stop the Gateway process and start it again (OpenClaw's in-process restart and `openclaw gateway restart` keep the old socket): " +
  "run in a terminal: Ctrl-C, then `openclaw gateway run`; as a systemd user service: `systemctl --user restart openclaw-gateway.service` " +
  "(`openclaw-gateway-<profile>.service` for a profile); as a macOS LaunchAgent: `launchctl kickstart -k gui/$UID/ai.openclaw.gateway`. Then run invite again.";

export const SERVE_LAN_WITH_TLS =
  'openclaw config set gateway.bind lan && openclaw config set gateway.tls \'{"enabled":true,"autoGenerate":true}\' --strict-json';

const LOOPBACK_HOSTS = /^(localhost|127\.\d+\.\d+\.\d+|\[?::1\]?)$/iu;

export interface ServingOptions {
  /** The pin OpenClaw put into the setup code (read from its certificate file), if any. */
  readonly expectedFingerprint?: string | undefined;
  readonly probe?: typeof probePort;
  /** This machine's own addresses off loopback (default: its interfaces'). */
  readonly localAddresses?: () => readonly string[];
}

function interfaceAddresses(): string[] {
  return Object.values(networkInterfaces())
    .flat()
    .filter((entry) => entry !== undefined && !entry.internal && entry.family === "IPv4")
    .map((entry) => entry!.address);
}

const hex = (fingerprint: string) =>
  fingerprint
    .replace(/^sha256:/iu, "")
    .replace(/:/gu, "")
    .toLowerCase();

/**
 * Checks that this machine's Gateway really answers at the URL it advertises, off loopback and with
 * TLS, and returns the fingerprint it serves there. When the advertised address does not answer but
 * loopback does, the config was changed under a running process: that needs a full restart.
 */
export async function checkServing(rawUrl: string, options: ServingOptions = {}): Promise<{ readonly fingerprint: string }> {
  const probe = options.probe ?? probePort;
  const url = new URL(rawUrl);
  const port = Number(url.port || (url.protocol === "wss:" ? 443 : 80));
  if (LOOPBACK_HOSTS.test(url.hostname)) {
    throw new UnavailableError(`The Gateway's URL ${rawUrl} is a loopback address: no other machine can reach it.`, {
      code: "GATEWAY_LOOPBACK_ONLY",
      hint: `Serve the LAN with TLS: \`${SERVE_LAN_WITH_TLS}\`. ${FULL_RESTART}`,
    });
  }
  if (url.protocol !== "wss:") {
    throw new UnavailableError(`The Gateway advertises ${rawUrl}, plaintext: an invite needs TLS, so that the other side can pin it.`, {
      code: "TLS_OFF",
      hint: `Turn TLS on: \`openclaw config set gateway.tls '{"enabled":true,"autoGenerate":true}' --strict-json\`. ${FULL_RESTART}`,
    });
  }
  const answer = await probe(url.hostname, port);
  if (answer.kind === "tls") {
    if (options.expectedFingerprint && hex(options.expectedFingerprint) !== hex(answer.fingerprint)) {
      throw new UnavailableError(
        `${rawUrl} serves a certificate (${answer.fingerprint}) other than the Gateway's own (${options.expectedFingerprint}): another server answers there, or the certificate was replaced under the running Gateway.`,
        { code: "TLS_CERT_DIFFERS", hint: `Check what listens on port ${port} (\`ss -ltnp\` or \`lsof -i :${port}\`). ${FULL_RESTART}` },
      );
    }
    return { fingerprint: answer.fingerprint };
  }
  if (answer.kind === "plaintext") {
    throw new UnavailableError(`The config says TLS, but ${url.host} answers in plaintext: the running Gateway started before TLS was turned on.`, {
      code: "RESTART_NEEDED",
      hint: FULL_RESTART,
    });
  }
  // An address of a NAT or proxy may not loop back to this machine; the Gateway serving its own LAN address is enough.
  for (const address of (options.localAddresses ?? interfaceAddresses)()) {
    if (address === url.hostname.replace(/^\[|\]$/gu, "")) continue;
    const there = await probe(address, port);
    if (there.kind === "tls") return { fingerprint: there.fingerprint };
  }
  const local = await probe("127.0.0.1", port);
  if (local.kind !== "refused" && local.kind !== "silent") {
    throw new UnavailableError(
      `The config says the Gateway serves ${url.host}, but only loopback (127.0.0.1:${port}) answers: the running process still has the old bind (${answer.kind === "refused" ? answer.code : "no answer"} on ${url.host}).`,
      { code: "RESTART_NEEDED", hint: FULL_RESTART },
    );
  }
  throw new UnavailableError(`Nothing answers at ${url.host} nor at 127.0.0.1:${port}: the Gateway is not running.`, {
    code: "GATEWAY_NOT_RUNNING",
    hint: "Start it (`openclaw gateway run`, or its service: `systemctl --user start openclaw-gateway.service`, `launchctl kickstart gui/$UID/ai.openclaw.gateway`), then run invite again.",
  });
}
