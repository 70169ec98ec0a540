import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readdir, readFile, readlink, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { PROXY_VARIABLES } from "../../src/core.js";
import { type ConfigInput, createMessenger, type TransportId, ValidationError } from "../../src/index.js";
import { instanceExec } from "../../src/plugin/tools/instance-exec.js";
import { instanceSync } from "../../src/plugin/tools/instance-sync.js";
import { InboxWatcher, incomingDir, type MemoryEntry } from "../../src/transports.js";
import { hostileBodies } from "../fixtures/hostile-bodies.js";
import { startGateway, type TestGateway } from "../harness/gateway.js";
import { startGitServer, type TestGitServer } from "../harness/git-server.js";
import { type MockModelServer, startMockModel } from "../harness/mock-model.js";
import { allowNodeFileWrites, startNodeHost, type TestNodeHost } from "../harness/node-host.js";
import { readMemoryEntries } from "../harness/oracle.js";
import { testLog, watchOutput } from "../harness/secrets-watch.js";

// Topology of the seed: Xiaom's machine runs a node host paired to Xiaoa's Gateway; Xiaoa reaches
// Xiaom through its own Gateway. Here both "machines" are this one, on loopback.
let mock: MockModelServer;
let gatewayA: TestGateway;
let node: TestNodeHost;
let scratch: string;
let xiaomWorkspace: string;
let sentinel: string;
const DEAD_PROXY = "http://127.0.0.1:9";

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), "oii-nodes-"));
  xiaomWorkspace = join(scratch, "xiaom-workspace");
  sentinel = join(scratch, "SENTINEL");
  await mkdir(xiaomWorkspace, { recursive: true });
  mock = await startMockModel();
  gatewayA = await startGateway({
    modelBaseUrl: mock.url,
    name: "xiaoa-nodes",
    beforeStart: ({ stateDir }) => allowNodeFileWrites(stateDir, [`${xiaomWorkspace}/.openclaw-inter-instance/**`, `${scratch}/synced/**`]),
  });
  // The node host inherits a dead proxy, as on the seed's Mac mini: exec must not use it by default.
  node = await startNodeHost(gatewayA, { displayName: "xiaom-mac", env: { HTTPS_PROXY: DEAD_PROXY, http_proxy: DEAD_PROXY } });
}, 240_000);

afterAll(async () => {
  await node?.dispose();
  await gatewayA?.dispose();
  await mock?.close();
  await rm(scratch, { recursive: true, force: true });
});

function configFor(options: { name?: string; workspace?: string; transports?: TransportId[] } = {}): ConfigInput {
  return {
    self: { name: "xiaoa" },
    stateDir: join(scratch, "client"),
    instances: {
      xiaom: {
        aliases: ["小m"],
        node: { gateway: { url: gatewayA.url, token: gatewayA.token }, name: options.name ?? "xiaom-mac", workspace: options.workspace ?? xiaomWorkspace },
        workspace: xiaomWorkspace,
        transports: options.transports ?? ["nodes", "memory_file"],
      },
    },
  };
}

async function withMessenger<T>(config: ConfigInput, work: (client: ReturnType<typeof createMessenger>) => Promise<T>): Promise<T> {
  const client = createMessenger({ config, log: testLog() });
  try {
    return await work(client);
  } finally {
    await client.close();
  }
}

