import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, expect, it } from "vitest";
import { readBoots, readGatewayCpu, recordBoot, recordGatewayCpu } from "../harness/boot-ledger.js";

const saved = process.env.OII_BOOT_LEDGER;
afterEach(() => {
  process.env.OII_BOOT_LEDGER = saved;
});

it("records each Gateway start under the test file that asked for it, for the run's summary", async () => {
  const dir = await mkdtemp(join(tmpdir(), "oii-boot-ledger-"));
  try {
    process.env.OII_BOOT_LEDGER = join(dir, "boots.jsonl");
    // The summary reporter makes the ledger when the run starts.
    await writeFile(process.env.OII_BOOT_LEDGER, "");
    const startedByAHarness = async () => {
      await Promise.resolve();
      recordBoot("gw-a", 11_500.4);
    };
    await startedByAHarness();
    expect(recordBoot("gw-b", 9_000)).toBe("test/unit/boot-ledger.test.ts");
    recordGatewayCpu("test/unit/boot-ledger.test.ts", "gw-b", 14.26);
    expect(readBoots(process.env.OII_BOOT_LEDGER)).toEqual([
      { caller: "test/unit/boot-ledger.test.ts", name: "gw-a", readyMs: 11_500 },
      { caller: "test/unit/boot-ledger.test.ts", name: "gw-b", readyMs: 9_000 },
    ]);
    expect(readGatewayCpu(process.env.OII_BOOT_LEDGER)).toEqual([{ caller: "test/unit/boot-ledger.test.ts", name: "gw-b", cpuS: 14.3 }]);
    expect(readBoots(join(dir, "missing.jsonl"))).toEqual([]);
    // Once the summary removed it, a late stop (the shared Gateways') leaves no file behind.
    process.env.OII_BOOT_LEDGER = join(dir, "removed.jsonl");
    recordGatewayCpu("test/harness/gateway-pool.ts", "shared", 20);
    expect(existsSync(process.env.OII_BOOT_LEDGER)).toBe(false);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
