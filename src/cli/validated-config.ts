import { createHash } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseConfig, parseConfigJson, readConfigText, sealValidated } from "../config/parse.js";
import type { Config } from "../config/schema.js";
import { defaultStateDir } from "../gateway/device-identity.js";
import { replaceFileSync } from "../util/atomic-write.js";
import { once } from "../util/lazy.js";
import { packageVersion } from "./version.js";

interface Entry {
  readonly key: string;
  readonly config: Config;
}

/**
 * The config file, validated: zod's result for this exact text, kept in the state dir
 * (`config-<hash of the file's path>.validated.json`, 0600) and used again while the file, this
 * build of the library and Node are the same. Building the config schema and parsing with it cost a
 * one-shot send about 50 ms of its 300 ms of CPU; a command run once per message pays it once per
 * edit of the file instead. Any changed byte, a rebuild, or an entry that does not read back validates anew.
 */
export async function loadConfigFileValidated(path: string, env: NodeJS.ProcessEnv): Promise<Config> {
  const text = await readConfigText(path);
  const json = await parseConfigJson(text, path);
  const identity = buildIdentity();
  const key = identity === undefined ? undefined : createHash("sha256").update(identity).update("\0").update(text).digest("hex");
  const entryPath = entryPathFor(path, json, env);
  const cached = key === undefined ? undefined : readEntry(entryPath, key);
  if (cached) return sealValidated(cached);
  const config = parseConfig(json);
  if (key !== undefined) writeEntry(entryPath, { key, config });
  return sealValidated(config);
}

/**
 * What the result depends on besides the text: this build (its file's time and size), Node and its
 * ICU (time zones). None where this module is not a file: a rebuild could not be told, so nothing is kept.
 */
const buildIdentity = once((): string | undefined => {
  try {
    const self = statSync(fileURLToPath(import.meta.url));
    return [packageVersion(), self.mtimeMs, self.size, process.versions.node, process.versions.icu ?? ""].join("\0");
  } catch {
    return undefined;
  }
});

/** Next to the state the config names (its `stateDir`, as written), else the default state dir. */
function entryPathFor(path: string, json: unknown, env: NodeJS.ProcessEnv): string {
  const written = (json as { stateDir?: unknown } | null)?.stateDir;
  const stateDir = typeof written === "string" && written !== "" ? written : defaultStateDir(env);
  const name = createHash("sha256").update(resolve(path)).digest("hex").slice(0, 16);
  return join(stateDir, `config-${name}.validated.json`);
}

function readEntry(entryPath: string, key: string): Config | undefined {
  try {
    const entry = JSON.parse(readFileSync(entryPath, "utf8")) as Partial<Entry> | null;
    return entry?.key === key && typeof entry.config === "object" && entry.config !== null ? entry.config : undefined;
  } catch {
    return undefined;
  }
}

/** Only into a state dir that exists (a command that only reads the config makes none); a failed write costs a validation later. */
function writeEntry(entryPath: string, entry: Entry): void {
  try {
    replaceFileSync(entryPath, JSON.stringify(entry), 0o600);
  } catch {
    // Not written: the next run validates again.
  }
}
