import { UnavailableError } from "../core/errors.js";
import type { OpenclawCommand } from "../transports/agent-cli/locate-openclaw.js";
import { once } from "../util/lazy.js";
import { scrubSecrets } from "../util/redact.js";
import { zod } from "../util/zod.js";
import { FULL_RESTART, SERVE_LAN_WITH_TLS } from "./serving.js";

/** What `openclaw qr --json` prints (the fields read here). */
const qrOutputSchema = once(() =>
  zod()
    .object({
      setupCode: zod()
        .string()
        .regex(/^[A-Za-z0-9_-]{16,2048}$/u),
      gatewayUrl: zod().string().min(1),
      urlSource: zod().string().optional(),
    })
    .passthrough(),
);

export interface MadeSetupCode {
  readonly setupCode: string;
  readonly gatewayUrl: string;
  /** Where OpenClaw took the URL from (`gateway.bind=lan`, `gateway.remote.url`, …). */
  readonly urlSource: string | undefined;
}

const QR_TIMEOUT_MS = 90_000;

/**
 * Makes a setup code the way OpenClaw does, by its own `openclaw qr --json --limited` on this
 * machine (its state, its config): a short-lived single-use bootstrap token, without operator.admin,
 * for the URL OpenClaw derives from `gateway.bind` and `gateway.tls` (or the one given).
 */
export async function makeSetupCode(
  command: OpenclawCommand,
  options: { readonly url?: string | undefined; readonly env: NodeJS.ProcessEnv; readonly signal?: AbortSignal | undefined },
): Promise<MadeSetupCode> {
  const args = [...command.prefix, "qr", "--json", "--limited", ...(options.url ? ["--url", options.url] : [])];
  const { execa } = await import("execa");
  const result = await execa(command.file, args, {
    env: options.env,
    extendEnv: false,
    reject: false,
    stdin: "ignore",
    timeout: QR_TIMEOUT_MS,
    ...(options.signal ? { cancelSignal: options.signal } : {}),
  });
  // Warnings may come before the JSON document; it starts on a line of its own.
  options.signal?.throwIfAborted();
  const json = /^\{[\s\S]*\}\s*$/mu.exec(result.stdout)?.[0];
  let parsed: unknown;
  try {
    parsed = json === undefined ? undefined : JSON.parse(json);
  } catch {
    parsed = undefined;
  }
  const output = qrOutputSchema().safeParse(parsed);
  if (result.exitCode === 0 && output.success) {
    return { setupCode: output.data.setupCode, gatewayUrl: output.data.gatewayUrl, urlSource: output.data.urlSource };
  }
  // The output may quote the config; nothing of a token goes further than this process.
  throw explainQrFailure(scrubSecrets(reasonOf(parsed, result.stderr), []), command, result.exitCode ?? result.signal ?? "?");
}

/** Why `openclaw qr` failed, in its own words: its JSON error, else the "Reason:" line, else the end of stderr. */
function reasonOf(parsed: unknown, stderr: string): string {
  const message = (parsed as { error?: { message?: unknown } } | undefined)?.error?.message;
  if (typeof message === "string" && message) return message;
  const lines = stderr.trim().split("\n").filter(Boolean);
  const reason = lines.find((line) => /Reason:/u.test(line));
  return (reason?.replace(/^.*Reason:\s*/u, "") ?? lines.slice(-2).join(" ")).slice(0, 500);
}

/** `openclaw qr`'s refusal as an error with the fix: most of them are about how the Gateway is set up. */
function explainQrFailure(said: string, command: OpenclawCommand, exit: number | string): UnavailableError {
  if (/only bound to loopback/iu.test(said)) {
    return new UnavailableError("This Gateway is bound to loopback only: no other machine can reach it.", {
      code: "GATEWAY_LOOPBACK_ONLY",
      hint: `Serve the LAN with TLS: \`${SERVE_LAN_WITH_TLS}\` (or give the address others use with --url wss://…). ${FULL_RESTART}`,
    });
  }
  if (/no private LAN IP/iu.test(said)) {
    return new UnavailableError(`OpenClaw cannot tell which address others reach this Gateway at: ${said}`, {
      code: "NO_LAN_ADDRESS",
      hint: "Give it: `openclaw-inter-instance invite --url wss://<this machine's name or address>:<port>`.",
    });
  }
  if (/auth is not configured|no token|requires gateway\.auth/iu.test(said)) {
    return new UnavailableError(`OpenClaw cannot make a setup code: ${said}`, {
      code: "GATEWAY_AUTH_OFF",
      hint: "A Gateway off loopback needs token auth: `openclaw config set gateway.auth.mode token` (OpenClaw makes the token), then restart it and run invite again.",
    });
  }
  return new UnavailableError(`\`openclaw qr\` did not make a setup code (exit ${exit}): ${said || "no output"}`, {
    code: "SETUP_CODE_FAILED",
    hint: `Run \`openclaw qr --setup-code-only --limited\` here to see why; ${command.source === "config" ? `openclawCli.bin is ${command.file}` : `openclaw was found via ${command.source}`}.`,
  });
}