describe("exec on a paired node (node.invoke system.run)", () => {
  it("returns stdout, stderr and the exit code of an argv", async () => {
    await withMessenger(configFor(), async (client) => {
      const result = await client.exec({ to: "小m", argv: ["sh", "-c", "echo out; echo err >&2; exit 3"] });
      expect(result).toMatchObject({ ok: false, exitCode: 3, stdout: "out\n", stderr: "err\n", timedOut: false, truncated: false, to: "xiaom" });
    });
  });

  it("passes hostile arguments to the program as written, and runs none of them", async () => {
    await withMessenger(configFor(), async (client) => {
      const argument = `$(touch ${sentinel}) \`touch ${sentinel}\` 'single' "double" ; touch ${sentinel} | EOF\n`;
      const result = await client.exec({ to: "xiaom", argv: ["printf", "%s", argument] });
      expect(result).toMatchObject({ ok: true, exitCode: 0, stdout: argument });
      expect(existsSync(sentinel)).toBe(false);
    });
  });

  it("unsets the node host's proxy variables unless asked to keep them; cwd and env reach the command", async () => {
    await withMessenger(configFor(), async (client) => {
      const clean = await client.exec({ to: "xiaom", argv: ["env"], cwd: scratch, env: { GREETING: "你好 $(x)" } });
      const names = clean.stdout.split("\n").map((line) => line.split("=")[0]);
      for (const name of PROXY_VARIABLES) expect(names).not.toContain(name);
      expect(clean.stdout).toContain("GREETING=你好 $(x)\n");
      expect((await client.exec({ to: "xiaom", argv: ["pwd"], cwd: scratch })).stdout).toBe(`${scratch}\n`);
      const kept = await client.exec({ to: "xiaom", argv: ["env"], keepProxy: true });
      expect(kept.stdout).toContain(`HTTPS_PROXY=${DEAD_PROXY}\n`);
      expect(kept.stdout).toContain(`http_proxy=${DEAD_PROXY}\n`);
    });
  });

  it("runs steps in order and stops at the failing middle step, saying which", async () => {
    const marker = join(scratch, "third-step-ran");
    await withMessenger(configFor(), async (client) => {
      const result = await client.execSteps({
        to: "xiaom",
        steps: [
          ["echo", "one"],
          ["sh", "-c", "echo two >&2; exit 5"],
          ["touch", marker],
        ],
      });
      expect(result).toMatchObject({ ok: false, failedStep: 1 });
      expect(result.steps.map((step) => step.exitCode)).toEqual([0, 5]);
      expect(result.steps[1]?.stderr).toBe("two\n");
      expect(existsSync(marker)).toBe(false);
      const tool = await instanceExec(async () => client, { to: "xiaom", steps: [["true"], ["false"], ["true"]] });
      expect(tool.content[0]?.text).toContain("Stopped at step 2 of 3.");
    });
  });

  it("kills a command at its timeout, and says so", async () => {
    await withMessenger(configFor(), async (client) => {
      const result = await client.exec({ to: "xiaom", argv: ["sleep", "20"], timeoutMs: 1_000 });
      expect(result).toMatchObject({ ok: false, timedOut: true });
      expect(result.ms).toBeLessThan(15_000);
    });
  });

  it("marks output the node cut at its cap as truncated", async () => {
    await withMessenger(configFor(), async (client) => {
      const result = await client.exec({ to: "xiaom", argv: ["head", "-c", "1000000", "/dev/zero"] });
      expect(result.truncated).toBe(true);
      expect(result.stdout.length).toBeLessThan(1_000_000);
    });
  });

  it("answers bad input with a typed error before anything runs", async () => {
    await withMessenger(configFor(), async (client) => {
      await expect(client.exec({ to: "xiaom", argv: [] })).rejects.toBeInstanceOf(ValidationError);
      await expect(client.exec({ to: "xiaom", argv: ["ls"], cwd: "relative/dir" })).rejects.toThrow(/cwd must be an absolute path/u);
      await expect(client.exec({ to: "xiaom", argv: ["ls\0"] })).rejects.toThrow(/NUL/u);
    });
  });

  it("a node that is not paired is unavailable with the fix in the error", async () => {
    await withMessenger(configFor({ name: "no-such-node" }), async (client) => {
      await expect(client.exec({ to: "xiaom", argv: ["true"] })).rejects.toMatchObject({
        code: "NODE_NOT_PAIRED",
        hint: expect.stringContaining("openclaw node run"),
      });
    });
  });
});

