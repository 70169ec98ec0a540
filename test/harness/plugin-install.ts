import { execFile } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { openclawEntry } from "./gateway.ts";

const run = promisify(execFile);
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
  await run(process.execPath, [openclawEntry, "plugins", "install", `npm-pack:${tarball}`, "--force", "--accept-capabilities"], { env: gateway.env, timeout: 240_000 });
}
