import { mkdir, mkdtemp, readFile, readlink, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ConfigInput, Messenger } from "../../src/index.js";
import { incomingDir } from "../../src/transports.js";
import { approvedMessenger } from "../harness/approval.js";
import { startGateway, type TestGateway } from "../harness/gateway.js";
import { startGitServer, type TestGitServer } from "../harness/git-server.js";
import { type MockModelServer, startMockModel } from "../harness/mock-model.js";
import { createHosts, type Host, type Hosts, hostsOrSkip } from "../harness/netns.js";
import { allowNodeFileWrites, startNodeHost, type TestNodeHost } from "../harness/node-host.js";
import { openclawOnHost, readUserTexts } from "../harness/oracle.js";
import { watchOutput } from "../harness/secrets-watch.js";

// The seed's topology across a real link: Xiaom's machine (host b) runs a node host that dials out
// to Xiaoa's Gateway (host a) over wss:// pinned to its certificate; Xiaom's own Gateway is bound to
// its loopback only, as on a home machine with no open port. A git server sits on a third host.
const run = await hostsOrSkip("nodes-across.test.ts");
const bin = join(fileURLToPath(import.meta.url), "..", "..", "..", "dist", "cli", "bin.js");

let hosts: Hosts;
let a: Host;
let b: Host;
let g: Host;
let mockA: MockModelServer;
let mockB: MockModelServer;
let gatewayA: TestGateway;
let gatewayB: TestGateway;
let node: TestNodeHost;
let git: TestGitServer;
let scratch: string;
let xiaomWorkspace: string;

beforeAll(async () => {
  if (!run) return;
  scratch = await mkdtemp(join(tmpdir(), "oii-across-"));
  xiaomWorkspace = join(scratch, "xiaom-workspace");
  await mkdir(xiaomWorkspace, { recursive: true });
  hosts = await createHosts(["a", "b", "g"]);
  [a, b, g] = [hosts.get("a"), hosts.get("b"), hosts.get("g")];
  [mockA, mockB] = await Promise.all([startMockModel({ address: a.gatewayAddress }), startMockModel({ address: b.gatewayAddress })]);
  [gatewayA, gatewayB] = await Promise.all([
    startGateway({
      modelBaseUrl: mockA.url,
      name: "xiaoa-across",
      host: a,
      bind: "lan",
      tls: true,
      beforeStart: ({ stateDir }) => allowNodeFileWrites(stateDir, [`${xiaomWorkspace}/.openclaw-inter-instance/**`, `${scratch}/synced/**`]),
    }),
    startGateway({ modelBaseUrl: mockB.url, name: "xiaom-home", host: b, bind: "loopback" }),
  ]);
  git = await startGitServer(join(scratch, "git"), { host: g });
  node = await startNodeHost(gatewayA, { displayName: "xiaom-mac", host: b });
  // Xiaom's machine trusts the git server's private CA the way a person sets that up: in its git config.
  await writeFile(join(node.homeDir, ".gitconfig"), `[http]\n\tsslCAInfo = ${git.caFile}\n`);
}, 300_000);

