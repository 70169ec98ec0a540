#!/usr/bin/env node
// Checked before anything else is loaded: on an older Node the imports fail with a SyntaxError that
// does not say the Node version is the cause. Only what Node 20 has may be used up to the import.
// The same version as package.json's engines (test/unit/cli-bin.test.ts holds them together).
const NEEDED = [22, 19] as const;
const [major = 0, minor = 0] = process.versions.node.split(".").map(Number);

if (major < NEEDED[0] || (major === NEEDED[0] && minor < NEEDED[1])) {
  process.stderr.write(`openclaw-inter-instance needs Node.js ${NEEDED.join(".")} or newer; this is Node.js ${process.versions.node}.\n`);
  process.exitCode = 1;
} else {
  const { enableCompileCache } = await import("node:module");
  // Each run is a fresh process: Node's on-disk compile cache spares it from compiling the same
  // modules again (the cache lives in the OS temp dir; NODE_DISABLE_COMPILE_CACHE=1 turns it off).
  enableCompileCache();
  const [{ runCli }, { processIo }] = await Promise.all([import("./main.js"), import("./process-io.js")]);
  process.exitCode = await runCli(process.argv.slice(2), processIo());
}
