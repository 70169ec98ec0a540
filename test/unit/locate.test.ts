import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { locateOpenclaw } from "../../src/transports.js";

describe("locateOpenclaw", () => {
  it("takes the configured path; a .mjs entry runs under this Node", async () => {
    expect(await locateOpenclaw("/opt/openclaw/bin/openclaw", { PATH: "" })).toEqual({ file: "/opt/openclaw/bin/openclaw", prefix: [], source: "config" });
    expect(await locateOpenclaw("/x/openclaw.mjs", { PATH: "" })).toEqual({ file: process.execPath, prefix: ["/x/openclaw.mjs"], source: "config" });
  });

  it("prefers an openclaw on PATH", async () => {
    const dir = await mkdtemp(join(tmpdir(), "oii-path-"));
    try {
      await writeFile(join(dir, "openclaw"), "#!/bin/sh\n");
      await chmod(join(dir, "openclaw"), 0o755);
      expect(await locateOpenclaw(undefined, { PATH: dir })).toEqual({ file: join(dir, "openclaw"), prefix: [], source: "PATH" });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("falls back to the installed package's bin, run by this Node (24 here)", async () => {
    const found = await locateOpenclaw(undefined, { PATH: "" });
    expect(found).toMatchObject({ file: process.execPath, source: "package" });
    expect(found?.prefix[0]).toMatch(/node_modules\/openclaw\/openclaw\.mjs$/u);
  });
});
