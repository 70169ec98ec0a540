import { type TransportError, UnavailableError } from "../core/errors.js";
import { PLUGIN_ID } from "../plugin/id.js";

const PROBE_TIMEOUT_MS = 3_000;

/** How to read the served certificate's fingerprint on the target machine, to compare it with the one seen here. */
const READ_ON_TARGET = "openssl x509 -noout -fingerprint -sha256 -in ~/.openclaw/gateway/tls/gateway-cert.pem";

/**
 * The SHA-256 fingerprint (colon hex, as `gateway.tlsFingerprint` takes it) of the certificate the
 * host:port of a URL presents, without trusting it; undefined when that port does not speak TLS.
 */
export async function presentedFingerprint(rawUrl: string, timeoutMs = PROBE_TIMEOUT_MS): Promise<string | undefined> {
  const url = new URL(rawUrl);
  const host = url.hostname.replace(/^\[|\]$/gu, "");
  const port = Number(url.port || (url.protocol === "wss:" || url.protocol === "https:" ? 443 : 80));
  // Loaded only when a failure needs explaining: most runs never look at a certificate.
  const [{ isIP }, { connect }] = await Promise.all([import("node:net"), import("node:tls")]);
  return new Promise((resolve) => {
    const socket = connect({ host, port, rejectUnauthorized: false, ...(isIP(host) ? {} : { servername: host }) });
    const done = (value: string | undefined) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(value);
    };
    const timer = setTimeout(() => done(undefined), timeoutMs);
    socket.once("secureConnect", () => done(socket.getPeerCertificate().fingerprint256 || undefined));
    socket.once("error", () => done(undefined));
  });
}

const UNTRUSTED_CODES = new Set([
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
]);

/** Which TLS mistake a failed handshake shows, judged from the error alone. Pure. */
export function tlsMistakeOf(error: unknown, url: string): "untrusted" | "pin-mismatch" | "tls-port-over-ws" | "plaintext-port-over-wss" | undefined {
  const code = error !== null && typeof error === "object" && "code" in error ? String((error as { code: unknown }).code) : "";
  const message = error instanceof Error ? error.message : String(error);
  const secure = url.startsWith("wss:");
  if (UNTRUSTED_CODES.has(code)) return "untrusted";
  if (/tls fingerprint mismatch/iu.test(message)) return "pin-mismatch";
  if (secure && (code === "EPROTO" || /wrong version number|packet length too long|ssl3_get_record/iu.test(message))) return "plaintext-port-over-wss";
  if (!secure && (code === "ECONNRESET" || /socket hang up/iu.test(message))) return "tls-port-over-ws";
  return undefined;
}

/** Where the config of a Gateway connection lives, so a fix names the setting a person can change there. */
export interface ConfigLocation {
  /**
   * `file` (default): the CLI's own JSON registry, changed with `openclaw-inter-instance add`;
   * `plugin`: inside OpenClaw, `plugins.entries.inter-instance.config` of openclaw.json, changed with `openclaw config set`.
   */
  readonly configuredIn?: "file" | "plugin";
  /** The gateway block's path in that config, e.g. `instances.xiaom.gateway` or `instances.xiaom.node.gateway`. */
  readonly gatewayField?: string;
}

/** The full path of a setting of this Gateway block where the config lives (`tlsFingerprint`, `url`). */
export function settingPath(where: ConfigLocation, key: string): string {
  const field = where.gatewayField ?? "instances.<name>.gateway";
  return where.configuredIn === "plugin" ? `plugins.entries.${PLUGIN_ID}.config.${field}.${key}` : `${field}.${key}`;
}

/**
 * How to pin a fingerprint where the config lives: inside a Gateway with `openclaw config set`; in the
 * CLI's file with `add` when it is an instance's own Gateway (a new instance is set up that way).
 */