describe("messages through the node (file.write into the target's incoming folder)", () => {
  it("delivers every hostile body byte-exact; the receiving side merges them into the daily note; nothing runs", async () => {
    const bodies = hostileBodies(sentinel);
    const sent = new Map<string, string>();
    await withMessenger(configFor(), async (client) => {
      for (const { body } of bodies) {
        const report = await client.send({ to: "xiaom", body });
        expect(report, JSON.stringify(report.attempts)).toMatchObject({ ok: true, via: "nodes", status: "accepted" });
        sent.set(report.id, body);
      }
    });
    const surfaced: MemoryEntry[] = [];
    const watcher = new InboxWatcher({
      workspace: xiaomWorkspace,
      sessionKey: "agent:main:main",
      timeZone: "UTC",
      surface: async (entry) => (surfaced.push(entry), "surfaced" as const),
    });
    await watcher.start();
    await watcher.stop();
    const entries = new Map((await readMemoryEntries(xiaomWorkspace)).map((entry) => [entry.id, entry.body]));
    for (const [id, body] of sent) expect(entries.get(id), JSON.stringify(body.slice(0, 60))).toBe(body);
    expect(surfaced.filter((entry) => sent.has(entry.id))).toHaveLength(sent.size);
    expect((await readdir(incomingDir(xiaomWorkspace))).filter((name) => name.endsWith(".json"))).toEqual([]);
    expect(existsSync(sentinel)).toBe(false);
  });

  it("a resend of the same envelope is dropped by the node (the file exists), and merged once", async () => {
    const first = await withMessenger(configFor(), (client) => client.send({ to: "xiaom", body: "only once" }));
    const again = await withMessenger({ ...configFor(), outbox: { enabled: false } }, (client) =>
      client.send({ to: "xiaom", body: "only once", id: first.id }),
    );
    expect(again).toMatchObject({ ok: true, via: "nodes", receipt: { detail: { duplicate: true } } });
    const watcher = new InboxWatcher({ workspace: xiaomWorkspace, sessionKey: "agent:main:main", timeZone: "UTC", surface: async () => "surfaced" as const });
    await watcher.start();
    await watcher.stop();
    expect((await readMemoryEntries(xiaomWorkspace)).filter((entry) => entry.id === first.id)).toHaveLength(1);
  });

  it("a path outside the Gateway's file policy is unavailable with the setting to change, and the next transport takes over", async () => {
    const elsewhere = join(scratch, "not-allowed");
    await mkdir(elsewhere, { recursive: true });
    await withMessenger(configFor({ workspace: elsewhere }), async (client) => {
      const report = await client.send({ to: "xiaom", body: "policy" });
      expect(report.attempts[0]).toMatchObject({
        transport: "nodes",
        outcome: "unavailable",
        error: { code: "FILE_POLICY_DENIED", hint: expect.stringContaining("allowWritePaths") },
      });
      expect(report.via).toBe("memory_file");
    });
  });

  it("probe: passes on the live node; after the node host stops, the probe fails NODE_OFFLINE and the next message skips nodes", async () => {
    await withMessenger(configFor(), async (client) => {
      expect(await client.probe("xiaom", { transports: ["nodes"] })).toEqual([expect.objectContaining({ transport: "nodes", ok: true })]);
      await node.stop();
      try {
        expect(await client.probe("xiaom", { transports: ["nodes"] })).toEqual([
          expect.objectContaining({ ok: false, error: expect.objectContaining({ code: "NODE_OFFLINE" }) }),
        ]);
        const report = await client.send({ to: "xiaom", body: "while offline" });
        expect(report.attempts[0]).toMatchObject({ transport: "nodes", outcome: "skipped", skippedBecause: expect.stringContaining("NODE_OFFLINE") });
        expect(report.via).toBe("memory_file");
      } finally {
        await node.start();
      }
    });
  });
});

