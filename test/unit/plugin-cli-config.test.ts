import { access, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PLUGIN_RELOAD_HINT } from "../../src/cli/context.js";
import { type CliIo, runCli } from "../../src/cli/main.js";
import { parseConfig } from "../../src/config/parse.js";
import type { ConfigInput } from "../../src/config/schema.js";

// Inside OpenClaw (`openclaw inter-instance …`) the config is the plugin's entry in openclaw.json:
// the commands that change it go to the io's updatePluginConfig (OpenClaw's config API in
// src/plugin/cli-config.ts, run for real by readme-two-machines.test), never to the CLI's own file.
// Here the plugin's entry is an object in memory.
let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "oii-plugin-cli-config-"));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

function insideOpenClaw(initial: ConfigInput) {
  const plugin = { config: initial, writes: 0 };
  let stdout = "";
  let stderr = "";
  const io: CliIo = {
    stdout: (text) => (stdout += text),
    stderr: (text) => (stderr += text),
    env: { OPENCLAW_STATE_DIR: dir, OPENCLAW_INTER_INSTANCE_HOME: join(dir, "state") },
    stdin: async () => new Uint8Array(),
    name: "openclaw inter-instance",
    pluginConfig: async () => parseConfig(plugin.config),
    updatePluginConfig: async (change) => {
      plugin.config = change(plugin.config);
      plugin.writes += 1;
      return "openclaw.json (plugins.entries.inter-instance.config)";
    },
  };
  return { plugin, run: (args: string[]) => runCli(args, io), output: () => stdout, errors: () => stderr };
}

const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );

describe("openclaw inter-instance: the commands that change the config write the plugin's entry", () => {
  it("pin, then remove: the plugin's entry changes, the CLI's default file is never made", async () => {
    const { plugin, run, errors } = insideOpenClaw({ self: { name: "xiaom" }, instances: {} });
    const key = Buffer.alloc(32, 7).toString("base64url");
    expect(await run(["pin", "xiaoa", key, "--inbound", "hold"])).toBe(0);
    expect(plugin.config.instances.xiaoa).toEqual({ publicKey: key, inbound: "hold" });
    // What to do if the Gateway's hot reload of the plugin gives up (readme-two-machines.test meets it under load).
    expect(errors()).toContain(PLUGIN_RELOAD_HINT);
    expect(await run(["remove", "xiaoa"])).toBe(0);
    expect(plugin.config.instances.xiaoa).toBeUndefined();
    expect(plugin.writes).toBe(2);
    expect(await exists(join(dir, "inter-instance.json"))).toBe(false);
  });

  it("--config names a file: that file is written, the plugin's entry is not", async () => {
    const file = join(dir, "explicit.json");
    await writeFile(file, JSON.stringify({ self: { name: "xiaom" }, instances: {} }));
    const { plugin, run, errors } = insideOpenClaw({ self: { name: "xiaom" }, instances: {} });
    expect(await run(["--config", file, "pin", "xiaoa", Buffer.alloc(32, 9).toString("base64url")])).toBe(0);
    expect(plugin.writes).toBe(0);
    expect(errors()).not.toContain(PLUGIN_RELOAD_HINT);
    expect((JSON.parse(await readFile(file, "utf8")) as ConfigInput).instances.xiaoa).toBeDefined();
  });
});
