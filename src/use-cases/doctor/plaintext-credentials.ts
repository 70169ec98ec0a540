import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { CREDENTIAL_FIELDS } from "../../config/schema.js";
import type { DoctorCheck } from "./index.js";

const PLUGIN_ID = "inter-instance";

/** The Gateway's config file on this machine: $OPENCLAW_CONFIG_PATH, else <state dir>/openclaw.json. */
export function openclawConfigPath(env: NodeJS.ProcessEnv): string {
  return env.OPENCLAW_CONFIG_PATH ?? join(env.OPENCLAW_STATE_DIR ?? join(homedir(), ".openclaw"), "openclaw.json");
}

function at(value: unknown, path: readonly string[]): unknown {
  return path.reduce<unknown>((node, key) => (node !== null && typeof node === "object" ? (node as Record<string, unknown>)[key] : undefined), value);
}

/** An env SecretRef id for a credential: uppercase, digits and underscores, starting with a letter. */
function suggestedVariable(instance: string, field: string): string {
  const name = `${instance}_${field.replace(/\./gu, "_")}_TOKEN`.toUpperCase().replace(/[^A-Z0-9_]/gu, "_");
  return /^[A-Z]/u.test(name) ? name : `OII_${name}`;
}

/**
 * Credentials our plugin entry in the Gateway's `openclaw.json` holds as plaintext, which the agent
 * can read there: one warning each, with the command that turns it into an env SecretRef. Nothing
 * when the file or our entry is absent.
 */
export async function plaintextCredentialChecks(configPath: string, only?: string): Promise<DoctorCheck[]> {
  const text = await readFile(configPath, "utf8").catch(() => undefined);
  if (text === undefined) return [];
  // OpenClaw reads openclaw.json as JSON5 (unquoted keys, single quotes, comments, trailing commas).
  const { default: JSON5 } = await import("json5");
  let parsed: unknown;
  try {
    parsed = JSON5.parse(text);
  } catch {
    return []; // not a config OpenClaw would load either; `openclaw doctor` there says where it breaks
  }
  const pluginConfig = at(parsed, ["plugins", "entries", PLUGIN_ID, "config"]);
  const instances = at(pluginConfig, ["instances"]);
  if (instances === null || typeof instances !== "object") return [];
  const checks: DoctorCheck[] = [];
  const natsToken = at(pluginConfig, ["nats", "auth", "token"]);
  if (only === undefined && typeof natsToken === "string" && !/^\$\{[^}]*\}$/u.test(natsToken)) {
    const path = `plugins.entries.${PLUGIN_ID}.config.nats.auth.token`;
    checks.push({
      instance: String(at(pluginConfig, ["self", "name"]) ?? "self"),
      check: "credential-storage",
      status: "warn",
      summary: `${path} is stored as plaintext in ${configPath}, where the agent can read it.`,
      fix: `Put the token into the Gateway service's environment as NATS_TOKEN, then run \`openclaw config set ${path} --ref-provider default --ref-source env --ref-id NATS_TOKEN\` and restart the Gateway.`,
    });
  }
  for (const [name, instance] of Object.entries(instances as Record<string, unknown>)) {
    if (only !== undefined && only !== name) continue;
    const plaintext = CREDENTIAL_FIELDS.filter((field) => {
      const token = at(instance, [...field.split("."), "token"]);
      // "${VAR}" is OpenClaw's env substitution, not a stored secret.
      return typeof token === "string" && !/^\$\{[^}]*\}$/u.test(token);
    });
    for (const field of plaintext) {
      const path = `plugins.entries.${PLUGIN_ID}.config.instances.${name}.${field}.token`;
      const variable = suggestedVariable(name, field);
      checks.push({
        instance: name,
        check: "credential-storage",
        status: "warn",
        summary: `${path} is stored as plaintext in ${configPath}, where the agent can read it.`,
        fix: `Put the token into the Gateway service's environment as ${variable} (e.g. a line in ~/.openclaw/.env), then run \`openclaw config set ${path} --ref-provider default --ref-source env --ref-id ${variable}\` and restart the Gateway; a file provider works the same way (README, "Install it as an OpenClaw plugin").`,
      });
    }
  }
  return checks;
}
