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

it("writes its file private, in place, with no temporary file left behind", async () => {
  const { readdir, stat } = await import("node:fs/promises");
  const latency = new LinkLatency(dir);
  latency.record(url, 80);
  latency.record(url, 90);
  expect(await readdir(dir)).toEqual(["link-latency.json"]);
  expect((await stat(join(dir, "link-latency.json"))).mode & 0o777).toBe(0o600);
  expect(new LinkLatency(dir).slowestRecentMs(url)).toBe(90);
});

it("replaceFileSync leaves nothing behind when it cannot write", async () => {
  const { readdir } = await import("node:fs/promises");
  const { replaceFileSync } = await import("../../src/util/atomic-write.js");
  expect(() => replaceFileSync(join(dir, "missing", "file.json"), "{}", 0o600)).toThrow(/ENOENT/u);
  expect(await readdir(dir)).toEqual([]);
});
