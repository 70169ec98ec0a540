import { readFile } from "node:fs/promises";
import type { z } from "zod";
import { ValidationError } from "../core/errors.js";
import { type Config, configSchemas } from "./schema.js";

/** Turns zod issues into `a.b.c: message` lines that name the offending field. */
export function toValidationError(what: string, error: z.ZodError): ValidationError {
  const issues = error.issues.map((issue) => ({
    path: issue.path.map(String).join(".") || "(root)",
    message: issue.message,
  }));
  const lines = issues.map((issue) => `${issue.path}: ${issue.message}`);
  return new ValidationError(`Invalid ${what}: ${lines.join("; ")}`, issues);
}

/** Configs known to be this function's output, frozen so that they stay so. */
const validated = new WeakSet<object>();

/** Validates a registry given as an object (plugin config, code). Throws `ValidationError`. */
export function parseConfig(input: unknown): Config {
  if (typeof input === "object" && input !== null && validated.has(input)) return input as Config;
  const result = configSchemas().configSchema.safeParse(input);
  if (!result.success) throw toValidationError("config", result.error);
  return result.data;
}

/**
 * Freezes a config that `parseConfig` returned (here or in an earlier run, for the same text) and
 * lets `parseConfig` pass it through: a command that validated its config once does not do it again
 * when it hands the config on (to `createMessenger`, say).
 */
export function sealValidated(config: Config): Config {
  validated.add(deepFreeze(config));
  return config;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    for (const child of Object.values(value)) deepFreeze(child);
    Object.freeze(value);
  }
  return value;
}

/** Reads and validates a JSON registry file. */
export async function loadConfigFile(path: string): Promise<Config> {
  return parseConfig(await readConfigJson(path));
}

/** Reads a registry file as JSON, as written (no defaults filled in); errors say where and what to do. */
export async function readConfigJson(path: string): Promise<unknown> {
  return parseConfigJson(await readConfigText(path), path);
}

/** A registry file's text; the error says whether it is missing or unreadable, and what to do. */
export async function readConfigText(path: string): Promise<string> {
  try {
    return await readFile(path, "utf8");
  } catch (cause) {
    const missing = (cause as NodeJS.ErrnoException).code === "ENOENT";
    throw new ValidationError(missing ? `No config file at ${path}` : `Cannot read config file ${path}`, [{ path: "(file)", message: String(cause) }], {
      cause,
      hint: missing
        ? "Make one with `openclaw-inter-instance init --name <this instance's name>`, or point --config or OPENCLAW_INTER_INSTANCE_CONFIG at yours."
        : "Check the file's permissions, or point --config at another file.",
    });
  }
}

/** A registry file's text as JSON; a syntax error names its line and column in `path`. */
export async function parseConfigJson(text: string, path: string): Promise<unknown> {
  try {
    return JSON.parse(text) as unknown;
  } catch (cause) {
    const at = await jsonErrorAt(text);
    const where = at ? ` at line ${at.line}, column ${at.column}: ${at.problem}` : "";
    throw new ValidationError(
      `Config file ${path} is not valid JSON${where}`,
      [{ path: "(file)", message: at ? `line ${at.line}, column ${at.column}: ${at.problem}` : String(cause) }],
      {
        cause,
        hint: "Fix the file there (JSON allows no comments and no trailing commas), or make a new one with `openclaw-inter-instance init`.",
      },
    );
  }
}

/** Where the first syntax error of a JSON text is, 1-based, as an editor shows it. Loads its parser only then. */
export async function jsonErrorAt(text: string): Promise<{ line: number; column: number; problem: string } | undefined> {
  const { printParseErrorCode, visit } = await import("jsonc-parser");
  let first: { line: number; column: number; problem: string } | undefined;
  visit(
    text,
    {
      onError: (error, _offset, _length, startLine, startCharacter) => {
        first ??= { line: startLine + 1, column: startCharacter + 1, problem: describeJsonError(printParseErrorCode(error)) };
      },
    },
    { disallowComments: true, allowTrailingComma: false, allowEmptyContent: false },
  );
  return first;
}

/** `CommaExpected` → "comma expected". */
function describeJsonError(code: string): string {
  return code.replace(/([a-z])([A-Z])/gu, "$1 $2").toLowerCase();
}
