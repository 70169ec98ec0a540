import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import type { SecretRef } from "./schema.js";
import { TARGET_TOKEN_SOURCE } from "./token-hint.js";

/** How a credential is configured: one of `token` (plaintext or SecretRef), `tokenEnv`, `tokenFile`. */
export interface SecretSpec {
  readonly token?: string | SecretRef | undefined;
  readonly tokenEnv?: string | undefined;
  readonly tokenFile?: string | undefined;
}

export interface ResolvedSecret {
  readonly value: string | undefined;
  /** Where it comes from, for hints: "environment variable XIAOM_TOKEN", "SecretRef file:xiaom:value", … */
  readonly source: string;
  /** Why there is no value although one is configured, and what to do about it. */
  readonly missing?: { readonly field: string; readonly reason: string; readonly fix: string };
}

function expandHome(path: string): string {
  return path === "~" || path.startsWith("~/") ? join(homedir(), path.slice(1)) : path;
}

function describeRef(ref: SecretRef): string {
  return `SecretRef ${ref.source}:${ref.provider}:${ref.id}`;
}

/**
 * Resolves a configured credential outside a Gateway's own secret resolution: plaintext as given,
 * an env SecretRef or `tokenEnv` from `env`, `tokenFile` from disk. A file, exec or store SecretRef
 * is resolved by the Gateway before the plugin sees its config; one that arrives here unresolved is
 * reported as missing with the fix. `field` is the config path, e.g. `instances.xiaom.gateway`.
 */
export function resolveSecret(spec: SecretSpec, field: string, env: NodeJS.ProcessEnv): ResolvedSecret | undefined {
  const { token, tokenEnv, tokenFile } = spec;
  if (typeof token === "string") return { value: token, source: `${field}.token in the config` };
  if (token) {
    const source = describeRef(token);
    if (token.source === "env") {
      const value = env[token.id] || undefined;
      return value
        ? { value, source }
        : {
            value,
            source,
            missing: {
              field: `${field}.token`,
              reason: `environment variable ${token.id} is not set`,
              fix: `Set ${token.id} in the environment of the process that sends (for a Gateway: its service environment, e.g. ~/.openclaw/.env).`,
            },
          };
    }
    return {
      value: undefined,
      source,
      missing: {
        field: `${field}.token`,
        reason: `a ${token.source} SecretRef is resolved by an OpenClaw Gateway, and this one reached the plugin unresolved`,
        fix: "Inside a Gateway run `openclaw secrets audit` to see why it did not resolve; outside one, give tokenFile or tokenEnv instead.",
      },
    };
  }
  if (tokenEnv) {
    const value = env[tokenEnv] || undefined;
    const source = `environment variable ${tokenEnv}`;
    return value
      ? { value, source }
      : {
          value,
          source,
          missing: {
            field: `${field}.tokenEnv`,
            reason: `environment variable ${tokenEnv} is not set`,
            fix: `Set ${tokenEnv} (export ${tokenEnv}=…) where this runs${/gateway$/u.test(field) ? `; its value: ${TARGET_TOKEN_SOURCE}` : ""}; or change ${field}.tokenEnv in the config.`,
          },
        };
  }
  if (tokenFile) {
    const path = expandHome(tokenFile);
    const source = `file ${path}`;
    try {
      const value = readFileSync(path, "utf8").replace(/\r?\n$/u, "") || undefined;
      return value
        ? { value, source }
        : {
            value,
            source,
            missing: { field: `${field}.tokenFile`, reason: `${path} is empty`, fix: `Write the token into ${path} (only the token, mode 600).` },
          };
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code ?? String(error);
      return {
        value: undefined,
        source,
        missing: {
          field: `${field}.tokenFile`,
          reason: `${path} cannot be read (${code})`,
          fix: `Create ${path} holding only the token, readable by this user (chmod 600).`,
        },
      };
    }
  }
  return undefined;
}
