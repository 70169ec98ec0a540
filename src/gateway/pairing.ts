import { setTimeout as delay } from "node:timers/promises";
import { toValidationError } from "../config/parse.js";
import { InterInstanceError, UnavailableError, ValidationError } from "../core/errors.js";
import { once } from "../util/lazy.js";
import { zod } from "../util/zod.js";
import { GatewayConnection } from "./connection.js";
import type { DeviceIdentityStore } from "./device-identity.js";

/** What an OpenClaw setup code (`openclaw qr --setup-code-only`) carries: base64url JSON. Built on first use: importing the library stays cheap. */
const setupCodeSchema = once(() => {
  const z = zod();
  return z
    .object({
      url: z.string().refine((value) => URL.canParse(value) && /^wss?:$/u.test(new URL(value).protocol), "must be a ws:// or wss:// URL"),
      bootstrapToken: z.string().min(8),
      expiresAtMs: z.number().int().positive().optional(),
      tlsFingerprint: z.string().min(1).optional(),
    })
    .passthrough();
});

export interface SetupCode {
  readonly url: string;
  readonly bootstrapToken: string;
  readonly expiresAt: Date | undefined;
  /** The certificate pin, when the Gateway served a pinnable certificate as it made the code. */
  readonly tlsFingerprint: string | undefined;
}

/** Decodes a setup code as `openclaw qr` prints it, bare or as an `oc-pair://` link. Throws `ValidationError`. */
export function decodeSetupCode(code: string): SetupCode {
  const bare = code.trim().replace(/^oc-pair:\/\//u, "");
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(bare, "base64url").toString("utf8"));
  } catch (cause) {
    throw new ValidationError(
      "The setup code is not one OpenClaw printed (it does not decode to JSON).",
      [{ path: "setupCode", message: "not base64url JSON" }],
      {
        cause,
        hint: "Copy it again from `openclaw qr --setup-code-only --limited` on the target, whole.",
      },
    );
  }
  const parsed = setupCodeSchema().safeParse(json);
  if (!parsed.success) throw toValidationError("setup code", parsed.error);
  const { url, bootstrapToken, expiresAtMs, tlsFingerprint } = parsed.data;
  return { url, bootstrapToken, expiresAt: expiresAtMs === undefined ? undefined : new Date(expiresAtMs), tlsFingerprint };
}

export interface PairOptions {
  readonly setupCode: SetupCode;
  readonly identity: DeviceIdentityStore;
  /** Overrides the code's pin, or pins a code that carries none. */
  readonly tlsFingerprint?: string | undefined;
  /** Gives up after this long even if the code is still valid. */
  readonly timeoutMs?: number;
  /** How long to wait between tries while the target has not approved yet. */
  readonly retryMs?: number;
  /** Called once per pending request id: tell the person what to approve on the target. */
  readonly onPending?: (pending: { readonly requestId: string | undefined; readonly approveCommand: string }) => void;
  readonly signal?: AbortSignal;
  readonly env?: NodeJS.ProcessEnv;
}

export interface PairResult {
  readonly url: string;
  readonly tlsFingerprint: string | undefined;
  /** What the target granted this device. */
  readonly scopes: readonly string[];
  readonly deviceId: string;
}

function nextStepOf(error: InterInstanceError): string | undefined {
  const details = (error.cause as { details?: { recommendedNextStep?: unknown } } | undefined)?.details;
  return typeof details?.recommendedNextStep === "string" ? details.recommendedNextStep : undefined;
}

function requestIdOf(error: unknown): string | undefined {
  const hint = error instanceof InterInstanceError ? (error.hint ?? "") : "";
  return /openclaw devices approve (\S+?)`/u.exec(hint)?.[1];
}

/**
 * Pairs this machine with a Gateway from a setup code, as OpenClaw's own remote clients do: it
 * connects with the code's bootstrap token, and while the Gateway answers PAIRING_REQUIRED
 * (`wait_then_retry`) it reports the request to approve and tries again with the same token,
 * until approval, the code's expiry or the timeout. The device token the Gateway then issues is
 * stored with this machine's device identity; the shared Gateway token is never needed.
 */
export async function pairWithSetupCode(options: PairOptions): Promise<PairResult> {
  const { setupCode } = options;
  const tlsFingerprint = options.tlsFingerprint ?? setupCode.tlsFingerprint;
  const deadline = Math.min(setupCode.expiresAt?.getTime() ?? Number.POSITIVE_INFINITY, Date.now() + (options.timeoutMs ?? 10 * 60_000));
  const reported = new Set<string>();
  for (;;) {
    options.signal?.throwIfAborted();
    const connection = new GatewayConnection({
      url: setupCode.url,
      bootstrapToken: setupCode.bootstrapToken,
      tokenSource: "the setup code",
      tlsFingerprint,
      identity: options.identity,
      ...(options.env ? { env: options.env } : {}),
    });
    try {
      const scopes = (await connection.grantedScopes(options.signal)) ?? [];
      return { url: setupCode.url, tlsFingerprint, scopes, deviceId: options.identity.identity().deviceId };
    } catch (error) {
      if (!(error instanceof InterInstanceError) || error.code !== "PAIRING_REQUIRED") throw error;
      // OpenClaw says what a setup-code client should do next; only "wait_then_retry" means keep trying.
      const step = nextStepOf(error);
      if (step !== undefined && step !== "wait_then_retry") {
        throw new UnavailableError(`The target refused this setup code (${step}).`, {
          code: "PAIRING_REFUSED",
          hint: "Make a new invite on the target (`openclaw-inter-instance invite`, or a bare code: `openclaw qr --setup-code-only --limited`) and pair again; one works once and for ten minutes.",
          cause: error,
        });
      }
      const requestId = requestIdOf(error);
      const key = requestId ?? "";
      if (!reported.has(key)) {
        reported.add(key);
        options.onPending?.({
          requestId,
          approveCommand: requestId ? `openclaw devices approve ${requestId}` : "openclaw devices list, then openclaw devices approve <requestId>",
        });
      }
      if (Date.now() + (options.retryMs ?? 3_000) > deadline) {
        throw new UnavailableError(
          `The target did not approve this device before ${setupCode.expiresAt && setupCode.expiresAt.getTime() <= deadline ? "the setup code expired" : "the timeout"}.`,
          {
            code: "PAIRING_TIMEOUT",
            hint: `Run \`${requestId ? `openclaw devices approve ${requestId}` : "openclaw devices approve <requestId>"}\` on the target sooner, or make a new invite there (\`openclaw-inter-instance invite\`) and pair again.`,
          },
        );
      }
      await delay(options.retryMs ?? 3_000, undefined, options.signal ? { signal: options.signal } : {});
    } finally {
      await connection.close();
    }
  }
}