describe("sync to the remote machine", () => {
  let gitServer: TestGitServer;
  beforeAll(async () => {
    gitServer = await startGitServer(join(scratch, "git"));
  });
  afterAll(async () => {
    await gitServer?.close();
  });

  it("checks each commit out into its own directory over HTTP with the node host's dead proxy unset, and moves the readlink-checked link", async () => {
    const first = await gitServer.commit({ "README.md": "v1\n" }, "v1");
    const releases = join(scratch, "releases");
    const link = join(scratch, "current");
    await withMessenger(configFor(), async (client) => {
      const v1 = await client.sync.repo({ to: "xiaom", repo: gitServer.url, dir: releases, link, expect: ["README.md"] });
      expect(v1, JSON.stringify(v1.steps)).toMatchObject({
        ok: true,
        action: "cloned",
        commit: first,
        dir: join(releases, first),
        link: { path: link, target: join(releases, first) },
      });
      expect(await readlink(link)).toBe(join(releases, first));
      const again = await client.sync.repo({ to: "xiaom", repo: gitServer.url, dir: releases, link });
      expect(again).toMatchObject({ ok: true, action: "unchanged", commit: first });

      const second = await gitServer.commit({ "README.md": "v2\n" }, "v2");
      const v2 = await client.sync.repo({ to: "xiaom", repo: gitServer.url, dir: releases, link, expect: ["README.md"] });
      expect(v2).toMatchObject({ ok: true, action: "cloned", commit: second, link: { previous: join(releases, first), target: join(releases, second) } });
      expect(await readFile(join(link, "README.md"), "utf8")).toBe("v2\n");
      expect(await readFile(join(releases, first, "README.md"), "utf8")).toBe("v1\n");
    });
  });

  it("a checkout that fails verification leaves the old link in place", async () => {
    const link = join(scratch, "current");
    const before = await readlink(link);
    await gitServer.commit({ "other.txt": "no package.json here\n" }, "v3");
    await withMessenger(configFor(), async (client) => {
      const result = await client.sync.repo({ to: "xiaom", repo: gitServer.url, dir: join(scratch, "releases"), link, expect: ["package.json"] });
      expect(result).toMatchObject({ ok: false, error: expect.stringContaining("lacks package.json") });
    });
    expect(await readlink(link)).toBe(before);
  });

  it("the proxy is what would break it: the same git over the kept proxy fails", async () => {
    await withMessenger(configFor(), async (client) => {
      const viaProxy = await client.exec({ to: "xiaom", argv: ["git", "ls-remote", gitServer.url], keepProxy: true, env: { GIT_TERMINAL_PROMPT: "0" } });
      expect(viaProxy.ok).toBe(false);
      expect(viaProxy.stderr).toMatch(/127\.0\.0\.1 port 9|proxy|Failed to connect/iu);
      expect((await client.exec({ to: "xiaom", argv: ["git", "ls-remote", gitServer.url] })).ok).toBe(true);
    });
  });

  it("a real directory where the link should be: the readlink check catches it and nothing is reported linked", async () => {
    const dir = join(scratch, "releases-2");
    const link = join(scratch, "links", "current");
    await mkdir(link, { recursive: true });
    await writeFile(join(link, "keep.txt"), "mine");
    await withMessenger(configFor(), async (client) => {
      const result = await client.sync.repo({ to: "xiaom", repo: gitServer.url, dir, link });
      expect(result).toMatchObject({ ok: false, link: { path: link, target: "" } });
      expect(result.error).toMatch(/points at nothing/u);
      expect(await readFile(join(link, "keep.txt"), "utf8")).toBe("mine");
    });
  });

  it("refuses SSH and credential-bearing URLs before anything runs", async () => {
    await withMessenger(configFor(), async (client) => {
      await expect(client.sync.repo({ to: "xiaom", repo: "git@github.com:me/app.git", dir: "/srv/app" })).rejects.toThrow(/HTTPS URL/u);
      await expect(client.sync.repo({ to: "xiaom", repo: "https://me:secret@example.com/app.git", dir: "/srv/app" })).rejects.toThrow(/credentials/u);
      await expect(client.sync.repo({ to: "xiaom", repo: gitServer.url, dir: "relative" })).rejects.toBeInstanceOf(ValidationError);
    });
  });

  it("copies files through file.write, each checked by SHA-256", async () => {
    const local = join(scratch, "local.bin");
    const bytes = Buffer.from([0, 1, 2, 255, 10, 13, 36, 40]);
    await writeFile(local, bytes);
    await withMessenger(configFor(), async (client) => {
      const result = await client.sync.files({ to: "xiaom", files: [{ from: local, to: join(scratch, "synced", "deep", "copy.bin") }] });
      expect(result.files[0]).toMatchObject({ size: bytes.length });
      expect(await readFile(join(scratch, "synced", "deep", "copy.bin"))).toEqual(bytes);
    });
  });
});

