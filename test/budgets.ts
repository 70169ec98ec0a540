/**
 * How long each test file may take, wall time in seconds, on the 2-core CI machine with the rest of
 * the suite beside it (about twice what it was seen to take). `npm test` fails a file past its
 * budget, so a slow addition shows the day it is made. Files not listed get the default of their kind.
 */
export const DEFAULT_BUDGET_S = { unit: 30, integration: 240 } as const;

export const BUDGET_S: Readonly<Record<string, number>> = {
  // Real Gateways several times over, or an agent turn per body: measured 2–4 min under load.
  "test/integration/race.test.ts": 420,
  "test/integration/hostile.test.ts": 420,
  "test/integration/a2a-hostile.test.ts": 420,
  "test/integration/bench-quick.test.ts": 420,
  "test/integration/partitions.test.ts": 360,
  "test/integration/collaboration.test.ts": 360,
  "test/integration/trust.test.ts": 360,
  "test/integration/nodes.test.ts": 360,
  "test/integration/plugin.test.ts": 360,
  "test/integration/reliability.test.ts": 360,
  "test/integration/two-machines.test.ts": 360,
  "test/integration/mixed-versions.test.ts": 360,
  "test/integration/fleet-topology.test.ts": 360,
  "test/integration/control-ui.test.ts": 300,
  "test/integration/cli.test.ts": 300,
};

export function budgetFor(file: string): number {
  return BUDGET_S[file] ?? (file.startsWith("test/unit/") ? DEFAULT_BUDGET_S.unit : DEFAULT_BUDGET_S.integration);
}