afterAll(async () => {
  await node?.dispose();
  await git?.close();
  await Promise.all([gatewayA?.dispose(), gatewayB?.dispose()]);
  await Promise.all([mockA?.close(), mockB?.close()]);
  await hosts?.dispose();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

/** This side's client of Gateway A (another machine on the link): its device approved on A once. */
function xiaoaClient(transports: ConfigInput["instances"][string]["transports"] = ["nodes"]): Promise<Messenger> {
  const config: ConfigInput = {
    self: { name: "xiaoa" },
    stateDir: join(scratch, "client"),
    instances: {
      xiaom: {
        aliases: ["小m"],
        // Xiaom's own Gateway: only on its loopback, so not reachable from here.
        gateway: { url: `ws://${b.address}:${gatewayB.port}`, token: gatewayB.token },
        node: { gateway: { url: gatewayA.url, token: gatewayA.token, tlsFingerprint: gatewayA.tlsFingerprint }, name: "xiaom-mac", workspace: xiaomWorkspace },
        workspace: xiaomWorkspace,
        transports,
        timeouts: { sessions_send: 5_000 },
      },
    },
  };
  return approvedMessenger(config, { host: a, gateway: gatewayA }, "nodes");
}

describe.skipIf(!run)("nodes across the link", () => {
  it("exec runs on Xiaom's machine (its own address answers), argv as written", async () => {
    const link = await xiaoaClient();
    try {
      const result = await link.exec({ to: "小m", argv: ["sh", "-c", 'ip -4 -o addr show eth0; printf "%s|" "$@"', "sh", "-v", "$(touch no)"] });
      expect(result, JSON.stringify(result)).toMatchObject({ ok: true, exitCode: 0 });
      expect(result.stdout).toContain(`inet ${b.address}/`);
      expect(result.stdout).toContain("-v|$(touch no)|");
    } finally {
      await link.close();
    }
  });

  it("sync files writes there through the node, SHA-256 checked", async () => {
    const local = join(scratch, "notes.md");
    await writeFile(local, "跨机器同步\n");
    const link = await xiaoaClient();
    try {
      const remote = join(scratch, "synced", "notes.md");
      const result = await link.sync.files({ to: "xiaom", files: [{ from: local, to: remote }] });
      expect(result.files[0]).toMatchObject({ to: remote });
      expect(await readFile(remote, "utf8")).toBe("跨机器同步\n");
    } finally {
      await link.close();
    }
  });

  it("sync repo clones from a git server on a third host over https and moves the readlink-checked link", async () => {
    const commit = await git.commit({ "package.json": '{"name":"app"}\n' }, "v1");
    const link = await xiaoaClient();
    try {
      const releases = join(scratch, "releases");
      const current = join(scratch, "current");
      const result = await link.sync.repo({ to: "xiaom", repo: git.url, dir: releases, link: current, expect: ["package.json"] });
      expect(result, JSON.stringify(result)).toMatchObject({ ok: true, commit });
      expect(await readlink(current)).toBe(join(releases, commit));
    } finally {
      await link.close();
    }
  });

  it("the nodes transport delivers a message into Xiaom's workspace across the link", async () => {
    const link = await xiaoaClient();
    try {
      const report = await link.send({ to: "xiaom", body: "经由节点送达" });
      expect(report).toMatchObject({ ok: true, via: "nodes" });
      const dropped = JSON.parse(await readFile(join(incomingDir(xiaomWorkspace), `${report.id}.json`), "utf8")) as { body: string };
      expect(dropped.body).toBe("经由节点送达");
    } finally {
      await link.close();
    }
  });
});

describe.skipIf(!run)("one-way reachability: a home machine with no open port", () => {
  it("doctor on A: Xiaom's Gateway cannot be reached, the node path works, and which order fits", async () => {
    const link = await xiaoaClient(["sessions_send", "nodes"]);
    try {
      const report = await link.doctor({ instance: "xiaom" });
      expect(report.checks.find((c) => c.check === "transport:sessions_send")).toMatchObject({ status: "fail" });
      expect(report.checks.find((c) => c.check === "transport:nodes")).toMatchObject({ status: "pass" });
      const route = report.checks.find((c) => c.check === "route");
      expect(route).toMatchObject({ status: "warn", summary: expect.stringMatching(/sessions_send cannot reach xiaom .*but nodes works/u) });
      expect(route?.fix).toContain('["nodes","sessions_send"]');
      // And a message goes by the node all the same.
      expect(await link.send({ to: "xiaom", body: "A to B by the node" })).toMatchObject({ ok: true, via: "nodes" });
    } finally {
      await link.close();
    }
  });

  it("B to A by sessions_send to A's address, from the CLI on B's machine", async () => {
    const configPath = join(scratch, "b-config.json");
    const env = { ...process.env, OPENCLAW_INTER_INSTANCE_CONFIG: configPath, OPENCLAW_INTER_INSTANCE_HOME: join(scratch, "b-state"), A_TOKEN: gatewayA.token };
    const onB = (args: string[]) => b.exec(process.execPath, [bin, ...args], { env, timeoutMs: 60_000 });
    expect((await onB(["init", "--name", "xiaom"])).exitCode).toBe(0);
    const added = await onB(["add", "xiaoa", "--url", gatewayA.url, "--token-env", "A_TOKEN", "--tls-fingerprint", gatewayA.tlsFingerprint!]);
    watchOutput(`${added.stdout}\n${added.stderr}`);
    const requestId = /openclaw devices approve (\S+?)`/u.exec(added.stdout)?.[1];
    expect(requestId, added.stdout).toBeTruthy();
    expect((await openclawOnHost(a, gatewayA, ["devices", "approve", requestId!, "--json"])).code).toBe(0);
    const marker = `from the home machine ${Date.now()}`;
    const sent = await onB(["send", "xiaoa", marker]);
    watchOutput(`${sent.stdout}\n${sent.stderr}`);
    expect(sent.exitCode, sent.stderr).toBe(0);
    await expect.poll(async () => (await readUserTexts(gatewayA)).filter((text) => text.includes(marker)).length, { timeout: 30_000 }).toBe(1);
  }, 120_000);
});
