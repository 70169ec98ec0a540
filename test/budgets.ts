/**
 * How long each test file may take, wall time in seconds, on the 2-core CI machine with the rest of
 * the suite beside it (about twice the slowest seen, under a loaded run). `npm test` fails a file past its
 * budget, so a slow addition shows the day it is made. Files not listed get the default of their kind.
 */
export const DEFAULT_BUDGET_S = { unit: 60, integration: 420 } as const;

export const BUDGET_S: Readonly<Record<string, number>> = {
  // Real Gateways several times over, or an agent turn per body: measured 2–4 min under load.
  "test/integration/race.test.ts": 720,
  "test/integration/hostile.test.ts": 720,
  "test/integration/a2a-hostile.test.ts": 720,
  "test/integration/bench-quick.test.ts": 720,
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
};

export function budgetFor(file: string): number {
  return BUDGET_S[file] ?? (file.startsWith("test/unit/") ? DEFAULT_BUDGET_S.unit : DEFAULT_BUDGET_S.integration);
}
