import { access, mkdir } from "node:fs/promises";
import { homedir, hostname } from "node:os";
import { dirname, join } from "node:path";
import { ValidationError } from "../core/errors.js";
import { writeFileAtomic } from "../util/atomic-write.js";
import { parseConfig, readConfigJson } from "./parse.js";
import type { ConfigInput } from "./schema.js";

/** Where the CLI looks for its config: $OPENCLAW_INTER_INSTANCE_CONFIG, else <state dir>/inter-instance.json. */
export function defaultConfigPath(env: NodeJS.ProcessEnv): string {
  return env.OPENCLAW_INTER_INSTANCE_CONFIG ?? join(env.OPENCLAW_STATE_DIR ?? join(homedir(), ".openclaw"), "inter-instance.json");
}

/** A name for this machine that the config accepts, from its host name. */
export function suggestedSelfName(): string {
  const name =
    hostname()
      .split(".")[0]
      ?.toLowerCase()
      .replace(/[^a-z0-9_-]+/gu, "-")
      .replace(/^-+|-+$/gu, "") ?? "";
  return /^[a-z0-9]/u.test(name) ? name.slice(0, 64) : "this-machine";
}

async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

/** Writes a new config with just this instance's name; refuses to replace one unless `force`. */
export async function initConfigFile(path: string, selfName: string, options: { force?: boolean } = {}): Promise<ConfigInput> {
  if (!options.force && (await exists(path))) {
    throw new ValidationError(`${path} exists already.`, [{ path: "(file)", message: "exists" }], {
      hint: "Keep it (add instances with `openclaw-inter-instance add`), or replace it with `init --force`.",
    });
  }
  const config: ConfigInput = { self: { name: selfName }, instances: {} };
  parseConfig(config);
  await saveConfig(path, config);
  return config;
}

/** Reads the config as written (defaults not filled in), to change it and write it back. */
async function readRaw(path: string): Promise<ConfigInput> {
  const json = await readConfigJson(path);
  parseConfig(json);
  return json as ConfigInput;
}

async function saveConfig(path: string, config: ConfigInput): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  // 0600: a config may hold an inline token.
  await writeFileAtomic()(path, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
}

/** Applies `change` to the config file and writes it back only if the result validates. */
export async function updateConfigFile(path: string, change: (config: ConfigInput) => ConfigInput): Promise<ConfigInput> {
  const next = change(await readRaw(path));
  parseConfig(next);
  await saveConfig(path, next);
  return next;
}

export type InstanceInput = ConfigInput["instances"][string];

/** Adds an instance, or updates the one of that name (its other settings kept). */
export function withInstance(config: ConfigInput, name: string, instance: InstanceInput): ConfigInput {
  const existing = config.instances[name] ?? {};
  return { ...config, instances: { ...config.instances, [name]: { ...existing, ...instance } } };
}

export function withoutInstance(config: ConfigInput, name: string): ConfigInput {
  if (!(name in config.instances)) {
    throw new ValidationError(`No instance is called "${name}" in the config.`, [{ path: `instances.${name}`, message: "not configured" }], {
      hint: `Configured: ${Object.keys(config.instances).join(", ") || "none"} (openclaw-inter-instance list).`,
    });
  }
  const { [name]: _removed, ...rest } = config.instances;
  return { ...config, instances: rest };
}
