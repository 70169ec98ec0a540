import { execFile } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PLUGIN_ID } from "../../src/plugin/id.js";
import plugin from "../../src/plugin/index.js";
import { openclawEntry } from "../harness/gateway.js";
import { packPlugin } from "../harness/plugin-install.js";

// What ClawHub checks before it lists the package, run offline on the tarball a user gets:
// `clawhub package validate` (its Plugin Inspector) against the pinned OpenClaw, the inspector's
// runtime capture with the real plugin SDK, `clawhub package publish --dry-run`, and SKILL.md as a
// skill on its own. Every URL the CLI could reach is a closed loopback port.
const run = promisify(execFile);
const repoRoot = join(import.meta.dirname, "..", "..");
const hostOpenclaw = join(repoRoot, "test", "openclaw-host", "node_modules", "openclaw");
const fromRoot = createRequire(join(repoRoot, "package.json"));
const clawhubDir = dirname(fromRoot.resolve("clawhub/package.json"));
const inspectorEntry = fromRoot.resolve("@openclaw/plugin-inspector");
const captureApiEntry = fromRoot.resolve("@openclaw/plugin-inspector/capture-api");
const NOWHERE = "http://127.0.0.1:9";

interface Captured {
  kind: "registration" | "hook";
  name: string;
  arguments?: { name?: string | null }[];
}
interface PackageJson {
  name: string;
  version: string;
  scripts?: Record<string, string>;
  repository?: string | { url?: string };
  openclaw: { compat: { pluginApi: string }; build: { openclawVersion: string }; install: { minHostVersion: string } };
}

/** owner/name of a package.json `repository` on GitHub, or undefined. */
function githubRepo(repository: PackageJson["repository"]): string | undefined {
  const url = typeof repository === "string" ? repository : repository?.url;
  return /^(?:github:|(?:git\+)?https:\/\/github\.com\/|git@github\.com:)([\w.-]+\/[\w.-]+?)(?:\.git)?\/?$/u.exec(url ?? "")?.[1];
}

const rootPackage = JSON.parse(await readFile(join(repoRoot, "package.json"), "utf8")) as PackageJson;
const sourceRepo = githubRepo(rootPackage.repository);
// The project has no public GitHub repository yet: without one, ClawHub refuses to plan a publish,
// and the test checks that refusal instead of the plan (the note of the change says so).

let scratch: string;
let tarball: string;
let packageDir: string;
let installOutput: string;
let clawhubEnv: NodeJS.ProcessEnv;
let validateReport: {
  status: string;
  summary: Record<string, number>;
  issues: unknown[];
  targetOpenClaw: { version: string; hookNames: string[] };
  fixtures: { registrations: string[] }[];
};

async function clawhub(args: string[]): Promise<string> {
  const { stdout } = await run(process.execPath, [join(clawhubDir, "bin", "clawdhub.js"), ...args], {
    cwd: scratch,
    env: clawhubEnv,
    timeout: 120_000,
    maxBuffer: 32 * 1024 * 1024,
  });
  return stdout;
}

/** What the plugin registers on the inspector's capture api with this OpenClaw config (`api.config`): from this checkout's source, in this process. */
async function captureSource(config: Record<string, unknown>): Promise<Captured[]> {
  const { createCaptureApi } = (await import(pathToFileURL(captureApiEntry).href)) as {
    createCaptureApi(options: object): { getCapturedContracts(): Captured[] };
  };
  const api = createCaptureApi({ config, logger: { info() {}, warn() {}, error() {}, debug() {} } });
  await plugin.register(api as never);
  return api.getCapturedContracts();
}

/** The same from the installed package, in a process of its own, through the inspector's capturePluginEntrypoint with the real SDK. */
async function capturePackage(config: Record<string, unknown>): Promise<Captured[]> {
  const out = join(scratch, `capture-${Date.now()}.json`);
  const script = `
    const [inspector, root, config, out] = process.argv.slice(1);
    const { capturePluginEntrypoint } = await import(inspector);
    const { writeFile } = await import("node:fs/promises");
    const result = await capturePluginEntrypoint("dist/plugin/index.js", { cwd: root, pluginRoot: root, mockSdk: false, apiOptions: { config: JSON.parse(config) } });
    await writeFile(out, JSON.stringify(result));
    process.exit(0);`;
  await run(
    process.execPath,
    ["--no-warnings", "--input-type=module", "-e", script, pathToFileURL(inspectorEntry).href, packageDir, JSON.stringify(config), out],
    {
      cwd: packageDir,
      env: clawhubEnv,
      timeout: 60_000,
    },
  );
  const result = JSON.parse(await readFile(out, "utf8")) as { status: string; captured: Captured[] };
  expect(result.status).toBe("captured");
  return result.captured;
}

