import type { OpenClawConfig, OpenClawPluginApi } from "openclaw/plugin-sdk/plugin-entry";
import { suggestedSelfName } from "../config/file.js";
import { parseConfig } from "../config/parse.js";
import type { Config, ConfigInput } from "../config/schema.js";
import { PLUGIN_ID } from "./id.js";
import { pluginConfigOf } from "./secret-refs.js";

type Json = Record<string, unknown>;
const isObject = (value: unknown): value is Json => value !== null && typeof value === "object" && !Array.isArray(value);

const fresh = (): ConfigInput => ({ self: { name: suggestedSelfName() }, instances: {} });

/** The plugin's config as `openclaw inter-instance` reads and changes it. */
export interface PluginCliConfig {
  /** The config as the library takes it (SecretRefs resolved), including this run's own changes. */
  read(): Promise<Config>;
  /** Applies `change` to `plugins.entries.inter-instance.config` in openclaw.json; returns where it went. */
  update(change: (config: ConfigInput) => ConfigInput): Promise<string>;
}

/**
 * Inside OpenClaw the instances live in the plugin's entry of openclaw.json, so `pair`, `add`, `pin`
 * and `remove` write there, through OpenClaw's own config API (its locking, validation, backups
 * and hot reload), never into the standalone CLI's file. An entry without a config yet starts from
 * this host's name, as the standalone CLI's first `pair` does.
 */
export function pluginCliConfig(api: Pick<OpenClawPluginApi, "pluginConfig" | "config" | "runtime">, warn: (line: string) => void): PluginCliConfig {
  let latest: { pluginConfig?: unknown; config: OpenClawConfig } = { pluginConfig: api.pluginConfig, config: api.config };
  return {
    // An entry with no config yet reads as this host with no instances: the first write saves that.
    read: () => pluginConfigOf(isObject(latest.pluginConfig) && isObject(latest.pluginConfig.self) ? latest : { ...latest, pluginConfig: fresh() }, warn),
    update: async (change) => {
      let written: ConfigInput | undefined;
      const result = await api.runtime.config.mutateConfigFile({
        afterWrite: { mode: "auto" },
        mutate: (draft) => {
          const root = draft as Json;
          const plugins = isObject(root.plugins) ? root.plugins : {};
          const entries = isObject(plugins.entries) ? plugins.entries : {};
          const entry = isObject(entries[PLUGIN_ID]) ? entries[PLUGIN_ID] : {};
          const current = isObject(entry.config) && isObject(entry.config.self) ? (entry.config as ConfigInput) : fresh();
          const next = change({ ...current, instances: current.instances ?? {} });
          parseConfig(next);
          written = next;
          root.plugins = { ...plugins, entries: { ...entries, [PLUGIN_ID]: { ...entry, config: next } } };
        },
      });
      latest = { pluginConfig: written, config: result.nextConfig };
      return `${result.path} (plugins.entries.${PLUGIN_ID}.config)`;
    },
  };
}
