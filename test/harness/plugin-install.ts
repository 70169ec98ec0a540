import { execFile } from "node:child_process";
import { rmSync } from "node:fs";
import { access, mkdir, mkdtemp, readFile, writeFile } from "node:fs/promises";
import { homedir, tmpdir } from "node:os";
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
  await setPluginsSection(gateway.stateDir, { entries: { "inter-instance": entry } });
  await run(process.execPath, [openclawEntry, "plugins", "install", `npm-pack:${tarball}`, "--force", "--accept-capabilities"], {
    env: withMachineNpmCache(gateway.env),
    timeout: 240_000,
  });
}

/**
 * Each test Gateway has a HOME of its own, so npm would start from an empty cache every time and
 * fetch the plugin's dependencies again: the machine's own cache serves them (as it would for a user).
 */
function withMachineNpmCache(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  return { ...env, npm_config_cache: npmCache, npm_config_prefer_offline: "true", npm_config_audit: "false", npm_config_fund: "false" };
}

/** Replaces the `plugins` section of a Gateway's `openclaw.json`. */
async function setPluginsSection(stateDir: string, plugins: Record<string, unknown>): Promise<void> {
  const configPath = join(stateDir, "openclaw.json");
  const config = JSON.parse(await readFile(configPath, "utf8")) as Record<string, unknown>;
  config.plugins = plugins;
  await writeFile(configPath, `${JSON.stringify(config, null, 2)}\n`);
}

const INSTALLED_PLUGIN_PATH = ["npm", "projects", "openclaw-inter-instance", "node_modules", "openclaw-inter-instance"];

/**
 * Installs the packed plugin once, with `openclaw plugins install` into a state directory of its own, and
 * returns the installed package's directory. `root` is removed by whoever owns it.
 */
export async function installPluginOnce(root: string): Promise<string> {
  const stateDir = join(root, "state");
  const homeDir = join(root, "home");
  await mkdir(stateDir, { recursive: true });
  await mkdir(homeDir, { recursive: true });
  await writeFile(join(stateDir, "openclaw.json"), "{}\n");
  const tarball = await packPlugin(root);
  const env = withMachineNpmCache({ ...process.env, HOME: homeDir, OPENCLAW_STATE_DIR: stateDir });
  await run(process.execPath, [openclawEntry, "plugins", "install", `npm-pack:${tarball}`, "--force", "--accept-capabilities"], { env, timeout: 240_000 });
  const installed = join(stateDir, ...INSTALLED_PLUGIN_PATH);
  await access(join(installed, "openclaw.plugin.json"));
  return installed;
}

let installedHere: Promise<string> | undefined;

/** The environment variable that holds the address of the run's shared install. */
export const INSTALLED_PLUGIN_URL = "OII_INSTALLED_PLUGIN_URL";

/**
 * The run's installed plugin: under `npm test`, the one `test/harness/gateway-pool.ts` installs for the
 * whole run (its address is in the environment, so a bench the suite runs uses it too); else installed
 * once by this process.
 */
async function installedPluginDir(): Promise<string> {
  const shared = process.env[INSTALLED_PLUGIN_URL];
  if (shared) {
    const response = await fetch(shared);
    if (!response.ok) throw new Error(`The run's plugin install failed: ${await response.text()}`);
    return response.text();
  }
  installedHere ??= mkdtemp(join(tmpdir(), "oii-plugin-")).then((root) => {
    process.once("exit", () => rmSync(root, { recursive: true, force: true }));
    return installPluginOnce(root);
  });
  return installedHere;
}

/**
 * Gives a Gateway our plugin, installed by OpenClaw once for the whole run and loaded by path
 * (`plugins.load.paths`, OpenClaw's way for a local plugin), with `entry` as its config entry. For
 * Gateways whose tests are about what the plugin does: an install costs about 19 s of CPU (npm), and the
 * install itself is what plugin.test, readme-plugin.test and clawhub.test check, each with `installPlugin`.
 * For `startGateway`'s `beforeStart`.
 */
export async function loadInstalledPlugin(gateway: { stateDir: string }, entry: Record<string, unknown>): Promise<void> {
  await setPluginsSection(gateway.stateDir, { load: { paths: [await installedPluginDir()] }, entries: { "inter-instance": entry } });
}
