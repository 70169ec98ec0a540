import { lazyRequire } from "./lazy.js";
import type { DestinationStream, LevelWithSilent, Logger } from "pino";
import type { SecretSet } from "./redact.js";

export type { Logger } from "pino";

const pinoModule = lazyRequire<typeof import("pino")>("pino");

/** Field paths that never reach a log line, whatever object they sit in. */
export const REDACT_PATHS = [
  "token",
  "*.token",
  "*.*.token",
  "password",
  "*.password",
  "authorization",
  "*.authorization",
  "*.headers.authorization",
  "deviceToken",
  "*.deviceToken",
  "privateKeyPem",
  "*.privateKeyPem",
];

function scrubDeep(value: unknown, secrets: SecretSet, depth = 0): unknown {
  if (typeof value === "string") return secrets.scrub(value);
  if (depth > 6 || value === null || typeof value !== "object") return value;
  if (value instanceof Error) return { type: value.name, message: secrets.scrub(value.message) };
  if (Array.isArray(value)) return value.map((item) => scrubDeep(item, secrets, depth + 1));
  return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, scrubDeep(item, secrets, depth + 1)]));
}

export interface LoggerOptions {
  readonly level?: LevelWithSilent;
  readonly destination?: DestinationStream;
  /** Secret values (tokens) to blank out wherever they appear, also inside messages. */
  readonly secrets?: SecretSet;
}

/**
 * A pino logger that redacts credential fields by path and, when given the set of known secrets,
 * scrubs their values from every argument, since a remote error message may quote one back.
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const secrets = options.secrets;
  const pino = pinoModule();
  return pino.pino(
    {
      name: "openclaw-inter-instance",
      level: options.level ?? "info",
      redact: { paths: REDACT_PATHS, censor: "[redacted]" },
      ...(secrets
        ? {
            hooks: {
              logMethod(args, method) {
                method.apply(this, args.map((arg) => scrubDeep(arg, secrets)) as Parameters<typeof method>);
              },
            },
          }
        : {}),
    },
    options.destination ?? pino.destination(2),
  );
}
