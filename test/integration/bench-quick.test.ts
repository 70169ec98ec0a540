import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, it } from "vitest";
import { runToExit } from "../harness/run-to-exit.js";

// The benchmark as `npm run bench` runs it (every scenario, its real timeouts and caps) with few
// samples: it writes its files and then exits by itself, leaving no process of its own behind.
// No timing of the library is asserted anywhere in the test suite.
it("npm run bench --quick writes results.json, results.md and latency.svg, then exits by itself with nothing left running", async () => {
  const out = await mkdtemp(join(tmpdir(), "oii-bench-quick-"));
  try {
    const run = await runToExit([process.execPath, "bench/run.ts", "--quick", "--out", out], {
      cwd: join(import.meta.dirname, "..", ".."),
      timeoutMs: 840_000,
      // The latency table is printed after the three files are written.
      doneWhen: ({ stdout }) => stdout.includes("| series | n | p50 ms | p95 ms |"),
    });
    expect(run.code, run.stderr.slice(-3000)).toBe(0);
    expect(run.exitAfterDoneMs).toBeDefined();
    expect(run.exitAfterDoneMs!).toBeLessThan(15_000);
    expect(run.leftovers).toEqual([]);
    const results = JSON.parse(await readFile(join(out, "results.json"), "utf8")) as {
      quick: boolean;
      rows: { scenario: string }[];
      memory: { lost: number; torn: number };
      secondsPerStep: Record<string, number>;
    };
    expect(results.quick).toBe(true);
    expect(new Set(results.rows.map((row) => row.scenario.split(".")[0]))).toEqual(
      new Set(["1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11", "12", "13", "14", "15"]),
    );
    // Every step ran to its end (each is timed as it ends); where the run's time went, for whoever reads the log.
    expect(new Set(Object.keys(results.secondsPerStep).map((step) => step.split(".")[0]))).toEqual(
      new Set([
        "start the Gateway and the mock model",
        "stop the Gateway, node host and mock model",
        "1",
        "2",
        "3",
        "4",
        "5",
        "6",
        "7",
        "8",
        "9",
        "10",
        "11",
        "12",
        "13",
        "14",
        "15",
      ]),
    );
    console.info(`bench --quick, seconds per step: ${JSON.stringify(results.secondsPerStep)}`);
    expect(results.memory).toMatchObject({ lost: 0, torn: 0 });
    expect(await readFile(join(out, "results.md"), "utf8")).toContain("| scenario |");
    expect(await readFile(join(out, "latency.svg"), "utf8")).toMatch(/^<svg[\s\S]*<\/svg>\n$/u);
  } finally {
    await rm(out, { recursive: true, force: true });
  }
}, 900_000);
