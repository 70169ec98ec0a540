import { appendFileSync, existsSync, readFileSync } from "node:fs";

/**
 * Where each real Gateway start of a test run went: one JSON line per start in the file named by
 * `OII_BOOT_LEDGER` (set by vitest.config.ts for the whole run, children included), read back by the
 * summary reporter, which makes it at the start and removes it at the end. Gateways are most of the
 * suite's CPU; a file that starts one more shows here.
 */
export interface BootEntry {
  /** The test file (or bench script) that asked for the Gateway. */
  readonly caller: string;
  readonly name: string;
  readonly readyMs: number;
}

/** The CPU a Gateway process (its whole tree) used from its start to its stop. */
export interface CpuEntry {
  readonly caller: string;
  readonly name: string;
  readonly cpuS: number;
}

const CALLER = /(test\/(?:integration|unit|harness)\/[\w.-]+\.ts|bench\/[\w.-]+\.ts)/gu;

/** The outermost test file or bench script on the stack: who started this Gateway. */
function callerOf(stack: string): string {
  const frames = [...stack.matchAll(CALLER)].map((match) => match[1]!);
  return frames.find((frame) => !frame.startsWith("test/harness/")) ?? frames.at(-1) ?? "unknown";
}

/** Records a start; returns who asked for it, for the CPU entry its stop records. */
export function recordBoot(name: string, readyMs: number): string {
  const caller = callerOf(new Error().stack ?? "");
  append({ caller, name, readyMs: Math.round(readyMs) } satisfies BootEntry);
  return caller;
}

export function recordGatewayCpu(caller: string, name: string, cpuS: number): void {
  append({ caller, name, cpuS: Math.round(cpuS * 10) / 10 } satisfies CpuEntry);
}

/** Only into the run's ledger while it exists: the shared Gateways stop after the summary removed it (their CPU is not in it). */
function append(entry: BootEntry | CpuEntry): void {
  const ledger = process.env.OII_BOOT_LEDGER;
  if (ledger && existsSync(ledger)) appendFileSync(ledger, `${JSON.stringify(entry)}\n`);
}

function readLedger(ledger: string): (BootEntry | CpuEntry)[] {
  let text: string;
  try {
    text = readFileSync(ledger, "utf8");
  } catch {
    return [];
  }
  return text
    .split("\n")
    .filter(Boolean)
    .map((line) => JSON.parse(line) as BootEntry | CpuEntry);
}

export const readBoots = (ledger: string): BootEntry[] => readLedger(ledger).filter((entry): entry is BootEntry => "readyMs" in entry);
export const readGatewayCpu = (ledger: string): CpuEntry[] => readLedger(ledger).filter((entry): entry is CpuEntry => "cpuS" in entry);
