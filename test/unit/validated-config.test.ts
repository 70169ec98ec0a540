import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { loadConfigFileValidated } from "../../src/cli/validated-config.js";
import { parseConfig, ValidationError } from "../../src/index.js";
import { full } from "../fixtures/full-config.ts";

let scratch: string;
let stateDir: string;
let configPath: string;
const env = {};

beforeEach(async () => {
  scratch = await mkdtemp(join(tmpdir(), "oii-validated-config-"));
  stateDir = join(scratch, "state");
  configPath = join(scratch, "inter-instance.json");
});
afterEach(() => rm(scratch, { recursive: true, force: true }));

const config = (name = "xiaoa") => ({ self: { name }, stateDir: join(scratch, "state"), instances: { xiaom: { gateway: { url: "ws://127.0.0.1:18789" } } } });

async function entryFile(): Promise<string> {
  const names = (await readdir(stateDir)).filter((name) => name.endsWith(".validated.json"));
  expect(names).toHaveLength(1);
  return join(stateDir, names[0]!);
}

describe("a config file validated once per text (the CLI's)", () => {
  it("is the schema's result, as parseConfig gives it, read back from the entry the first load wrote", async () => {
    await mkdir(stateDir);
    await writeFile(configPath, JSON.stringify(config()));
    const first = await loadConfigFileValidated(configPath, env);
    expect(first).toStrictEqual(parseConfig(config()));
    const entry = JSON.parse(await readFile(await entryFile(), "utf8")) as { key: string; config: unknown };
    expect(entry.config).toStrictEqual(first);
    // The second load takes the entry: one changed in place (same key) shows through.
    await writeFile(await entryFile(), JSON.stringify({ key: entry.key, config: { ...first, self: { name: "from-the-entry" } } }));
    expect((await loadConfigFileValidated(configPath, env)).self.name).toBe("from-the-entry");
  });

  it("validates again when the file changes by one byte, and an invalid file is refused whatever the entry holds", async () => {
    await mkdir(stateDir);
    await writeFile(configPath, JSON.stringify(config()));
    await loadConfigFileValidated(configPath, env);
    await writeFile(configPath, JSON.stringify(config("xiaob")));
    expect((await loadConfigFileValidated(configPath, env)).self.name).toBe("xiaob");
    await writeFile(configPath, JSON.stringify({ ...config(), instances: { xiaom: { gateway: { url: "http://x" } } } }));
    await expect(loadConfigFileValidated(configPath, env)).rejects.toThrow(ValidationError);
    await expect(loadConfigFileValidated(configPath, env)).rejects.toThrow(/instances\.xiaom\.gateway\.url/u);
  });

  it("ignores an entry that is torn, foreign or for another text, and validates", async () => {
    await mkdir(stateDir);
    await writeFile(configPath, JSON.stringify(config()));
    await loadConfigFileValidated(configPath, env);
    for (const text of ['{"key":', JSON.stringify({ key: "0".repeat(64), config: { self: { name: "stale" } } }), "null", "[]"]) {
      await writeFile(await entryFile(), text);
      expect((await loadConfigFileValidated(configPath, env)).self.name).toBe("xiaoa");
    }
  });

  it("writes nothing where the state dir does not exist yet, and still loads", async () => {
    await writeFile(configPath, JSON.stringify(config()));
    expect((await loadConfigFileValidated(configPath, env)).self.name).toBe("xiaoa");
    await expect(readdir(stateDir)).rejects.toThrow(/ENOENT/u);
  });

  it("says what is wrong with a file that is not JSON, as before", async () => {
    await writeFile(configPath, '{"self": {"name": "xiaoa"},}');
    await expect(loadConfigFileValidated(configPath, env)).rejects.toThrow(/not valid JSON at line 1, column 28/u);
  });

  it("hands on a config that passes parseConfig as it is, frozen", async () => {
    await mkdir(stateDir);
    await writeFile(configPath, JSON.stringify(config()));
    for (let load = 0; load < 2; load += 1) {
      const loaded = await loadConfigFileValidated(configPath, env);
      expect(parseConfig(loaded)).toBe(loaded);
      expect(Object.isFrozen(loaded.instances.xiaom)).toBe(true);
      expect(() => {
        (loaded.self as { name: string }).name = "changed";
      }).toThrow(TypeError);
    }
  });
});

describe("the schema's result survives JSON (what the entry keeps)", () => {
  it("for a config that sets every block", () => {
    const parsed = parseConfig(full);
    expect(JSON.parse(JSON.stringify(parsed))).toStrictEqual(parsed);
  });
});
