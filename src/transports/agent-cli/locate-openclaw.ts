import { existsSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

/** How to start the `openclaw` CLI: a file to execute and the arguments that come before ours. */
export interface OpenclawCommand {
  readonly file: string;
  readonly prefix: readonly string[];
  /** Where it was found, for reports and `doctor`. */
  readonly source: "config" | "PATH" | "package";
}

const require = createRequire(import.meta.url);

/** The `openclaw` bin of the installed package (its exports hide the file, so go through the package root). */
function installedPackageEntry(): string | undefined {
  let dir: string;
  try {
    dir = dirname(require.resolve("openclaw"));
  } catch {
    return undefined;
  }
  for (; dir !== dirname(dir); dir = dirname(dir)) {
    const manifest = join(dir, "package.json");
    if (!existsSync(manifest)) continue;
    const pkg = JSON.parse(readFileSync(manifest, "utf8")) as { name?: string; bin?: string | Record<string, string> };
    if (pkg.name !== "openclaw") continue;
    const bin = typeof pkg.bin === "string" ? pkg.bin : pkg.bin?.openclaw;
    return bin ? join(dir, bin) : undefined;
  }
  return undefined;
}

function nodeCanRunOpenclaw(): boolean {
  const [major = 0, minor = 0] = process.versions.node.split(".").map(Number);
  return major > 24 || (major === 24 && minor >= 16);
}

/**
 * Finds the `openclaw` CLI: the configured path, else `openclaw` on PATH, else the installed
 * `openclaw` package run by this Node (only when this Node is new enough for OpenClaw).
 */
export async function locateOpenclaw(configured: string | undefined, env: NodeJS.ProcessEnv = process.env): Promise<OpenclawCommand | undefined> {
  if (configured)
    return configured.endsWith(".mjs")
      ? { file: process.execPath, prefix: [configured], source: "config" }
      : { file: configured, prefix: [], source: "config" };
  const { default: which } = await import("which");
  const onPath = await which("openclaw", { nothrow: true, path: env.PATH ?? "" });
  if (onPath) return { file: onPath, prefix: [], source: "PATH" };
  const entry = installedPackageEntry();
  if (entry && nodeCanRunOpenclaw()) return { file: process.execPath, prefix: [entry], source: "package" };
  return undefined;
}
