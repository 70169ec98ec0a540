import { execFile } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { openclawEntry } from "./gateway.ts";

const run = promisify(execFile);
const npmCache = process.env.npm_config_cache ?? join(homedir(), ".npm");
const repoRoot = join(import.meta.dirname, "..", "..");

/** What a user installs: `npm pack` of this checkout (already built), into `destination`; the tarball's path. */
export async function packPlugin(destination: string): Promise<string> {
  const { stdout } = await run("npm", ["pack", "--ignore-scripts", "--json", "--pack-destination", destination], { cwd: repoRoot });
  return join(destination, (JSON.parse(stdout) as { filename: string }[])[0]!.filename);
}

/**
 * Writes our plugin entry into a Gateway's `openclaw.json` and installs the tarball into its state,
 * as `openclaw plugins install npm-pack:… --force` does for a user (a local archive needs --force).
 * For `startGateway`'s `beforeStart`.
 */
export async function installPlugin(tarball: string, gateway: { stateDir: string; env: NodeJS.ProcessEnv }, entry: Record<string, unknown>): Promise<void> {
  const configPath = join(gateway.stateDir, "openclaw.json");
  const config = JSON.parse(await readFile(configPath, "utf8")) as Record<string, unknown>;
  config.plugins = { entries: { "inter-instance": entry } };
  await writeFile(configPath, `${JSON.stringify(config, null, 2)}\n`);
  // Each test Gateway has a HOME of its own, so npm would start from an empty cache every time and
  // fetch the plugin's dependencies again: the machine's own cache serves them (as it would for a user).
  const env = { ...gateway.env, npm_config_cache: npmCache, npm_config_prefer_offline: "true", npm_config_audit: "false", npm_config_fund: "false" };
  await run(process.execPath, [openclawEntry, "plugins", "install", `npm-pack:${tarball}`, "--force", "--accept-capabilities"], { env, timeout: 240_000 });
}
