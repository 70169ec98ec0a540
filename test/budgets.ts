/**
 * How long each test file may take, wall time in seconds, on the 2-core CI machine with the rest of
 * the suite beside it (about twice the slowest seen, under a loaded run). `npm test` fails a file past its
 * budget, so a slow addition shows the day it is made. Files not listed get the default of their kind.
 */
export const DEFAULT_BUDGET_S = { unit: 60, integration: 420 } as const;

export const BUDGET_S: Readonly<Record<string, number>> = {
  // Real Gateways several times over, or an agent turn per body: measured 2–4 min under load.
  // The soak (`npm run soak`, RACE_SCALE rounds) runs the same file that many times over.
  "test/integration/race.test.ts": 720 * Math.max(1, Number(process.env.RACE_SCALE ?? 1)),
  "test/integration/hostile.test.ts": 720,
  "test/integration/a2a-hostile.test.ts": 720,
  // Every bench scenario once: 350–420 s alone beside the suite, 702 s with a Gateway-heavy process beside it; scenario 13 (the race) adds about 70 s.
  "test/integration/bench-quick.test.ts": 900,
  "test/integration/partitions.test.ts": 720,
  "test/integration/collaboration.test.ts": 720,
  "test/integration/trust.test.ts": 720,
  "test/integration/nodes.test.ts": 720,
  "test/integration/plugin.test.ts": 720,
  "test/integration/reliability.test.ts": 720,
  "test/integration/two-machines.test.ts": 720,
  "test/integration/mixed-versions.test.ts": 720,
  "test/integration/fleet-topology.test.ts": 720,
  "test/integration/control-ui.test.ts": 720,
  "test/integration/cli.test.ts": 720,
  // Two Gateways started once, each restarted once by the walk, and about twenty OpenClaw CLI starts: 209 s alone.
  "test/integration/readme-two-machines.test.ts": 600,
  // One Gateway with the plugin and a nats-server; about 25 MB of files through sessions_send, memory_file and nats, five agent turns.
  "test/integration/attachments.test.ts": 420,
  // Typechecks a copy of src/ with a toy transport added (tsc over the whole tree: 25–65 s under load).
  "test/unit/adding-a-transport.test.ts": 150,
};

export function budgetFor(file: string): number {
  return BUDGET_S[file] ?? (file.startsWith("test/unit/") ? DEFAULT_BUDGET_S.unit : DEFAULT_BUDGET_S.integration);
}

/**
 * Each integration file's wall time in a full loaded run (fresh clone, 2 cores), to start the longest
 * first: a fresh clone has no timing cache, and Vitest would otherwise order by file size and leave a
 * long file (bench-quick is 32 lines) running alone at the end. Refresh from the reporter's table.
 */
export const MEASURED_S: Readonly<Record<string, number>> = {
  "test/integration/reliability.test.ts": 405,
  "test/integration/bench-quick.test.ts": 354,
  "test/integration/fleet-topology.test.ts": 330,
  "test/integration/collaboration.test.ts": 284,
  "test/integration/agent-cli.test.ts": 250,
  "test/integration/plugin.test.ts": 215,
  "test/integration/trust.test.ts": 211,
  "test/integration/race.test.ts": 172,
  "test/integration/loops.test.ts": 168,
  "test/integration/a2a-hostile.test.ts": 163,
  "test/integration/readme-plugin.test.ts": 158,
  "test/integration/readme-two-machines.test.ts": 334,
  "test/integration/control-ui.test.ts": 145,
  "test/integration/nodes.test.ts": 122,
  "test/integration/nodes-across.test.ts": 119,
  "test/integration/two-machines.test.ts": 108,
  "test/integration/partitions.test.ts": 99,
  "test/integration/demo.test.ts": 91,
  "test/integration/walk.test.ts": 84,
  "test/integration/foundation.test.ts": 83,
  "test/integration/a2a-wedge.test.ts": 80,
  "test/integration/a2a-message-tool.test.ts": 79,
  "test/integration/cli.test.ts": 75,
  "test/integration/hostile.test.ts": 73,
  "test/integration/mixed-versions.test.ts": 57,
  "test/integration/attachments.test.ts": 52,
  "test/integration/oversized.test.ts": 37,
  "test/integration/ask.test.ts": 25,
  "test/integration/memory-concurrency.test.ts": 23,
};