describe("exec and sync from the CLI and the agent tools", () => {
  const bin = join(fileURLToPath(import.meta.url), "..", "..", "..", "dist", "cli", "bin.js");
  let configPath: string;
  beforeAll(async () => {
    configPath = join(scratch, "inter-instance.json");
    await writeFile(configPath, JSON.stringify(configFor()));
  });
  const cli = async (args: string[]) => {
    const result = await execa(process.execPath, [bin, "--config", configPath, ...args], { reject: false, stdin: "ignore" });
    watchOutput(`${result.stdout}\n${result.stderr}`);
    return result;
  };

  it("exec: the program's output, and the exit code says whether it succeeded", async () => {
    const good = await cli(["exec", "小m", "--", "printf", "%s", "$(touch nothing)"]);
    expect(good).toMatchObject({ exitCode: 0 });
    expect(good.stdout).toContain("$(touch nothing)");
    const bad = await cli(["--json", "exec", "xiaom", "--", "sh", "-c", "exit 4"]);
    expect(bad.exitCode).toBe(1);
    expect(JSON.parse(bad.stdout)).toMatchObject({ exitCode: 4, ok: false });
    expect((await cli(["exec", "--cwd", "relative", "xiaom", "true"])).exitCode).toBe(2);
  });

  it("exec: every word after the program's name reaches it as written, with or without --, even where it matches our own options", async () => {
    const file = join(scratch, "grep-me.txt");
    await writeFile(file, "foo\nbar\n");
    const json = async (args: string[]) => {
      const result = await cli(["--json", ...args]);
      return { exitCode: result.exitCode, ...(JSON.parse(result.stdout) as { argv: string[]; stdout: string }) };
    };
    expect(await json(["exec", "xiaom", "grep", "-v", "foo", file])).toMatchObject({ exitCode: 0, argv: ["grep", "-v", "foo", file], stdout: "bar\n" });
    const flags = ["-v", "hello", "-e", "X=1", "--json", "-c", "conf", "-t", "2", "--cwd", "/", "--keep-proxy", "--timeout", "1", "--"];
    for (const separator of [[], ["--"]]) {
      expect(await json(["exec", "xiaom", ...separator, "printf", "%s|", ...flags])).toMatchObject({ exitCode: 0, stdout: `${flags.join("|")}|` });
    }
    const echoed = await cli(["--json", "exec", "-t", "20", "xiaom", "echo", "-v", "hello"]);
    expect(JSON.parse(echoed.stdout)).toMatchObject({ ok: true, stdout: "-v hello\n" });
    const misplaced = await cli(["exec", "xiaom", "--cwd", "/tmp", "ls"]);
    expect(misplaced.exitCode).toBe(2);
    expect(misplaced.stderr).toMatch(/before the instance name/u);
  });

  it("say: a Chinese exec phrase runs on the node", async () => {
    const result = await cli(["--json", "say", "在小m上执行：echo", "跨机器 ok"]);
    expect(result.exitCode, result.stderr).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ action: "exec", result: { stdout: "跨机器 ok\n" } });
  });

  it("sync files from the CLI; the tools validate their arguments and run the same code", async () => {
    const local = join(scratch, "cli-local.txt");
    await writeFile(local, "from the cli\n");
    const remote = join(scratch, "synced", "cli", "copy.txt");
    expect((await cli(["sync", "files", "xiaom", local, remote])).exitCode).toBe(0);
    expect(await readFile(remote, "utf8")).toBe("from the cli\n");

    const link = createMessenger({ config: configFor(), log: testLog() });
    try {
      const ran = await instanceExec(async () => link, { to: "小m", argv: ["echo", "tool"] });
      expect(ran.details).toMatchObject({ ok: true, stdout: "tool\n" });
      expect((await instanceExec(async () => link, { to: "xiaom", argv: "echo tool" })).details).toMatchObject({ ok: false });
      expect((await instanceSync(async () => link, { to: "xiaom", repo: "https://example.com/x.git" })).content[0]?.text).toMatch(/repo needs dir/u);
    } finally {
      await link.close();
    }
  });
});

