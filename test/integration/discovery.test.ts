import type { ChildProcess } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ConfigInput, DiscoveredGateway, DiscoveryResult } from "../../src/index.js";
import type { TestGateway } from "../harness/gateway.js";
import { type Host, hostsOrSkip } from "../harness/netns.js";
import { type GatewayOnHost, startGatewayOnHost } from "../harness/remote-gateway.js";
import { watchOutput } from "../harness/secrets-watch.js";

// Three machines on one LAN segment (a bridge with real multicast, test/harness/netns.ts `lan`):
// Xiaom's Gateway on host b announces itself with OpenClaw's bundled bonjour plugin (ciao), the
// CLI browses from host a, and host c is a rogue that announces the same display name with another
// fingerprint (bonjour-service). Traffic stays in the namespaces made here and on our own veths.
const run = await hostsOrSkip("discovery.test.ts");
const bin = join(fileURLToPath(import.meta.url), "..", "..", "..", "dist", "cli", "bin.js");
const bonjourService = createRequire(import.meta.url).resolve("bonjour-service");
const ROGUE_FINGERPRINT = "6b".repeat(32);
const ROGUE_COLON = ROGUE_FINGERPRINT.toUpperCase().match(/../gu)!.join(":");

let remote: GatewayOnHost;
let a: Host;
let b: Host;
let c: Host;
let gatewayB: TestGateway;
let scratch: string;
let configPath: string;
let rogue: ChildProcess | undefined;

beforeAll(async () => {
  if (!run) return;
  scratch = await mkdtemp(join(tmpdir(), "oii-discovery-"));
  configPath = join(scratch, "a-config.json");
  remote = await startGatewayOnHost({
    name: "xiaom-lan",
    hostNames: ["a", "b", "c"],
    on: "b",
    hostsOptions: { lan: true },
    gateway: {
      bind: "lan",
      tls: true,
      extraConfig: { plugins: { entries: { bonjour: { enabled: true } } } },
      // The advertiser turns itself off in a container (this machine may be one: /.dockerenv) unless told.
      beforeStart: async ({ env }) => {
        env.OPENCLAW_DISABLE_BONJOUR = "0";
      },
    },
  });
  ({ host: b, gateway: gatewayB } = remote);
  a = remote.hosts.get("a");
  c = remote.hosts.get("c");
}, 240_000);

