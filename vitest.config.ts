import { tmpdir } from "node:os";
import { join } from "node:path";
import { defineConfig } from "vitest/config";
import LongestFirst from "./test/harness/longest-first.ts";

// Every real Gateway start of this run, whoever makes it (workers, the bench child): the summary counts them per file.
// The summary reporter removes it at the end when it is this run's own.
if (process.env.OII_BOOT_LEDGER === undefined) {
  process.env.OII_BOOT_LEDGER = join(tmpdir(), `oii-boots-${process.pid}.jsonl`);
  process.env.OII_BOOT_LEDGER_OWNED = "1";
}

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    setupFiles: ["./test/harness/no-secret-leaks.ts"],
    // Shared Gateways, one per configuration shape, started when a file first borrows one (test/harness/fixtures.ts).
    globalSetup: ["./test/harness/gateway-pool.ts"],
    // Integration files start real Gateways (about 1 GB and 15–25 s each); two at a time fit 2 cores.
    // Three shortened the run but starved Gateways of CPU (handshake budgets and hooks timed out).
    maxWorkers: 2,
    testTimeout: 120_000,
    hookTimeout: 180_000,
    teardownTimeout: 30_000,
    reporters: ["default", "./test/harness/summary-reporter.ts"],
    // Longest files first, so none is left running alone at the end (a fresh clone has no timing cache).
    sequence: { sequencer: LongestFirst },
  },
});
