import { readFile } from "node:fs/promises";

// Reading a test Gateway's log: what it wrote after a change, and OpenClaw's line for a plugin reload it gave up.

/**
 * OpenClaw's log line when it gave up hot-reloading our plugin: on a loaded machine, removing its
 * copy of the old generation outruns its 5 s cleanup budget, and the plugin's tools stay unavailable
 * until `openclaw plugins reload inter-instance` (what that log line says to run).
 */
export const RELOAD_GAVE_UP = /config reload failed: .*inter-instance/u;

/** The Gateway's log written after `offset` (its length before a change), so earlier lines never count. */
export async function logSince(gateway: { readonly logFile: string }, offset: number): Promise<string> {
  return (await readFile(gateway.logFile, "utf8").catch(() => "")).slice(offset);
}

/** The log's length now: the offset to read a change's effects from. */
export async function logLength(gateway: { readonly logFile: string }): Promise<number> {
  return (await readFile(gateway.logFile, "utf8").catch(() => "")).length;
}