afterAll(async () => {
  rogue?.kill("SIGKILL");
  await remote?.dispose();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

function onA(args: readonly string[], timeoutMs = 60_000) {
  const env = { OPENCLAW_INTER_INSTANCE_CONFIG: configPath, OPENCLAW_INTER_INSTANCE_HOME: join(scratch, "a-state"), HOME: join(scratch, "a-home") };
  return a.exec(process.execPath, [bin, ...args], { env: { ...process.env, ...env }, timeoutMs }).then((result) => {
    watchOutput(`${result.stdout}\n${result.stderr}`);
    return result;
  });
}

async function discover(): Promise<DiscoveryResult & { stderr: string }> {
  const result = await onA(["discover", "--json", "--timeout", "3s"]);
  expect(result.exitCode, result.stderr).toBe(0);
  return { ...(JSON.parse(result.stdout) as DiscoveryResult), stderr: result.stderr };
}

const isB = (gateway: DiscoveredGateway) => gateway.address === b.lanAddress && gateway.port === gatewayB.port;

/** Polls until B's beacon is heard (ciao probes for a few seconds before it announces). */
async function discoverB(): Promise<DiscoveredGateway> {
  let last: DiscoveryResult | undefined;
  const deadline = Date.now() + 60_000;
  while (Date.now() < deadline) {
    last = await discover();
    const found = last.gateways.find(isB);
    if (found) return found;
  }
  const log = await readFile(gatewayB.logFile, "utf8").catch(() => "");
  throw new Error(
    `B's beacon was not heard; last: ${JSON.stringify(last)}; bonjour log lines:\n${log
      .split("\n")
      .filter((l) => /bonjour/iu.test(l))
      .join("\n")}`,
  );
}

describe.skipIf(!run)("discover: OpenClaw's own beacon across a LAN", () => {
  it("lists B with its LAN address (from the SRV/A records), its port, TLS and its real certificate's fingerprint", async () => {
    await writeFile(configPath, JSON.stringify({ self: { name: "xiaoa" }, instances: {} }));
    const found = await discoverB();
    expect(found).toMatchObject({ address: b.lanAddress, port: gatewayB.port, tls: true, fingerprint: gatewayB.tlsFingerprint, duplicateName: false });
    expect(found.configured).toBeUndefined();
    const text = await onA(["discover", "--timeout", "3s"]);
    expect(text.stdout).toContain(
      `"${found.displayName}" at wss://${b.lanAddress}:${gatewayB.port} (found on the LAN); TLS, advertised fingerprint ${gatewayB.tlsFingerprint}; not configured here.`,
    );
    expect(text.stdout).toMatch(/Beacons are unauthenticated: nothing here is pinned/u);
    // Browsing on a chosen interface (here the LAN's, by its address) finds it as well.
    const onLan = await onA(["discover", "--json", "--interface", a.lanAddress!, "--timeout", "3s"]);
    expect((JSON.parse(onLan.stdout) as DiscoveryResult).gateways.find(isB), onLan.stderr).toMatchObject({ fingerprint: gatewayB.tlsFingerprint });
  }, 120_000);

  it("add --discovered without the person's confirmation: refused, the fingerprint shown to compare, nothing written", async () => {
    const found = await discoverB();
    const refused = await onA(["add", "xiaom", "--discovered", found.displayName, "--timeout", "3s"]);
    expect(refused.exitCode, refused.stdout).toBe(2);
    expect(refused.stderr).toContain(gatewayB.tlsFingerprint);
    expect(refused.stderr).toMatch(/Not added: the fingerprint was not confirmed/u);
    expect(JSON.parse(await readFile(configPath, "utf8"))).toEqual({ self: { name: "xiaoa" }, instances: {} });
  }, 120_000);

  it("a rogue beacon with the same name and another fingerprint: listed as a duplicate, loudly; add refuses without an explicit choice", async () => {
    const found = await discoverB();
    rogue = c.spawn(
      process.execPath,
      [
        "-e",
        `const { Bonjour } = require(process.argv[1]);
         const bonjour = new Bonjour({}, (error) => console.error(String(error)));
         bonjour.publish({ name: process.argv[2] + " (OpenClaw) (2)", type: "openclaw-gw", port: Number(process.argv[3]), host: "rogue.local",
           txt: { role: "gateway", displayName: process.argv[2], gatewayPort: process.argv[3], transport: "gateway", gatewayTls: "1", gatewayTlsSha256: process.argv[4] } });`,
        bonjourService,
        found.displayName,
        String(gatewayB.port),
        ROGUE_FINGERPRINT,
      ],
      { stdio: ["ignore", "ignore", "inherit"] },
    );
    let result: (DiscoveryResult & { stderr: string }) | undefined;
    await expect
      .poll(async () => (result = await discover()).gateways.filter((g) => g.displayName === found.displayName).length, { timeout: 60_000, interval: 500 })
      .toBe(2);
    const theRogue = result!.gateways.find((g) => g.fingerprint === ROGUE_COLON)!;
    expect(theRogue.address).toBe(c.lanAddress);
    expect(result!.gateways.find(isB)).toMatchObject({ fingerprint: gatewayB.tlsFingerprint, duplicateName: true });
    expect(theRogue.duplicateName).toBe(true);
    expect(result!.stderr).toMatch(new RegExp(`WARNING: 2 beacons call themselves "${found.displayName}"`, "u"));

    const refused = await onA(["add", "xiaom", "--discovered", found.displayName, "--timeout", "3s"]);
    expect(refused.exitCode, refused.stdout).toBe(2);
    expect(refused.stderr).toMatch(/2 beacons call themselves .*At most one of them is that machine\. Nothing was added.*--tls-fingerprint/u);
    expect(refused.stderr).toContain(ROGUE_COLON);
    expect(JSON.parse(await readFile(configPath, "utf8")).instances).toEqual({});
  }, 180_000);

  it("the person's fingerprint picks B: its LAN URL and that pin are stored; the rogue's then refuses against the stored pin", async () => {
    const found = await discoverB();
    const added = await onA(["add", "xiaom", "--discovered", found.displayName, "--tls-fingerprint", gatewayB.tlsFingerprint!, "--timeout", "3s"], 120_000);
    expect(added.stdout).toMatch(/Added xiaom \(wss:\/\/.*\) from the beacon .*, pinned to the fingerprint you gave\./u);
    const config = JSON.parse(await readFile(configPath, "utf8")) as ConfigInput;
    expect(config.instances.xiaom?.gateway).toEqual({ url: `wss://${b.lanAddress}:${gatewayB.port}`, tlsFingerprint: gatewayB.tlsFingerprint });

    const listed = await discover();
    expect(listed.gateways.find(isB)?.configured).toEqual({ instance: "xiaom", pin: "match" });

    const refused = await onA(["add", "xiaom", "--discovered", found.displayName, "--tls-fingerprint", ROGUE_FINGERPRINT, "--timeout", "3s"]);
    expect(refused.exitCode, refused.stdout).toBe(2);
    expect(refused.stderr).toMatch(/WARNING: .*xiaom is pinned to .*the stored pin stays and nothing was changed/u);
    expect((JSON.parse(await readFile(configPath, "utf8")) as ConfigInput).instances.xiaom?.gateway).toEqual(config.instances.xiaom?.gateway);
  }, 180_000);
});