function howToPin(url: string, fingerprint: string, where: ConfigLocation): string {
  const path = settingPath(where, "tlsFingerprint");
  if (where.configuredIn === "plugin") return `set ${path} to it (\`openclaw config set ${path} "${fingerprint}"\`, then restart the Gateway)`;
  const name = where.gatewayField === undefined ? "<name>" : /^instances\.([^.]+)\.gateway$/u.exec(where.gatewayField)?.[1];
  return name === undefined
    ? `set ${path} in the config to it`
    : `set gateway.tlsFingerprint of this instance to it (openclaw-inter-instance add ${name} --url ${url} --tls-fingerprint ${fingerprint})`;
}

/** How to replace a pin: by its setting's path when known, and inside a Gateway with `openclaw config set`. */
function howToRepin(where: ConfigLocation): string {
  if (where.configuredIn === "plugin") return `set ${settingPath(where, "tlsFingerprint")} to it (\`openclaw config set\`, then restart the Gateway)`;
  return `set ${where.gatewayField === undefined ? "gateway.tlsFingerprint of this instance" : settingPath(where, "tlsFingerprint")} to it`;
}

/**
 * Turns a handshake that failed on TLS into an error that says which mistake it is and the fix,
 * looking at the certificate the port serves where that tells more (its fingerprint, whether it
 * speaks TLS at all). Resolves undefined when the failure is not about TLS. `where` says where the
 * config lives (the CLI's file or, inside a Gateway, the plugin's config), for the fix's wording.
 */
export async function explainTlsFailure(
  error: unknown,
  url: string,
  pinned: string | undefined,
  where: ConfigLocation = {},
): Promise<TransportError | undefined> {
  const mistake = tlsMistakeOf(error, url);
  if (!mistake) return undefined;
  if (mistake === "untrusted") {
    const seen = await presentedFingerprint(url);
    return new UnavailableError(`Gateway ${url} serves a certificate this machine does not trust (self-signed or from a private CA).`, {
      code: "TLS_UNTRUSTED",
      hint:
        `${seen ? `Its SHA-256 fingerprint, as seen from here, is ${seen}. ` : ""}Compare it with the one on the target (\`${READ_ON_TARGET}\`); ` +
        `if they match, pin it: ${howToPin(url, seen ?? "<sha256>", where)}.`,
      cause: error,
    });
  }
  if (mistake === "pin-mismatch") {
    const seen = await presentedFingerprint(url);
    return new UnavailableError(
      `Gateway ${url} presented a certificate that does not match the pinned fingerprint: something may be intercepting the connection, or the target's certificate changed. Nothing was sent, and it will not be retried or sent in plaintext.`,
      {
        code: "TLS_PIN_MISMATCH",
        hint:
          `Pinned: ${pinned ?? "(none)"}; served now: ${seen ?? "(could not read)"}. Read the fingerprint on the target (\`${READ_ON_TARGET}\`). ` +
          `Only if it equals the one served now (a renewed certificate), re-pin: ${howToRepin(where)}.`,
        cause: error,
      },
    );
  }
  if (mistake === "tls-port-over-ws") {
    const seen = await presentedFingerprint(url);
    if (!seen) return undefined;
    const secureUrl = url.replace(/^ws:/u, "wss:");
    return new UnavailableError(`Gateway ${url} speaks TLS on that port, so a plaintext ws:// connection is dropped.`, {
      code: "TLS_REQUIRED",
      hint: `Use ${secureUrl} and pin its certificate (SHA-256 ${seen}, compare with \`${READ_ON_TARGET}\` on the target): ${where.configuredIn === "plugin" ? `${settingPath(where, "url")} = "${secureUrl}", ${settingPath(where, "tlsFingerprint")} = "${seen}" (\`openclaw config set\`, then restart the Gateway)` : `gateway.url = "${secureUrl}", gateway.tlsFingerprint = "${seen}"`}.`,
      cause: error,
    });
  }
  return new UnavailableError(`Gateway ${url} does not speak TLS on that port (its answer is plaintext).`, {
    code: "TLS_NOT_SERVED",
    hint: `Turn TLS on at the target (gateway.tls.enabled: true with autoGenerate, then stop and start its process), or, only on a private network or tailnet, set ${settingPath(where, "url")} to ${url.replace(/^wss:/u, "ws:")}${where.configuredIn === "plugin" ? " (`openclaw config set`, then restart this Gateway)" : ""}.`,
    cause: error,
  });
}
