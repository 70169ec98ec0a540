import { PAIR_WITHOUT_TOKEN, TARGET_TOKEN_SOURCE } from "../config/token-hint.js";
import { FatalError, TransientError, TransportError, UnavailableError } from "../core/errors.js";
import { type ConfigLocation, settingPath } from "./tls-diagnosis.js";

/** What the library knows about the Gateway it failed to reach, for hints. */
export interface GatewayErrorContext {
  readonly url: string;
  readonly tokenSource: string;
  readonly sessionKey?: string;
}

/** An error response of the Gateway protocol: `{ code, message, details?, retryable? }`. */
export interface GatewayErrorShape {
  readonly code?: string;
  readonly gatewayCode?: string;
  readonly message: string;
  readonly details?: unknown;
  readonly retryable?: boolean;
  readonly retryAfterMs?: number;
}

function record(value: unknown): Record<string, unknown> {
  return value !== null && typeof value === "object" ? (value as Record<string, unknown>) : {};
}

function isGatewayErrorShape(error: unknown): error is GatewayErrorShape {
  const candidate = record(error);
  return typeof candidate.message === "string" && (typeof candidate.gatewayCode === "string" || typeof candidate.code === "string");
}

const NETWORK_CODES = new Set(["ECONNREFUSED", "EHOSTUNREACH", "ENETUNREACH", "ENOTFOUND", "EAI_AGAIN"]);
const DROPPED_CODES = new Set(["ECONNRESET", "EPIPE", "ETIMEDOUT"]);

/**
 * Maps a Gateway refusal (connect or request) to the dispatcher's classes, with the fix in the hint.
 * Pure: the error frame in, a classified error out.
 */
