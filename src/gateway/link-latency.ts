import { mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { replaceFileSync } from "../util/atomic-write.js";

/** The budget for a handshake with no history: a slow link's TLS and connect challenge fit in it. */
export const DEFAULT_HANDSHAKE_BUDGET_MS = 10_000;
/**
 * A link never seen gets this long alone before the next transport starts alongside: a Gateway on a
 * working link answers well inside it, and a silently dropping one no longer holds the fallback for
 * the whole 10 s budget (the handshake itself keeps that budget and may still win).
 */
export const FIRST_CONTACT_HEAD_START_MS = 2_000;
/** Not less: a handshake also waits for this machine's own CPU, which a busy sender may not have (2 s was seen to fail at load 6). */
const MIN_BUDGET_MS = 5_000;
/** A handshake this many times slower than the slowest recent one means the link is gone, not slow. */
const SLOWDOWN_ALLOWED = 8;
const KEPT = 5;

/**
 * Recent handshake times per Gateway, kept next to the device identity so that a one-shot CLI knows
 * them too. A link known to answer in 80 ms need not be given 10 s before the fallback gets its turn.
 */
export class LinkLatency {
  readonly #path: string | undefined;
  #samples: Record<string, number[]> | undefined;

  /** `dir`: where to keep them across processes; without it they live as long as this object. */
  constructor(dir?: string) {
    this.#path = dir === undefined ? undefined : join(dir, "link-latency.json");
  }

  #all(): Record<string, number[]> {
    if (this.#samples) return this.#samples;
    try {
      this.#samples = this.#path ? (JSON.parse(readFileSync(this.#path, "utf8")) as Record<string, number[]>) : {};
    } catch {
      this.#samples = {};
    }
    return this.#samples;
  }

  /** The slowest of this Gateway's recent handshakes, in ms; undefined before the first one. */
  slowestRecentMs(url: string): number | undefined {
    const samples = this.#all()[new URL(url).origin];
    return samples && samples.length > 0 ? Math.max(...samples) : undefined;
  }

  /** How long a handshake with this Gateway may take before the link counts as dead. */
  handshakeBudgetMs(url: string): number {
    const slowest = this.slowestRecentMs(url);
    if (slowest === undefined) return DEFAULT_HANDSHAKE_BUDGET_MS;
    return Math.min(DEFAULT_HANDSHAKE_BUDGET_MS, Math.max(MIN_BUDGET_MS, Math.ceil(slowest * SLOWDOWN_ALLOWED)));
  }

  record(url: string, handshakeMs: number): void {
    const all = this.#all();
    const origin = new URL(url).origin;
    all[origin] = [...(all[origin] ?? []), Math.round(handshakeMs)].slice(-KEPT);
    if (!this.#path) return;
    try {
      mkdirSync(join(this.#path, ".."), { recursive: true, mode: 0o700 });
      // No fsync: losing the newest sample in a crash costs one default budget, and a one-shot send writes this every run.
      replaceFileSync(this.#path, `${JSON.stringify(all)}\n`, 0o600);
    } catch {
      // Only an optimisation: without the file the next process starts from the default budget.
    }
  }
}