describe("doctor: the troubleshooting checklist", () => {
  it("on a healthy setup every check passes, except the proxy the node host deliberately has", async () => {
    const checkout = join(scratch, "doctor-checkout");
    execFileSync("git", ["init", "--quiet", checkout]);
    execFileSync("git", ["-C", checkout, "remote", "add", "origin", "https://example.com/team/app.git"]);
    const link = join(scratch, "doctor-link");
    await symlink(checkout, link);
    const config = configFor();
    config.instances.xiaom = {
      ...config.instances.xiaom,
      gateway: { url: gatewayA.url, token: gatewayA.token },
      transports: ["sessions_send", "nodes", "memory_file"],
      doctor: { repos: [checkout], links: [link] },
    };
    await withMessenger(config, async (client) => {
      const report = await client.doctor();
      expect(report.checks.filter((check) => check.status === "fail")).toEqual([]);
      expect(report.ok).toBe(true);
      expect(Object.fromEntries(report.checks.map((check) => [check.check, check.status]))).toMatchObject({
        "transport:sessions_send": "pass",
        "transport:nodes": "pass",
        "transport:memory_file": "pass",
        "rpc-scope": "pass",
        node: "pass",
        proxy: "warn",
        "git-remote": "pass",
        symlink: "pass",
      });
      expect(report.checks.find((check) => check.check === "proxy")?.fix).toMatch(/NO_PROXY/u);
    });
  });

  it("on broken setups each check fails with its fix", async () => {
    const sshCheckout = join(scratch, "doctor-ssh");
    execFileSync("git", ["init", "--quiet", sshCheckout]);
    execFileSync("git", ["-C", sshCheckout, "remote", "add", "origin", "git@github.com:team/app.git"]);
    const dangling = join(scratch, "doctor-dangling");
    await symlink(join(scratch, "no-such-release"), dangling);
    const blocked = join(scratch, "blocked-workspace");
    await mkdir(blocked, { recursive: true });
    await writeFile(join(blocked, "memory"), "a file where the memory directory should be");
    const config = configFor();
    config.instances.xiaom = {
      ...config.instances.xiaom,
      gateway: { url: gatewayA.url, token: "wrong-token" },
      workspace: blocked,
      transports: ["sessions_send", "nodes", "agent_cli", "memory_file"],
      timeouts: { agent_cli: 5_000 },
      doctor: { repos: [sshCheckout], links: [dangling] },
    };
    await withMessenger(config, async (client) => {
      const report = await client.doctor();
      expect(report.ok).toBe(false);
      const byCheck = new Map(report.checks.map((check) => [check.check, check]));
      expect(byCheck.get("transport:sessions_send")).toMatchObject({ status: "fail", fix: expect.stringMatching(/token/iu) });
      expect(byCheck.get("transport:memory_file")).toMatchObject({ status: "fail", fix: expect.stringContaining("memory") });
      expect(byCheck.get("git-remote")).toMatchObject({ status: "fail", fix: `git -C ${sshCheckout} remote set-url origin https://github.com/team/app.git` });
      expect(byCheck.get("symlink")).toMatchObject({ status: "fail", fix: expect.stringContaining("ln -sfn") });
      expect(byCheck.get("timeout:agent_cli")).toMatchObject({ status: "fail", fix: expect.stringContaining("timeouts.agent_cli") });

      await node.stop();
      try {
        const offline = await client.doctor();
        expect(offline.checks.find((check) => check.check === "node")).toMatchObject({ status: "fail", fix: expect.stringContaining("node run") });
      } finally {
        await node.start();
      }
    });
  });
});
