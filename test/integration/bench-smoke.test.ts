import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { expect, it } from "vitest";

// The benchmark's own smoke test: it runs end to end with tiny sample counts and writes its files.
// No timing is asserted anywhere in the test suite.
it("npm run bench runs at all (--smoke) and writes results.json, results.md and latency.svg", async () => {
  const out = await mkdtemp(join(tmpdir(), "oii-bench-smoke-"));
  try {
    await promisify(execFile)(process.execPath, ["bench/run.ts", "--smoke", "--out", out], { cwd: join(import.meta.dirname, "..", ".."), timeout: 240_000 });
    const results = JSON.parse(await readFile(join(out, "results.json"), "utf8")) as { smoke: boolean; rows: { scenario: string }[]; memory: { lost: number; torn: number } };
    expect(results.smoke).toBe(true);
    expect(new Set(results.rows.map((row) => row.scenario.split(".")[0]))).toEqual(new Set(["1", "2", "3", "4", "5", "6", "7"]));
    expect(results.memory).toMatchObject({ lost: 0, torn: 0 });
    expect(await readFile(join(out, "results.md"), "utf8")).toContain("| scenario |");
    expect(await readFile(join(out, "latency.svg"), "utf8")).toMatch(/^<svg[\s\S]*<\/svg>\n$/u);
  } finally {
    await rm(out, { recursive: true, force: true });
  }
}, 300_000);
