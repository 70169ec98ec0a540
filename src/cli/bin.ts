#!/usr/bin/env node
import { enableCompileCache } from "node:module";

// Each run is a fresh process: Node's on-disk compile cache spares it from compiling the same
// modules again (the cache lives in the OS temp dir; NODE_DISABLE_COMPILE_CACHE=1 turns it off).
enableCompileCache();
const { runCli } = await import("./main.js");

async function readStdin(): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

process.exitCode = await runCli(process.argv.slice(2), {
  stdout: (text) => process.stdout.write(text),
  stderr: (text) => process.stderr.write(text),
  env: process.env,
  stdin: readStdin,
  interactive: process.stdin.isTTY === true && process.stderr.isTTY === true,
});
