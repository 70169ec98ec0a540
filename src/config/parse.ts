import { readFile } from "node:fs/promises";
import type { z } from "zod";
import { ValidationError } from "../errors.js";
import { configSchema, type Config } from "./schema.js";

/** Turns zod issues into `a.b.c: message` lines that name the offending field. */
export function toValidationError(what: string, error: z.ZodError): ValidationError {
  const issues = error.issues.map((issue) => ({
    path: issue.path.map(String).join(".") || "(root)",
    message: issue.message,
  }));
  const lines = issues.map((issue) => `${issue.path}: ${issue.message}`);
  return new ValidationError(`Invalid ${what}: ${lines.join("; ")}`, issues);
}

/** Validates a registry given as an object (plugin config, code). Throws `ValidationError`. */
export function parseConfig(input: unknown): Config {
  const result = configSchema.safeParse(input);
  if (!result.success) throw toValidationError("config", result.error);
  return result.data;
}

/** Reads and validates a JSON registry file. */
export async function loadConfigFile(path: string): Promise<Config> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (cause) {
    throw new ValidationError(`Cannot read config file ${path}`, [{ path: "(file)", message: String(cause) }], { cause });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (cause) {
    throw new ValidationError(`Config file ${path} is not valid JSON`, [{ path: "(file)", message: String(cause) }], { cause });
  }
  return parseConfig(json);
}
