#!/usr/bin/env node
import { enableCompileCache } from "node:module";

// Each run is a fresh process: Node's on-disk compile cache spares it from compiling the same
// modules again (the cache lives in the OS temp dir; NODE_DISABLE_COMPILE_CACHE=1 turns it off).
enableCompileCache();
const [{ runCli }, { processIo }] = await Promise.all([import("./main.js"), import("./process-io.js")]);

process.exitCode = await runCli(process.argv.slice(2), processIo());
