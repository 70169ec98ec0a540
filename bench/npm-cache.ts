import { join } from "node:path";

/**
 * A Gateway's environment for `openclaw plugins install` (which runs npm for the plugin's
 * dependencies under the Gateway's fresh HOME): one npm cache for the whole run, so the installs
 * after the first take the packages from it instead of the registry again.
 */
export function withRunNpmCache(env: NodeJS.ProcessEnv, scratch: string): NodeJS.ProcessEnv {
  return { ...env, npm_config_cache: join(scratch, "npm-cache"), npm_config_prefer_offline: "true", npm_config_update_notifier: "false" };
}
