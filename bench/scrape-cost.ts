// Scenario 14 of `npm run bench`: what a Prometheus scrape of the plugin's metrics route costs the
// Gateway, with 20 instances configured and a message waiting for each. Beside it, two floors: the
// same route answering a POST with 405 (the Gateway's auth and plugin-route dispatch, none of our
// work), and the Gateway's readiness route, the cheapest HTTP answer it gives. Cost is the Gateway's
// CPU time (its process tree) per request, in rotating batches so OpenClaw's own bursts fall on all.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { cpuSecondsOfTree } from "../test/harness/cpu-time.ts";
import type { TestGateway } from "../test/harness/gateway.ts";
import { type Series, summarize } from "./stats.ts";

export interface ScrapeCostContext {
  readonly gateway: TestGateway;
  /** Instances configured in the Gateway's plugin config (said in the row). */
  readonly instances: number;
  readonly perBatch: number;
  readonly batches: number;
  readonly series: Series[];
  readonly row: (row: { scenario: string; a: string; b: string; ratio: string; note: string }) => void;
  readonly log: (text: string) => void;
}

const METRICS_PATH = "/inter-instance/metrics";

async function timedRequest(url: string, init: RequestInit, expectStatus: number, expectBody: (body: string) => boolean): Promise<number> {
  const started = performance.now();
  const response = await fetch(url, init);
  const body = await response.text();
  const ms = performance.now() - started;
  if (response.status !== expectStatus || !expectBody(body))
    throw new Error(`${init.method ?? "GET"} ${new URL(url).pathname} answered ${response.status}: ${body.slice(0, 200)}`);
  return ms;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

export async function benchScrapeCost(context: ScrapeCostContext): Promise<void> {
  const { gateway } = context;
  const pid = gateway.pid!;
  const route = `${gateway.httpUrl}${METRICS_PATH}`;
  const authorization = { authorization: `Bearer ${gateway.token}` };
  const kinds = {
    scrape: () => timedRequest(route, { headers: authorization }, 200, (body) => body.includes("outbox_waiting")),
    route: () => timedRequest(route, { method: "POST", headers: authorization }, 405, () => true),
    ready: () => timedRequest(`${gateway.httpUrl}/readyz`, {}, 200, () => true),
  };
  const order = ["scrape", "route", "ready"] as const;
  const firstScrape = await (await fetch(route, { headers: authorization })).text();
  const lines = firstScrape.split("\n").filter((line) => line && !line.startsWith("#")).length;
  const latencies = { scrape: [] as number[], route: [] as number[], ready: [] as number[] };
  const cpuMs = { scrape: [] as number[], route: [] as number[], ready: [] as number[] };
  for (let batch = 0; batch < context.batches; batch += 1) {
    for (const kind of [...order.slice(batch % 3), ...order.slice(0, batch % 3)]) {
      const before = await cpuSecondsOfTree(pid);
      for (let i = 0; i < context.perBatch; i += 1) latencies[kind].push(await kinds[kind]());
      cpuMs[kind].push((((await cpuSecondsOfTree(pid)) - before) * 1000) / context.perBatch);
    }
  }
  const scrapeSeries = summarize("14. metrics scrape (HTTP, ms)", latencies.scrape);
  const routeSeries = summarize("14. floor: the same route, 405 (HTTP, ms)", latencies.route);
  const readySeries = summarize("14. floor: /readyz (HTTP, ms)", latencies.ready);
  context.series.push(scrapeSeries, routeSeries, readySeries);
  const [scrapeCpu, routeCpu, readyCpu] = [median(cpuMs.scrape), median(cpuMs.route), median(cpuMs.ready)];
  context.log(`14 CPU per request: scrape ${scrapeCpu.toFixed(2)} ms, the route's 405 ${routeCpu.toFixed(2)} ms, readyz ${readyCpu.toFixed(2)} ms`);
  context.row({
    scenario: "14. metrics scrape",
    a: `${scrapeCpu.toFixed(2)} ms Gateway CPU per scrape (p50 ${scrapeSeries.p50} ms, p95 ${scrapeSeries.p95} ms wall)`,
    b: `floor, the same route's 405: ${routeCpu.toFixed(2)} ms CPU (p50 ${routeSeries.p50} ms); /readyz ${readyCpu.toFixed(2)} ms (p50 ${readySeries.p50} ms)`,
    ratio: `+${Math.max(0, scrapeCpu - routeCpu).toFixed(2)} ms`,
    note: `GET ${METRICS_PATH} with the Gateway's token, ${context.instances} instances configured and one message waiting for each (${lines} samples per scrape); the 405 is a POST to the same route (OpenClaw's auth and plugin-route dispatch without our work); CPU of the Gateway's process tree (10 ms ticks) over ${context.batches} rotating batches of ${context.perBatch}, median per batch. Goal: under 5 ms per scrape`,
  });
}

// Alone: node bench/scrape-cost.ts (the idle-cost scenario's Gateways, settled, one short window, then the scrape batches)
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { benchIdleCost } = await import("./idle-cost.ts");
  const scratch = await mkdtemp(join(tmpdir(), "oii-bench-scrape-"));
  const started = performance.now();
  const rows: { scenario: string; a: string; b: string; ratio: string; note: string }[] = [];
  const log = (text: string) => process.stderr.write(`[scrape ${((performance.now() - started) / 1000).toFixed(1)} s] ${text}\n`);
  const instances = 20;
  try {
    await benchIdleCost({
      scratch,
      noiseFloor: false,
      windowMs: 1_000,
      windows: 1,
      // As the full bench leaves them: the Gateway's own start-up work (plugin loading, the memory index) is over.
      settleMs: 30_000,
      row: () => undefined,
      log,
      otherInstances: Array.from({ length: instances - 1 }, (_, i) => `peer-${i + 1}`),
      afterWindows: (gateway) => benchScrapeCost({ gateway, instances, perBatch: 100, batches: 12, series: [], row: (row) => rows.push(row), log }),
    });
    process.stdout.write(`${rows.map((r) => `| ${r.scenario} | ${r.a} | ${r.b} | ${r.ratio} | ${r.note} |`).join("\n")}\n`);
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}
