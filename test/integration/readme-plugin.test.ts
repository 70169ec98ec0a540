import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify, stripVTControlCharacters } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DeliveryReport } from "../../src/index.js";
import { openclawEntry, startGateway, type TestGateway } from "../harness/gateway.js";
import { type MockModelServer, startMockModel } from "../harness/mock-model.js";
import { openclawCli, readUserTexts, withoutSignatureLine } from "../harness/oracle.js";

// The README's "Install it as an OpenClaw plugin" section, run as written on a real Gateway (A),
// with Gateway B as Xiaom. Substituted, and nothing else: the package source (ClawHub and the npm
// registry are out of reach, so the README's npm-pack block stands in for its ClawHub line and
// `npm pack` packs this checkout), Xiaom's URL, A's port, and the two tokens (the README reads them
// from $XIAOM_TOKEN and $GATEWAY_TOKEN).
const run = promisify(execFile);
const repoRoot = join(import.meta.dirname, "..", "..");

let mock: MockModelServer;
let gatewayA: TestGateway;
let gatewayB: TestGateway;
let scratch: string;
let shellEnv: NodeJS.ProcessEnv;

/** The ```sh blocks of a README section, each as its commands (a trailing `\` continues a line). */
function shellBlocks(readme: string, heading: string): string[][] {
  const start = readme.indexOf(`\n${heading}\n`);
  if (start < 0) throw new Error(`no section "${heading}" in the README`);
  const end = readme.indexOf("\n## ", start + heading.length + 2);
  const section = readme.slice(start, end < 0 ? undefined : end);
  const sectionEnd = section.indexOf("\n### ");
  const body = sectionEnd < 0 ? section : section.slice(0, sectionEnd);
  return [...body.matchAll(/```sh\n([\s\S]*?)```/gu)].map((match) =>
    match[1]!
      .replace(/\\\n\s*/gu, "")
      .split("\n")
      .filter((line) => line.trim() !== "" && !line.trimStart().startsWith("#")),
  );
}

function substitute(command: string): string {
  return command
    .replace("npm pack openclaw-inter-instance", `npm pack --ignore-scripts ${repoRoot}`)
    .replaceAll("wss://xiaom.tail1234.ts.net", gatewayB.url)
    .replaceAll("127.0.0.1:18789", `127.0.0.1:${gatewayA.port}`);
}

async function sh(command: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return run("bash", ["-c", command], { cwd: scratch, env: shellEnv, timeout: 240_000, maxBuffer: 16 * 1024 * 1024 }).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (error: { code?: number; stdout?: string; stderr?: string }) => ({ code: error.code ?? 1, stdout: error.stdout ?? "", stderr: error.stderr ?? "" }),
  );
}

// OpenClaw's own notice for any local archive (the reason for --force), and npm's release notes: not ours to remove.
const EXPECTED_NOTICES = [/^WARNING - Installing plugin from local npm-pack archive/u, /^npm notice/u];
const ALARMING = /warn|error|fail|not found|cancel|stale|ignored|blocked|denied/iu;

function alarmingLines(output: string): string[] {
  return output
    .split("\n")
    .map((line) => stripVTControlCharacters(line).trim())
    .filter((line) => ALARMING.test(line) && !EXPECTED_NOTICES.some((notice) => notice.test(line)));
}

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), "oii-readme-"));
  mock = await startMockModel();
  [gatewayA, gatewayB] = await Promise.all([
    startGateway({ modelBaseUrl: mock.url, name: "readme-xiaoa" }),
    startGateway({ modelBaseUrl: mock.url, name: "readme-xiaom" }),
  ]);
  // `openclaw` on the PATH, pointed at A as its own CLI would be on A's machine.
  const bin = join(scratch, "bin");
  await mkdir(bin);
  await writeFile(join(bin, "openclaw"), `#!/bin/sh\nexec "${process.execPath}" "${openclawEntry}" "$@"\n`);
  await chmod(join(bin, "openclaw"), 0o755);
  shellEnv = { ...gatewayA.cliEnv(), PATH: `${bin}:${process.env.PATH ?? ""}`, XIAOM_TOKEN: gatewayB.token, GATEWAY_TOKEN: gatewayA.token };
}, 240_000);

