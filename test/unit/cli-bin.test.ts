// The bin on a Node older than package.json's engines: one sentence naming the version it needs, exit 1.
// It runs the built dist/cli/bin.js (`npm run build` first) with the system's Node, where that is older.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const bin = join(root, "dist", "cli", "bin.js");
const OLD_NODE = "/usr/bin/node";
const engines = (JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { engines: { node: string } }).engines.node;
const needed = /^>=(\d+\.\d+)$/u.exec(engines)?.[1];

/** The version of the system's Node when it is older than 22 (the bin's imports need 22.19). */
function oldNodeVersion(): string | undefined {
  if (!existsSync(OLD_NODE)) return undefined;
  const version = execFileSync(OLD_NODE, ["-p", "process.versions.node"], { encoding: "utf8" }).trim();
  return Number(version.split(".")[0]) < 22 ? version : undefined;
}
const oldVersion = oldNodeVersion();

describe.skipIf(oldVersion === undefined)("the bin on an older Node", () => {
  it("says which Node it needs and exits 1, instead of a SyntaxError from its imports", () => {
    const run = spawnSync(OLD_NODE, [bin, "--help"], { encoding: "utf8" });
    expect(run.status).toBe(1);
    expect(run.stdout).toBe("");
    expect(run.stderr).toBe(`openclaw-inter-instance needs Node.js ${needed} or newer; this is Node.js ${oldVersion}.\n`);
  });
});
