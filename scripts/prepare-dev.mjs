// Runs as the root package's `postprepare` script on a plain `npm install` (or `npm ci`) in this
// repo, never for consumers of the package. Not `prepare`: `npm pack` runs that one too, and npm 11
// warns on every install of a local tarball that its `prepare` is "not yet covered by allowScripts"
// (though it never runs there). By then the `node` devDependency has put Node 24
// first on PATH, so OpenClaw's preinstall check (Node >= 24.16) passes. Installing OpenClaw as an
// ordinary devDependency cannot work on a Node 20 machine: its preinstall would run under the
// system Node before `node_modules/.bin/node` exists.
import { spawnSync } from "node:child_process";
import { existsSync, lstatSync, mkdirSync, readFileSync, rmSync, symlinkSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const hostDir = join(root, "test", "openclaw-host");
const hostOpenclaw = join(hostDir, "node_modules", "openclaw");
const linkPath = join(root, "node_modules", "openclaw");

const [major, minor] = process.versions.node.split(".").map(Number);
if (major < 24 || (major === 24 && minor < 16)) {
  console.error(
    `[prepare] Node ${process.versions.node} is running this script; expected the Node 24 from the "node" devDependency.\n` +
      "[prepare] Run `npm install` from the repository root so node_modules/.bin is on PATH.",
  );
  process.exit(1);
}

function run(command, args, cwd) {
  const result = spawnSync(command, args, { cwd, stdio: "inherit" });
  if (result.status !== 0) {
    console.error(`[prepare] ${command} ${args.join(" ")} failed with exit code ${result.status}`);
    process.exit(result.status ?? 1);
  }
}

function installedHostVersion() {
  try {
    return JSON.parse(readFileSync(join(hostOpenclaw, "package.json"), "utf8")).version;
  } catch {
    return undefined;
  }
}

const wanted = JSON.parse(readFileSync(join(hostDir, "package.json"), "utf8")).dependencies.openclaw;
if (installedHostVersion() !== wanted) {
  console.log(`[prepare] installing openclaw@${wanted} for the integration tests (about a minute)`);
  run("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error"], hostDir);
}

// An older release beside it, for the mixed-versions tests: machines are not upgraded together.
const legacyDir = join(root, "test", "openclaw-host-legacy");
const legacyWanted = JSON.parse(readFileSync(join(legacyDir, "package.json"), "utf8")).dependencies.openclaw;
let legacyInstalled;
try {
  legacyInstalled = JSON.parse(readFileSync(join(legacyDir, "node_modules", "openclaw", "package.json"), "utf8")).version;
} catch {}
if (legacyInstalled !== legacyWanted) {
  console.log(`[prepare] installing openclaw@${legacyWanted} (the older release) for the mixed-versions tests`);
  run("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error"], legacyDir);
}

// Let TypeScript and the tests import "openclaw/..." as the plugin does inside a Gateway, where
// OpenClaw links itself as the plugin's peer dependency.
const linkTarget = relative(dirname(linkPath), hostOpenclaw);
let linkOk = false;
try {
  linkOk = lstatSync(linkPath).isSymbolicLink() && existsSync(join(linkPath, "package.json"));
} catch {}
if (!linkOk) {
  rmSync(linkPath, { recursive: true, force: true });
  mkdirSync(dirname(linkPath), { recursive: true });
  symlinkSync(linkTarget, linkPath, "dir");
}

run(process.execPath, [join(root, "node_modules", "typescript", "bin", "tsc"), "-p", "tsconfig.build.json"], root);
run(process.execPath, [join(root, "scripts", "build-plugin.mjs")], root);
