import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ConfigInput, createMessenger, type DeliveryReport } from "../../src/index.js";
import { dailyNotePath } from "../../src/transports.js";
import { readMemoryEntries } from "../harness/oracle.js";
import { testLog, watchOutput } from "../harness/secrets-watch.js";

// Disk faults on the memory-file path, made real without mocks: a note that is a symlink to
// /dev/full (the kernel answers every write with ENOSPC), and a workspace the writing process may
// not write (EACCES; as root, the CLI runs without CAP_DAC_OVERRIDE so that permissions apply at all).
let scratch: string;
const bin = join(fileURLToPath(import.meta.url), "..", "..", "..", "dist", "cli", "bin.js");

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), "oii-faults-"));
});

afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

function configFor(workspace: string, stateDir: string): ConfigInput {
  return {
    self: { name: "xiaoa" },
    stateDir,
    defaults: { circuitCooldownMs: 0 },
    instances: { xiaom: { workspace, timeZone: "UTC", transports: ["memory_file"] } },
  };
}

describe("disk faults on the memory-file path", () => {
  it("disk full (ENOSPC): unavailable with the fix, queued, nothing torn; delivered once after space returns", async () => {
    const workspace = join(scratch, "full");
    await mkdir(join(workspace, "memory"), { recursive: true });
    const note = dailyNotePath(workspace, new Date().toISOString().slice(0, 10));
    await symlink("/dev/full", note);
    const client = createMessenger({ config: configFor(workspace, join(scratch, "state-full")), log: testLog() });
    try {
      const report = await client.send({ to: "xiaom", body: "while the disk is full" });
      expect(report).toMatchObject({ ok: false, status: "queued" });
      expect(report.attempts[0]).toMatchObject({
        transport: "memory_file",
        outcome: "unavailable",
        error: { code: "DISK_FULL", hint: expect.stringContaining("disk space") },
      });
      expect(await client.outbox.list()).toHaveLength(1);

      await rm(note);
      const [flushed] = await client.outbox.flush({ all: true });
      expect(flushed).toMatchObject({ ok: true, id: report.id, via: "memory_file" });
      expect((await readMemoryEntries(workspace)).filter((entry) => entry.id === report.id)).toHaveLength(1);
      expect(await client.outbox.list()).toEqual([]);
    } finally {
      await client.close();
    }
  });

  it("memory dir not writable (EACCES): unavailable with the fix, queued, exit 1 from the CLI", async () => {
    const workspace = join(scratch, "readonly");
    await mkdir(join(workspace, "memory"), { recursive: true });
    const stateDir = join(scratch, "state-readonly");
    await mkdir(stateDir, { recursive: true });
    await chmod(join(workspace, "memory"), 0o555);
    const configPath = join(scratch, "readonly.json");
    await writeFile(configPath, JSON.stringify(configFor(workspace, stateDir)));
    // Root passes permission bits by CAP_DAC_OVERRIDE: as root the CLI runs without it (setpriv
    // drops it from the bounding set), so the mode applies to it as to anyone else.
    const asRoot = process.getuid?.() === 0;
    const argv = [process.execPath, bin, "--config", configPath, "--json", "send", "xiaom", "no permission"];
    const dropped = "-dac_override,-dac_read_search";
    const [file, ...args] = asRoot ? ["setpriv", `--bounding-set=${dropped}`, `--inh-caps=${dropped}`, "--", ...argv] : argv;
    const result = await execa(file!, args, { reject: false, stdin: "ignore", env: { HOME: stateDir } });
    watchOutput(`${result.stdout}\n${result.stderr}`);
    expect(result.exitCode, result.stderr).toBe(1);
    const report = JSON.parse(result.stdout) as DeliveryReport;
    expect(report).toMatchObject({ ok: false, status: "queued" });
    expect(report.attempts[0]).toMatchObject({ outcome: "unavailable", error: { code: "MEMORY_NOT_WRITABLE", hint: expect.stringContaining("write access") } });
    expect(await readMemoryEntries(workspace)).toEqual([]);
  });
});
