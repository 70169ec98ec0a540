import type { DestinationStream, LevelWithSilent, Logger } from "pino";
import { lazyRequire } from "./lazy.js";
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

/**
 * A copy of an error with every own property scrubbed (message, stack, code, hint, cause, …): same
 * prototype, so pino's error serializer still sees an Error and writes its class name and fields.
 */
function scrubError(error: Error, secrets: SecretSet, depth: number): Error {
  const copy = Object.create(Object.getPrototypeOf(error) as object | null) as Error;
  for (const key of Object.getOwnPropertyNames(error)) {
    const descriptor = Object.getOwnPropertyDescriptor(error, key);
    let value: unknown;
    try {
      value = descriptor && "value" in descriptor ? descriptor.value : Reflect.get(error, key);
    } catch {
      continue; // a getter that throws: left out rather than failing the log line
    }
    Object.defineProperty(copy, key, {
      value: scrubDeep(value, secrets, depth + 1),
      enumerable: descriptor?.enumerable ?? false,
      writable: true,
      configurable: true,
    });
  }
  return copy;
}

function scrubDeep(value: unknown, secrets: SecretSet, depth = 0): unknown {
  if (typeof value === "string") return secrets.scrub(value);
  if (depth > 6 || value === null || typeof value !== "object") return value;
  if (value instanceof Error) return scrubError(value, secrets, depth);
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
  const make = () => pinoLogger(options);
  return options.level === "silent" && !options.destination ? silentUntilNeeded(make) : make();
}

function pinoLogger(options: LoggerOptions): Logger {
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
    // Synchronous: pino's async stderr flushes at exit with sonic-boom's flushSync, which retries a write
    // that failed with EPIPE for ever, so `-v … 2>&1 | head` never exited. A sync write's EPIPE ends logging instead.
    options.destination ?? pino.destination({ dest: 2, sync: true }),
  );
}

const SILENT_METHODS = new Set<PropertyKey>(["fatal", "error", "warn", "info", "debug", "trace", "silent"]);
const noop = () => {};

/**
 * A silent logger that loads pino only if something needs more than silence. The CLI logs nothing
 * unless asked, and loading pino (with its worker-thread transport code) was a large share of a
 * one-shot command's start. Log calls are no-ops and plain children are silent the same way; anything
 * else (a level raised later, a child with its own level, bindings, flush, …) goes to the real pino
 * logger, made then with the same options, and from then on everything does.
 */
function silentUntilNeeded(make: () => Logger): Logger {
  let real: Logger | undefined;
  const materialized = () => (real ??= make());
  const silent: Logger = new Proxy(Object.create(null) as Logger, {
    get(_target, key) {
      if (!real) {
        if (SILENT_METHODS.has(key)) return noop;
        if (key === "level") return "silent";
        if (key === "isLevelEnabled") return () => false;
        if (key === "child") {
          // A child with its own level is real at once; a plain one stays silent, keeping its bindings for when it is made.
          return (bindings: Parameters<Logger["child"]>[0], childOptions?: Parameters<Logger["child"]>[1]) =>
            childOptions?.level === undefined
              ? silentUntilNeeded(() => materialized().child<never>(bindings, childOptions))
              : materialized().child(bindings, childOptions);
        }
      }
      const value: unknown = Reflect.get(materialized(), key);
      return typeof value === "function" ? value.bind(real) : value;
    },
    set(_target, key, value) {
      return Reflect.set(materialized(), key, value);
    },
    has(_target, key) {
      return Reflect.has(materialized(), key);
    },
  });
  return silent;
}

/**
 * The caller's own pino logger, for the library's lines: a child of it that redacts the same
 * credential fields and, given the known secrets, scrubs their values from every logged object.
 */
export function adoptLogger(logger: Logger, secrets?: SecretSet): Logger {
  return logger.child(
    { lib: "openclaw-inter-instance" },
    {
      redact: { paths: REDACT_PATHS, censor: "[redacted]" },
      ...(secrets ? { formatters: { log: (object: object) => scrubDeep(object, secrets) as object } } : {}),
    },
  );
}