afterAll(async () => {
  await gatewayA?.dispose();
  await gatewayB?.dispose();
  await mock?.close();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

describe("the README's plugin section, as written", () => {
  it("each install step succeeds without a warning; the plugin loads; the token is a SecretRef the Gateway shows redacted", async () => {
    const [install, withoutClawHub] = shellBlocks(await readFile(join(repoRoot, "README.md"), "utf8"), "## Install it as an OpenClaw plugin");
    expect(install![0]).toBe("openclaw plugins install clawhub:openclaw-inter-instance");
    expect(withoutClawHub).toHaveLength(2);
    const commands = [...withoutClawHub!, ...install!.slice(1)];
    expect(commands.length).toBeGreaterThanOrEqual(6);
    for (const command of commands) {
      const result = await sh(substitute(command));
      expect(result.code, `${command}\n${result.stdout}\n${result.stderr}`).toBe(0);
      expect(alarmingLines(`${result.stdout}\n${result.stderr}`), command).toEqual([]);
    }
    const inspect = await openclawCli(gatewayA, ["plugins", "inspect", "inter-instance", "--runtime", "--json"]);
    const report = JSON.parse(inspect.stdout.slice(inspect.stdout.indexOf("{"))) as { plugin: { status: string; toolNames: string[] }; diagnostics: unknown[] };
    expect(report.plugin.status).toBe("loaded");
    expect(report.plugin.toolNames).toEqual(expect.arrayContaining(["instance_send", "instance_ask", "instance_status"]));
    expect(report.diagnostics).toEqual([]);
    // The skill it ships is gated on the plugin's entry (SKILL.md's metadata.openclaw.requires.config): here the agent sees it.
    const skill = await openclawCli(gatewayA, ["skills", "info", "openclaw-inter-instance", "--json"]);
    expect(JSON.parse(skill.stdout.slice(skill.stdout.indexOf("{")))).toMatchObject({ name: "openclaw-inter-instance", eligible: true });
    const shown = await openclawCli(gatewayA, ["config", "get", "plugins.entries.inter-instance.config.instances.xiaom.gateway.token", "--json"]);
    expect(JSON.parse(shown.stdout)).toEqual({ source: "file", provider: "xiaom", id: "__OPENCLAW_REDACTED__" });
    expect(await readFile(join(gatewayA.stateDir, "openclaw.json"), "utf8")).not.toContain(gatewayB.token);
  }, 600_000);

  it("the curl line delivers 部署完成 into Xiaom's session by sessions_send, with the token read through the file SecretRef", async () => {
    const [, , invoke] = shellBlocks(await readFile(join(repoRoot, "README.md"), "utf8"), "## Install it as an OpenClaw plugin");
    expect(invoke).toHaveLength(1);
    // The plugin may still be loading right after the config change: the line is retried as a user would.
    let answer: { ok?: boolean; result?: { details?: { report?: DeliveryReport } } } = {};
    await expect
      .poll(
        async () => {
          answer = JSON.parse((await sh(substitute(invoke![0]!))).stdout || "{}") as typeof answer;
          return answer.ok === true;
        },
        { timeout: 60_000, interval: 3000 },
      )
      .toBe(true);
    expect(answer.result?.details?.report).toMatchObject({ ok: true, via: "sessions_send", to: "xiaom" });
    // Accepted is not yet in the transcript: the row is written when B's turn starts, which a loaded machine delays.
    await expect
      .poll(async () => (await readUserTexts(gatewayB)).filter((text) => withoutSignatureLine(text).endsWith("\n部署完成")).length, {
        timeout: 120_000,
        interval: 1000,
      })
      .toBe(1);
  }, 200_000);

  it("an agent turn on A saying 给小m发消息 reaches B; every line the plugin logged is in the Gateway's own format", async () => {
    const marker = `readme-${randomUUID().slice(0, 8)}`;
    const turn = await openclawCli(
      gatewayA,
      ["agent", "--session-key", "agent:main:main", "--message", `给小m发消息：你好 ${marker}`, "--json", "--timeout", "120"],
      180_000,
    );
    expect(turn.code, turn.stderr + turn.stdout.slice(-2000)).toBe(0);
    await expect.poll(async () => (await readUserTexts(gatewayB)).filter((text) => text.includes(marker)).length, { timeout: 60_000, interval: 1000 }).toBe(1);
    const ours = (await readFile(gatewayA.logFile, "utf8"))
      .split("\n")
      .map((line) => stripVTControlCharacters(line))
      .filter((line) => line.includes("inter-instance") && !line.includes("[ws]") && !line.includes("[reload]"));
    expect(ours.length).toBeGreaterThan(0);
    const foreign = ours.filter((line) => !/^\d{4}-\d{2}-\d{2}T\S+ \[plugins\] inter-instance[ :]/u.test(line) && !line.includes("[gateway]"));
    expect(foreign).toEqual([]);
    expect((await readFile(gatewayA.logFile, "utf8")).split("\n").filter((line) => line.startsWith('{"level":'))).toEqual([]);
  }, 240_000);
});
