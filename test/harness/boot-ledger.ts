import { appendFileSync, readFileSync } from "node:fs";

/**
 * Where each real Gateway start of a test run went: one JSON line per start in the file named by
 * `OII_BOOT_LEDGER` (set by vitest.config.ts for the whole run, children included), read back by the
 * summary reporter. Gateways are most of the suite's CPU; a file that starts one more shows here.
 */
export interface BootEntry {
  /** The test file (or bench script) that asked for the Gateway. */
  readonly caller: string;
  readonly name: string;
  readonly readyMs: number;
}

const CALLER = /(test\/(?:integration|unit|harness)\/[\w.-]+\.ts|bench\/[\w.-]+\.ts)/gu;

/** The outermost test file or bench script on the stack: who started this Gateway. */
function callerOf(stack: string): string {
  const frames = [...stack.matchAll(CALLER)].map((match) => match[1]!);
  return frames.find((frame) => !frame.startsWith("test/harness/")) ?? frames.at(-1) ?? "unknown";
}

export function recordBoot(name: string, readyMs: number): void {
  const ledger = process.env.OII_BOOT_LEDGER;
  if (!ledger) return;
  const entry: BootEntry = { caller: callerOf(new Error().stack ?? ""), name, readyMs: Math.round(readyMs) };
  appendFileSync(ledger, `${JSON.stringify(entry)}\n`);
}

export function readBoots(ledger: string): BootEntry[] {
  let text: string;
  try {
    text = readFileSync(ledger, "utf8");
  } catch {
    return [];
  }
  return text
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as BootEntry);
}