const named = (captured: Captured[], kind: Captured["kind"], name?: string) =>
  captured
    .filter((item) => item.kind === kind && (name === undefined || item.name === name))
    .map((item) => (kind === "hook" ? item.name : (item.arguments ?? []).map((argument) => argument.name).find(Boolean)));

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), "oii-clawhub-"));
  const home = join(scratch, "home");
  await mkdir(home);
  clawhubEnv = {
    PATH: process.env.PATH,
    HOME: home,
    XDG_CONFIG_HOME: join(home, ".config"),
    XDG_CACHE_HOME: join(home, ".cache"),
    NO_COLOR: "1",
    CLAWHUB_REGISTRY: NOWHERE,
    CLAWHUB_SITE: NOWHERE,
    PLUGIN_INSPECTOR_NPM_REGISTRY: NOWHERE,
    // publish packs with `npm pack`, whose update check would otherwise ask registry.npmjs.org.
    npm_config_update_notifier: "false",
    npm_config_offline: "true",
  };
  tarball = await packPlugin(scratch);
  // As a user installs it (`npm install -g`), from the machine's npm cache; then OpenClaw's own
  // package as its peer, the way a Gateway links itself into the plugins it installs.
  const prefix = join(scratch, "global");
  const install = await run("npm", ["install", "-g", "--prefix", prefix, "--offline", "--no-audit", "--no-fund", "--no-update-notifier", tarball], {
    timeout: 180_000,
  });
  installOutput = `${install.stdout}\n${install.stderr}`;
  packageDir = join(prefix, "lib", "node_modules", rootPackage.name);
  await symlink(hostOpenclaw, join(packageDir, "node_modules", "openclaw"), "dir");
}, 240_000);

