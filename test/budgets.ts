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
  // Two Gateways started once, each restarted once by the walk, and about twenty OpenClaw CLI starts: 209 s alone,
  // 442 s in a full run on a slower machine (run F), 784 s with extra Gateways beside that run (run E).
  "test/integration/readme-two-machines.test.ts": 900,
  // An OpenClaw CLI process per message (the agent_cli transport): 257 s in a full run (run F), 392 s overloaded (run E).
  "test/integration/agent-cli.test.ts": 720,
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
  "test/integration/bench-quick.test.ts": 461,
  "test/integration/readme-two-machines.test.ts": 442,
  "test/integration/fleet-topology.test.ts": 319,
  "test/integration/plugin.test.ts": 269,
  "test/integration/agent-cli.test.ts": 257,
  "test/integration/readme-plugin.test.ts": 201,
  "test/integration/a2a-hostile.test.ts": 192,
  "test/integration/reliability.test.ts": 189,
  "test/integration/nodes.test.ts": 185,
  "test/integration/collaboration.test.ts": 180,
  "test/integration/trust.test.ts": 153,
  "test/integration/control-ui.test.ts": 147,
  "test/integration/nodes-across.test.ts": 143,
  "test/integration/partitions.test.ts": 122,
  "test/integration/loops.test.ts": 120,
  "test/integration/two-machines.test.ts": 119,
  "test/integration/foundation.test.ts": 117,
  "test/integration/race.test.ts": 104,
  "test/integration/walk.test.ts": 89,
  "test/integration/discovery.test.ts": 77,
  "test/integration/a2a-wedge.test.ts": 72,
  "test/integration/a2a-message-tool.test.ts": 61,
  "test/integration/mixed-versions.test.ts": 56,
  "test/integration/demo.test.ts": 55,
  "test/integration/attachments.test.ts": 51,
  "test/integration/discovery-wide-area.test.ts": 46,
  "test/integration/clawhub.test.ts": 45,
  "test/integration/cli.test.ts": 35,
  "test/integration/oversized.test.ts": 35,
  "test/integration/hostile.test.ts": 33,
  "test/integration/ask.test.ts": 16,
  "test/integration/memory-concurrency.test.ts": 9,
};
