import { readFileSync } from "node:fs";

const PACKAGE_NAME = "openclaw-inter-instance";

/**
 * This package's version, from its package.json: the nearest one above this module that names the
 * package (tsc's dist/cli/version.js and the bundle's dist/cli/bundle/ chunk sit at different depths).
 */
export function packageVersion(): string {
  for (let up = "../"; up.length <= 12; up += "../") {
    try {
      const manifest = JSON.parse(readFileSync(new URL(`${up}package.json`, import.meta.url), "utf8")) as { name?: unknown; version?: unknown };
      if (manifest.name === PACKAGE_NAME && typeof manifest.version === "string") return manifest.version;
    } catch {
      // No package.json at this level: look one higher.
    }
  }
  return "unknown";
}
