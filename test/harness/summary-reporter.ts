import { rmSync, writeFileSync } from "node:fs";
import { relative } from "node:path";
import type { Reporter, TestModule } from "vitest/node";
import { budgetFor } from "../budgets.ts";
import { type BootEntry, type CpuEntry, readBoots, readGatewayCpu } from "./boot-ledger.ts";

const seconds = (ms: number) => `${(ms / 1000).toFixed(1).padStart(7)} s`;

/**
 * Ends the run with each file's wall time beside its budget (`test/budgets.ts`), the ten slowest
 * tests, and a plain `tests: N passed, N failed` line that any CI log reader understands. A file
 * past its budget fails the run.
 */
export default class SummaryReporter implements Reporter {
  onInit(): void {
    // A ledger left by an earlier run in this process id would be counted again.
    if (process.env.OII_BOOT_LEDGER) writeFileSync(process.env.OII_BOOT_LEDGER, "");
  }

  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    const slowest: { name: string; ms: number }[] = [];
    const files: { file: string; ms: number; budgetS: number }[] = [];
    for (const module of testModules) {
      const file = relative(process.cwd(), module.moduleId);
      const diagnostic = module.diagnostic();
      files.push({ file, ms: diagnostic.collectDuration + diagnostic.setupDuration + diagnostic.duration, budgetS: budgetFor(file) });
      for (const test of module.children.allTests()) {
        const state = test.result().state;
        if (state === "passed") passed += 1;
        else if (state === "failed") failed += 1;
        else skipped += 1;
        slowest.push({ name: `${file} > ${test.fullName}`, ms: test.diagnostic()?.duration ?? 0 });
      }
    }
    files.sort((a, b) => b.ms - a.ms);
    const over = files.filter((entry) => entry.ms > entry.budgetS * 1000);
    const lines = [
      "",
      "time per file (wall, budget):",
      ...files.map(
        (entry) => `${seconds(entry.ms)}  /${String(entry.budgetS).padStart(4)} s  ${entry.file}${entry.ms > entry.budgetS * 1000 ? "  OVER BUDGET" : ""}`,
      ),
    ];
    const ledger = process.env.OII_BOOT_LEDGER ?? "";
    lines.push(...gatewayStarts(readBoots(ledger), readGatewayCpu(ledger)));
    if (process.env.OII_BOOT_LEDGER_OWNED === "1") rmSync(ledger, { force: true });
    lines.push(
      "",
      "slowest tests:",
      ...slowest
        .sort((a, b) => b.ms - a.ms)
        .slice(0, 10)
        .map((entry) => `${seconds(entry.ms)}  ${entry.name.slice(0, 160)}`),
    );
    if (over.length > 0) {
      lines.push("", `${over.length} file(s) ran past their budget in test/budgets.ts: make them faster, or raise the budget there with the reason.`);
      process.exitCode = 1;
    }
    process.stdout.write(
      `${lines.join("\n")}\n\ntests: ${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""}${over.length ? `, ${over.length} file(s) over budget` : ""}\n`,
    );
  }
}

/** Gateway starts and Gateway CPU per caller, most CPU first: Gateways are most of the suite's CPU. */
function gatewayStarts(boots: readonly BootEntry[], cpu: readonly CpuEntry[]): string[] {
  if (boots.length === 0) return [];
  const byCaller = new Map<string, { count: number; ms: number; cpuS: number }>();
  const entryOf = (caller: string) => byCaller.get(caller) ?? { count: 0, ms: 0, cpuS: 0 };
  for (const boot of boots) {
    const seen = entryOf(boot.caller);
    byCaller.set(boot.caller, { ...seen, count: seen.count + 1, ms: seen.ms + boot.readyMs });
  }
  for (const entry of cpu) {
    const seen = entryOf(entry.caller);
    byCaller.set(entry.caller, { ...seen, cpuS: seen.cpuS + entry.cpuS });
  }
  const total = boots.reduce((sum, boot) => sum + boot.readyMs, 0);
  const totalCpu = cpu.reduce((sum, entry) => sum + entry.cpuS, 0);
  return [
    "",
    `Gateway starts: ${boots.length}, ${seconds(total).trim()} from spawn to ready in all; Gateway CPU ${seconds(totalCpu * 1000).trim()} from start to stop (by who started them: starts, spawn to ready, CPU):`,
    ...[...byCaller]
      .sort((a, b) => b[1].cpuS - a[1].cpuS || b[1].count - a[1].count)
      .map(([caller, { count, ms, cpuS }]) => `${String(count).padStart(4)}  ${seconds(ms)}  ${seconds(cpuS * 1000)}  ${caller}`),
  ];
}
