/** Summary of one latency series, in milliseconds. */
export interface Series {
  readonly name: string;
  readonly samples: readonly number[];
  readonly n: number;
  readonly p50: number;
  readonly p95: number;
  readonly mean: number;
  readonly min: number;
  readonly max: number;
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length) - 1;
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank))] ?? Number.NaN;
}

export function summarize(name: string, samples: readonly number[]): Series {
  const sorted = [...samples].sort((a, b) => a - b);
  const round = (value: number) => Math.round(value * 100) / 100;
  return {
    name,
    samples: samples.map(round),
    n: samples.length,
    p50: round(percentile(sorted, 50)),
    p95: round(percentile(sorted, 95)),
    mean: round(samples.reduce((sum, value) => sum + value, 0) / Math.max(1, samples.length)),
    min: round(sorted[0] ?? Number.NaN),
    max: round(sorted.at(-1) ?? Number.NaN),
  };
}

/** How many times `slow` takes `fast`'s time, by median, to two decimals (a goal of 1.5× is not met by 1.54×, which one decimal shows as 1.5×). */
export function ratio(slow: Series, fast: Series): number {
  return Math.round((slow.p50 / fast.p50) * 100) / 100;
}

export async function timed(work: () => Promise<unknown>): Promise<number> {
  const started = performance.now();
  await work();
  return performance.now() - started;
}
