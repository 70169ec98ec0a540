import type { OpenClawConfig } from "openclaw/plugin-sdk/plugin-entry";
import { parseConfig } from "../config/parse.js";
import { type Config, CREDENTIAL_FIELDS } from "../config/schema.js";
import { PLUGIN_ID } from "./id.js";

type Json = Record<string, unknown>;
const isObject = (value: unknown): value is Json => value !== null && typeof value === "object" && !Array.isArray(value);

export interface ResolvedPluginConfig {
  readonly config: unknown;
  /** Refs that did not resolve: their path and OpenClaw's reason (the token is reported missing at use). */
  readonly unresolved: readonly { readonly path: string; readonly reason: string }[];
}

/**
 * Resolves the SecretRefs in the plugin's config with the Gateway's own resolver (its
 * `secrets.providers`: env, file, exec, store), since the config a plugin is handed can still hold
 * them. The result is a copy; a ref that does not resolve stays a ref, which the registry reports
 * as a missing token with the fix.
 */
export async function resolvePluginSecretRefs(pluginConfig: unknown, openclawConfig: OpenClawConfig, env: NodeJS.ProcessEnv): Promise<ResolvedPluginConfig> {
  if (!isObject(pluginConfig)) return { config: pluginConfig, unresolved: [] };
  const copy = structuredClone(pluginConfig);
  const holders: { holder: unknown; path: string }[] = Object.entries(isObject(copy.instances) ? copy.instances : {}).flatMap(([name, instance]) =>
    CREDENTIAL_FIELDS.map((field) => ({
      holder: field.split(".").reduce<unknown>((node, key) => (isObject(node) ? node[key] : undefined), instance),
      path: `instances.${name}.${field}.token`,
    })),
  );
  holders.push({ holder: isObject(copy.nats) ? copy.nats.auth : undefined, path: "nats.auth.token" });
  const unresolved: { path: string; reason: string }[] = [];
  let resolver: typeof import("openclaw/plugin-sdk/secret-input-runtime") | undefined;
  for (const { holder, path: relative } of holders) {
    if (!isObject(holder) || !isObject(holder.token)) continue;
    const path = `plugins.entries.${PLUGIN_ID}.config.${relative}`;
    resolver ??= await import("openclaw/plugin-sdk/secret-input-runtime");
    const result = await resolver.resolveConfiguredSecretInputString({
      config: openclawConfig,
      env,
      value: holder.token,
      path,
      unresolvedReasonStyle: "detailed",
    });
    if (result.value) holder.token = result.value;
    else unresolved.push({ path, reason: result.unresolvedRefReason ?? "the Gateway could not resolve it" });
  }
  return { config: copy, unresolved };
}

/** The plugin's config as the library takes it: SecretRefs resolved, each one that did not told to `warn`, validated. */
export async function pluginConfigOf(api: { readonly pluginConfig?: unknown; readonly config: OpenClawConfig }, warn: (line: string) => void): Promise<Config> {
  const resolved = await resolvePluginSecretRefs(api.pluginConfig ?? {}, api.config, process.env);
  for (const { path, reason } of resolved.unresolved) warn(`inter-instance: ${path} did not resolve: ${reason}`);
  return parseConfig(resolved.config);
}