afterAll(async () => {
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

describe("ClawHub-ready", () => {
  it("the packed package.json targets the pinned OpenClaw, and installing the tarball warns about no install script", async () => {
    const packed = JSON.parse(await readFile(join(packageDir, "package.json"), "utf8")) as PackageJson;
    const pinned = (JSON.parse(await readFile(join(repoRoot, "test", "openclaw-host", "package.json"), "utf8")) as { dependencies: { openclaw: string } })
      .dependencies.openclaw;
    expect(packed.openclaw).toMatchObject({
      compat: { pluginApi: `>=${pinned}` },
      build: { openclawVersion: pinned },
      install: { minHostVersion: `>=${pinned}` },
    });
    expect(Object.keys(packed.scripts ?? {}).filter((script) => ["preinstall", "install", "postinstall", "prepare"].includes(script))).toEqual([]);
    expect(installOutput).not.toMatch(/allowScripts|install-scripts|prepare/u);
  });

  it("clawhub package validate: PASS with no findings, offline against the pinned OpenClaw", async () => {
    validateReport = JSON.parse(await clawhub(["package", "validate", packageDir, "--openclaw", hostOpenclaw, "--json", "--out", join(scratch, "reports")]));
    expect(validateReport.targetOpenClaw.version).toBe(rootPackage.openclaw.build.openclawVersion);
    expect(validateReport.status).toBe("pass");
    expect(validateReport.issues).toEqual([]);
    expect(validateReport.summary).toEqual({ breakageCount: 0, warningCount: 0, deprecationWarningCount: 0, issueCount: 0 });
  }, 120_000);

  it("its runtime capture with the real SDK registers what the source registers: every tool of the manifest, the services, the CLI, the routes", async () => {
    const out = join(scratch, "reports-runtime");
    await clawhub(["package", "validate", packageDir, "--openclaw", hostOpenclaw, "--runtime", "--allow-execute", "--no-mock-sdk", "--json", "--out", out]);
    const capture = JSON.parse(await readFile(join(out, "plugin-inspector-runtime-capture.json"), "utf8")) as {
      mode: { mockSdk: boolean };
      summary: { failedCount: number };
      results: { status: string; captured: Captured[] }[];
    };
    expect(capture.mode.mockSdk).toBe(false);
    expect(capture.summary.failedCount).toBe(0);
    const [result] = capture.results;
    expect(result!.status).toBe("captured");
    const manifest = JSON.parse(await readFile(join(packageDir, "openclaw.plugin.json"), "utf8")) as { contracts: { tools: string[] } };
    expect(named(result!.captured, "registration", "registerTool")).toEqual(manifest.contracts.tools);
    expect(named(result!.captured, "registration", "registerService").length).toBeGreaterThan(0);
    expect(named(result!.captured, "registration", "registerCli")).toHaveLength(1);
    expect(named(result!.captured, "registration", "registerHttpRoute").length).toBeGreaterThan(0);
    // The inspector's api carries an empty OpenClaw config, so no conversation access: no hooks, as in a Gateway.
    expect(named(result!.captured, "hook")).toEqual([]);
    expect(result!.captured).toEqual(await captureSource({}));
  }, 120_000);

  it("its default runtime capture (the inspector's mock SDK) serves every SDK subpath the plugin imports and captures the same tools", async () => {
    const out = join(scratch, "reports-mock");
    await clawhub(["package", "validate", packageDir, "--openclaw", hostOpenclaw, "--runtime", "--allow-execute", "--json", "--out", out]);
    const capture = JSON.parse(await readFile(join(out, "plugin-inspector-runtime-capture.json"), "utf8")) as {
      mode: { mockSdk: boolean };
      results: { status: string; captured: Captured[] }[];
    };
    expect(capture.mode.mockSdk).toBe(true);
    expect(capture.results.map((result) => result.status)).toEqual(["captured"]);
    expect(named(capture.results[0]!.captured, "registration", "registerTool")).toEqual(named(await captureSource({}), "registration", "registerTool"));
  }, 120_000);

  it("with conversation access granted the packed plugin registers its hooks, all known to the pinned OpenClaw", async () => {
    const config = { plugins: { entries: { [PLUGIN_ID]: { hooks: { allowConversationAccess: true } } } } };
    const captured = await capturePackage(config);
    const hooks = named(captured, "hook");
    expect(hooks.length).toBeGreaterThan(0);
    expect(validateReport.targetOpenClaw.hookNames).toEqual(expect.arrayContaining(hooks));
    expect(captured).toEqual(await captureSource(config));
  }, 120_000);

  it.runIf(!sourceRepo)(
    "clawhub package publish --dry-run, with no GitHub repository in package.json, refuses and names the source repo it needs",
    async () => {
      const refused = await clawhub(["package", "publish", packageDir, "--dry-run", "--json"]).then(
        (stdout) => ({ ok: true, said: stdout }),
        (error: unknown) => {
          const { stdout = "", stderr = "", message = "" } = error as { stdout?: string; stderr?: string; message?: string };
          return { ok: false, said: `${stdout}${stderr}${message}` };
        },
      );
      expect(refused.ok).toBe(false);
      expect(refused.said).toMatch(/source-repo/u);
    },
    120_000,
  );

  it.runIf(sourceRepo)(
    "clawhub package publish --dry-run plans the code plugin the README installs with clawhub:",
    async () => {
      const { stdout: commit } = await run("git", ["rev-parse", "HEAD"], { cwd: repoRoot });
      const sha = commit.trim();
      const plan = JSON.parse(
        await clawhub(["package", "publish", packageDir, "--dry-run", "--json", "--source-repo", sourceRepo!, "--source-commit", sha]),
      ) as Record<string, unknown>;
      const { stdout: listing } = await run("tar", ["tzf", tarball]);
      expect(plan).toMatchObject({
        source: `github:${sourceRepo}@${sha}`,
        name: rootPackage.name,
        displayName: "Inter-instance messaging",
        family: "code-plugin",
        version: rootPackage.version,
        commit: sha,
        files: listing.trim().split("\n").length,
      });
      const readme = await readFile(join(repoRoot, "README.md"), "utf8");
      expect(readme).toContain(`openclaw plugins install clawhub:${plan.name}\n`);
    },
    120_000,
  );

  it("SKILL.md on its own: OpenClaw installs it as a skill, named as its folder, gated on the plugin's config", async () => {
    const home = join(scratch, "skill-home");
    const folder = join(home, "src", "openclaw-inter-instance");
    await mkdir(folder, { recursive: true });
    await writeFile(join(folder, "SKILL.md"), await readFile(join(packageDir, "SKILL.md")));
    const env = { PATH: process.env.PATH, HOME: home, NO_COLOR: "1" };
    await run(process.execPath, [openclawEntry, "skills", "install", folder], { cwd: home, env, timeout: 120_000 });
    const { stdout } = await run(process.execPath, [openclawEntry, "skills", "info", "openclaw-inter-instance", "--json"], {
      cwd: home,
      env,
      timeout: 120_000,
    });
    const skill = JSON.parse(stdout.slice(stdout.indexOf("{"))) as {
      name: string;
      description: string;
      eligible: boolean;
      requirements: { config: string[] };
      missing: { bins: string[]; config: string[] };
    };
    expect(skill.name).toBe("openclaw-inter-instance");
    expect(skill.description.length).toBeGreaterThan(0);
    expect(skill.description.length).toBeLessThanOrEqual(1024);
    expect(skill.requirements.config).toEqual([`plugins.entries.${PLUGIN_ID}`]);
    // Without the plugin configured the agent does not see it.
    expect(skill).toMatchObject({ eligible: false, missing: { bins: [], config: [`plugins.entries.${PLUGIN_ID}`] } });
  }, 240_000);
});