export function classifyGatewayError(error: unknown, context: GatewayErrorContext): TransportError {
  if (error instanceof TransportError) return error;
  const errno = record(error).code;
  const message = error instanceof Error ? error.message : String(error);
  if (typeof errno === "string" && NETWORK_CODES.has(errno)) {
    return new UnavailableError(`Gateway ${context.url} is not reachable (${errno}).`, {
      code: "UNREACHABLE",
      hint: "Check that the target Gateway runs (`openclaw gateway status` there) and that the URL and port are right.",
      cause: error,
    });
  }
  if (typeof errno === "string" && DROPPED_CODES.has(errno)) {
    return new TransientError(`Connection to ${context.url} dropped (${errno}).`, { code: "CONNECTION_DROPPED", cause: error });
  }
  if (isGatewayErrorShape(error)) return classifyErrorFrame(error, context);
  if (isConnectionLoss(error)) {
    return new TransientError(`Connection to ${context.url} was lost: ${message}`, { code: "CONNECTION_DROPPED", cause: error });
  }
  if (/SECURITY ERROR: Cannot connect .* over plaintext ws:\/\//su.test(message)) return insecureTransportError(context.url);
  return new UnavailableError(`Gateway ${context.url} failed: ${message}`, { code: "GATEWAY_ERROR", cause: error });
}

/** The reference client's words for a socket that closed under, or before, a request. */
export function isConnectionLoss(error: unknown): boolean {
  return error instanceof Error && /^gateway (not connected|closed \()/u.test(error.message);
}

export function insecureTransportError(url: string, where: ConfigLocation = {}): UnavailableError {
  return new UnavailableError(`Refusing plaintext ws:// to ${url}: the token and messages would cross the network unencrypted.`, {
    code: "INSECURE_TRANSPORT",
    hint:
      `Use wss:// (set gateway.tls on the target, then here ${settingPath(where, "url")} to its wss:// URL and ${settingPath(where, "tlsFingerprint")} to its pin), ` +
      "reach the Gateway over a Tailscale *.ts.net name or an SSH tunnel (ssh -N -L 18789:127.0.0.1:18789 user@host, then ws://127.0.0.1:18789), " +
      "or on a trusted private network set OPENCLAW_ALLOW_INSECURE_PRIVATE_WS=1.",
  });
}

function classifyErrorFrame(error: GatewayErrorShape, context: GatewayErrorContext): TransportError {
  const details = record(error.details);
  const code = error.gatewayCode ?? error.code ?? "";
  const detailCode = typeof details.code === "string" ? details.code : "";
  const text = error.message;

  if (detailCode === "PAIRING_REQUIRED" || code === "PAIRING_REQUIRED" || /pairing required/iu.test(text)) {
    const requestId = typeof details.requestId === "string" ? details.requestId : undefined;
    return new UnavailableError(`Gateway ${context.url} has not approved this device yet.`, {
      code: "PAIRING_REQUIRED",
      hint: requestId
        ? `On the target machine run \`openclaw devices approve ${requestId}\` (list pending requests with \`openclaw devices list\`), then send again.`
        : "On the target machine run `openclaw devices list` and approve this device with `openclaw devices approve <requestId>`, then send again.",
      cause: error,
    });
  }
  if (detailCode === "AUTH_SCOPE_MISMATCH") {
    return new UnavailableError(`Gateway ${context.url} knows this device but not for the scopes it asked for.`, {
      code: "SCOPE_NOT_APPROVED",
      hint: "Approve the scope upgrade on the target with `openclaw devices list` / `openclaw devices approve <requestId>`.",
      cause: error,
    });
  }
  if (detailCode.startsWith("AUTH_") || /unauthorized|token mismatch/iu.test(text)) {
    return new UnavailableError(`Gateway ${context.url} rejected the credentials.`, {
      code: "AUTH_FAILED",
      hint: `The token from ${context.tokenSource} must equal the target Gateway's shared token: ${TARGET_TOKEN_SOURCE}; ${PAIR_WITHOUT_TOKEN}.`,
      cause: error,
    });
  }
  if (detailCode === "MISSING_SCOPE" || /missing scope/iu.test(text)) {
    const missing = typeof details.missingScope === "string" ? details.missingScope : "operator.write";
    return new UnavailableError(`Gateway ${context.url} refused: this client lacks the scope ${missing}.`, {
      code: "MISSING_SCOPE",
      hint: `Pair this device with ${missing} (\`openclaw devices approve <requestId>\` on the target); a connection without device identity gets no scopes.`,
      cause: error,
    });
  }
  if (/session not found/iu.test(text)) {
    return new UnavailableError(`Gateway ${context.url} has no session ${context.sessionKey ?? ""}.`.replace(" .", "."), {
      code: "SESSION_NOT_FOUND",
      hint: 'Set sessionKey of this instance to an existing session (`openclaw sessions list` on the target); "agent:main:main" always exists.',
      cause: error,
    });
  }
  if (/token missing|unknown channel|channel is required|no configured channels|no url configured for outbound/iu.test(text)) {
    return new UnavailableError(`Gateway ${context.url} cannot send on that channel: ${text.split("\n")[0]}`, {
      code: "CHANNEL_NOT_CONFIGURED",
      hint: "Configure the channel on that Gateway (`openclaw channels add`, `openclaw channels list --all`), or change messageTool.channel.",
      cause: error,
    });
  }
  if (/pending input ownership ended|idempotency key conflicts with the accepted input/iu.test(text)) {
    // A restart left this id's input interrupted; the same id is refused for good, however often it is tried.
    return new UnavailableError(`Gateway ${context.url} holds this message as interrupted input and refuses its id again: ${text}`, {
      code: "INPUT_INTERRUPTED",
      hint: "The next outbox flush sends it again as a new turn under a fresh idempotency key.",
      cause: error,
    });
  }
  if (error.retryable === true || code === "UNAVAILABLE") {
    return new TransientError(`Gateway ${context.url} is busy: ${text}`, {
      code: code || "UNAVAILABLE",
      cause: error,
      ...(typeof error.retryAfterMs === "number" ? { retryAfterMs: error.retryAfterMs } : {}),
    });
  }
  if (code === "INVALID_REQUEST") {
    return new FatalError(`Gateway ${context.url} rejected the request: ${text}`, { code: "INVALID_REQUEST", cause: error });
  }
  return new UnavailableError(`Gateway ${context.url} refused: ${text}`, { code: code || "GATEWAY_ERROR", cause: error });
}
