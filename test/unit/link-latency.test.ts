import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, expect, it } from "vitest";
import { DEFAULT_HANDSHAKE_BUDGET_MS, LinkLatency } from "../../src/gateway/link-latency.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "oii-link-latency-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const url = "wss://xiaom.example:18789";

it("a fast link earns a shorter handshake budget (never under 5 s), shared with the next process", () => {
  const first = new LinkLatency(dir);
  expect(first.handshakeBudgetMs(url)).toBe(DEFAULT_HANDSHAKE_BUDGET_MS);
  first.record(url, 80);
  first.record(`${url}/other-path`, 120);
  expect(new LinkLatency(dir).handshakeBudgetMs(url)).toBe(5_000);
  first.record(url, 900);
  expect(new LinkLatency(dir).handshakeBudgetMs(url)).toBe(7_200);
  first.record(url, 2_000);
  expect(new LinkLatency(dir).handshakeBudgetMs(url)).toBe(DEFAULT_HANDSHAKE_BUDGET_MS);

  expect(new LinkLatency(dir).slowestRecentMs("wss://other.example:18789")).toBeUndefined();
});
