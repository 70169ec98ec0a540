import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DiscoveredGateway, DiscoveryResult } from "../../src/index.js";
import { startGateway, type TestGateway } from "../harness/gateway.js";
import { type MockModelServer, startMockModel } from "../harness/mock-model.js";
import { createHosts, type Host, type Hosts, hostsOrSkip } from "../harness/netns.js";
import { nsdOrSkip, startNsd, type TestNsd } from "../harness/nsd.js";
import { watchOutput } from "../harness/secrets-watch.js";

// Wide-area DNS-SD as OpenClaw publishes it: Xiaom's Gateway on host b has discovery.wideArea.domain
// set and a tailnet-like address (100.64/10), so it writes its own zone file (<state>/dns/<domain>.db);
// NSD, an authoritative DNS server, serves that very file on b's address inside b's namespace, and
// the CLI on host a asks it (PTR → SRV → TXT → A). A second zone, written here, holds hostile
// records. No multicast (--no-lan / discovery.lan false); all traffic stays in the namespaces made here.
const FILE = "discovery-wide-area.test.ts";
const run = (await hostsOrSkip(FILE)) && (await nsdOrSkip(FILE));
const bin = join(fileURLToPath(import.meta.url), "..", "..", "..", "dist", "cli", "bin.js");
const DOMAIN = "openclaw.internal";
const HOSTILE = "hostile.internal";
const OTHER_PIN = "cd".repeat(32);
const ROGUE_FINGERPRINT = "6b".repeat(32);
const colon = (hex: string) => hex.toUpperCase().match(/../gu)!.join(":");

let hosts: Hosts;
let a: Host;
let b: Host;
let mock: MockModelServer;
let gateway: TestGateway;
let nsd: TestNsd;
let scratch: string;
let configPath: string;
let tailnetAddress: string;
let zoneText: string;
let displayName: string;

/** Hostile records, in the zone-file syntax OpenClaw's own zone uses. */
function hostileZone(): string {
  const long = "x".repeat(200);
  return [
    `$ORIGIN ${HOSTILE}.`,
    "$TTL 60",
    "@ IN SOA ns1 hostmaster 1 7200 3600 1209600 60",
    "@ IN NS ns1",
    `ns1 IN A ${b.address}`,
    "h IN A 198.18.250.9",
    "_openclaw-gw._tcp IN PTR bad._openclaw-gw._tcp",
    "_openclaw-gw._tcp IN PTR twice._openclaw-gw._tcp",
    "_openclaw-gw._tcp IN PTR noport._openclaw-gw._tcp",
    "_openclaw-gw._tcp IN PTR huge._openclaw-gw._tcp",
    "_openclaw-gw._tcp IN PTR away._openclaw-gw._tcp.example.com.",
    "_openclaw-gw._tcp IN PTR rogue._openclaw-gw._tcp",
    "bad._openclaw-gw._tcp IN SRV 0 0 18789 h",
    // An escape sequence (ESC [31m) in the name and a fingerprint that is none.
    'bad._openclaw-gw._tcp IN TXT "displayName=evil\\027[31m" "gatewayTls=1" "gatewayTlsSha256=zz"',
    "twice._openclaw-gw._tcp IN SRV 0 0 18789 h",
    `twice._openclaw-gw._tcp IN TXT "displayName=one" "gatewayTlsSha256=${"ab".repeat(32)}"`,
    `twice._openclaw-gw._tcp IN TXT "displayName=two" "gatewayTlsSha256=${"ef".repeat(32)}"`,
    "noport._openclaw-gw._tcp IN SRV 0 0 0 h",
    'noport._openclaw-gw._tcp IN TXT "displayName=noport"',
    "huge._openclaw-gw._tcp IN SRV 0 0 18789 h",
    `huge._openclaw-gw._tcp IN TXT "displayName=${long}"`,
    // Someone else's zone claims B's name with another certificate.
    "rogue._openclaw-gw._tcp IN SRV 0 0 18789 h",
    `rogue._openclaw-gw._tcp IN TXT "displayName=${displayName}" "gatewayTls=1" "gatewayTlsSha256=${ROGUE_FINGERPRINT}"`,
    "",
  ].join("\n");
}

beforeAll(async () => {
  if (!run) return;
  scratch = await mkdtemp(join(tmpdir(), "oii-wide-area-"));
  configPath = join(scratch, "a-config.json");
  hosts = await createHosts(["a", "b"]);
  a = hosts.get("a");
  b = hosts.get("b");
  // OpenClaw writes its zone only when the machine has a tailnet (Tailscale CGNAT) address.
  tailnetAddress = `100.64.${hosts.secondOctet}.${b.index}`;
  const added = await b.exec("ip", ["addr", "add", `${tailnetAddress}/32`, "dev", b.vethHost]);
  expect(added.exitCode, added.stderr).toBe(0);
  mock = await startMockModel({ address: b.gatewayAddress });
  gateway = await startGateway({
    modelBaseUrl: mock.url,
    name: "xiaom-wide",
    host: b,
    bind: "lan",
    tls: true,
    extraConfig: { discovery: { wideArea: { domain: DOMAIN } } },
  });
  const zoneFile = join(gateway.stateDir, "dns", `${DOMAIN}.db`);
  const deadline = Date.now() + 60_000;
  // Written at start, and again once the TLS fingerprint is known: NSD reads it once, so wait for the full one.
  while (!(existsSync(zoneFile) && (await readFile(zoneFile, "utf8")).includes("gatewayTlsSha256="))) {
    if (Date.now() > deadline) throw new Error(`the Gateway wrote no ${zoneFile}; its log:\n${await readFile(gateway.logFile, "utf8").catch(() => "")}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  zoneText = await readFile(zoneFile, "utf8");
  displayName = /"displayName=([^"]+)"/u.exec(zoneText)![1]!;
  const hostileFile = join(scratch, `${HOSTILE}.db`);
  await writeFile(hostileFile, hostileZone());
  nsd = await startNsd({
    host: b,
    address: b.address,
    port: 53,
    zones: [
      { name: DOMAIN, file: zoneFile },
      { name: HOSTILE, file: hostileFile },
    ],
  });
}, 240_000);

afterAll(async () => {
  await nsd?.dispose();
  await gateway?.dispose();
  await mock?.close();
  await hosts?.dispose();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

function onA(args: readonly string[]) {
  const env = { OPENCLAW_INTER_INSTANCE_CONFIG: configPath, OPENCLAW_INTER_INSTANCE_HOME: join(scratch, "a-state"), HOME: join(scratch, "a-home") };
  return a.exec(process.execPath, [bin, ...args], { env: { ...process.env, ...env }, timeoutMs: 60_000 }).then((result) => {
    watchOutput(`${result.stdout}\n${result.stderr}`);
    return result;
  });
}

async function discover(args: readonly string[]): Promise<DiscoveryResult & { stderr: string; text: string }> {
  const result = await onA(["discover", "--json", "--timeout", "3s", ...args]);
  expect(result.exitCode, result.stderr).toBe(0);
  const text = await onA(["discover", "--timeout", "3s", ...args]);
  return { ...(JSON.parse(result.stdout) as DiscoveryResult), stderr: result.stderr, text: text.stdout };
}

const isB = (found: DiscoveredGateway) => found.address === tailnetAddress && found.port === gateway.port;

describe.skipIf(!run)("discover: OpenClaw's wide-area DNS-SD beacon, from a real DNS server", () => {
  it("lists B from the zone OpenClaw wrote: its tailnet address, port, TLS and its certificate's fingerprint, found in the domain", async () => {
    // The file is OpenClaw's own, served as it is.
    expect(zoneText).toMatch(/^; openclaw-content-hash: /u);
    expect(zoneText).toContain(`$ORIGIN ${DOMAIN}.`);
    expect(zoneText).toMatch(/^_openclaw-gw\._tcp IN PTR \S+\._openclaw-gw\._tcp$/mu);
    await writeFile(configPath, JSON.stringify({ self: { name: "xiaoa" }, instances: {} }));
    const result = await discover(["--no-lan", "--domain", DOMAIN, "--dns-server", nsd.server]);
    expect(result.sources).toEqual([DOMAIN]);
    expect(result.failed).toEqual([]);
    const found = result.gateways.find(isB);
    expect(found, JSON.stringify(result)).toMatchObject({ displayName, source: DOMAIN, tls: true, fingerprint: gateway.tlsFingerprint, duplicateName: false });
    expect(found!.configured).toBeUndefined();
    expect(result.text).toContain(
      `"${displayName}" at wss://${tailnetAddress}:${gateway.port} (found in ${DOMAIN}); TLS, advertised fingerprint ${gateway.tlsFingerprint}; not configured here.`,
    );

    // The same from the config alone (discovery.wideAreaDomains, dnsServers, lan off).
    await writeFile(
      configPath,
      JSON.stringify({ self: { name: "xiaoa" }, instances: {}, discovery: { lan: false, wideAreaDomains: [`${DOMAIN}.`], dnsServers: [nsd.server] } }),
    );
    const fromConfig = await discover([]);
    expect(fromConfig.gateways.find(isB)).toMatchObject({ fingerprint: gateway.tlsFingerprint, source: DOMAIN });
  }, 120_000);

  it("a stored pin that differs from the advertised fingerprint: a loud mismatch, and add --discovered changes nothing", async () => {
    const config = {
      self: { name: "xiaoa" },
      instances: { xiaom: { gateway: { url: `wss://${tailnetAddress}:${gateway.port}`, tlsFingerprint: OTHER_PIN } } },
      discovery: { lan: false, wideAreaDomains: [DOMAIN], dnsServers: [nsd.server] },
    };
    await writeFile(configPath, JSON.stringify(config));
    const result = await discover([]);
    expect(result.gateways.find(isB)?.configured).toEqual({ instance: "xiaom", pin: "mismatch" });
    expect(result.stderr).toMatch(/WARNING: it advertises a TLS fingerprint other than the one pinned for xiaom\. .*the stored pin stays/u);
    expect(result.text).toContain("configured here as xiaom, the advertised fingerprint DIFFERS FROM ITS PIN");

    const refused = await onA(["add", "xiaom", "--discovered", displayName, "--timeout", "3s"]);
    expect(refused.exitCode, refused.stdout).toBe(2);
    expect(refused.stderr).toMatch(
      new RegExp(`WARNING: the beacon "${displayName.replace(/[()]/gu, "\\$&")}" advertises .*xiaom is pinned to ${OTHER_PIN}`, "u"),
    );
    expect(JSON.parse(await readFile(configPath, "utf8"))).toEqual(config);
  }, 120_000);

  it("hostile records are refused cleanly, each with its reason; a rival claiming B's name in another zone is a loud duplicate", async () => {
    await writeFile(configPath, JSON.stringify({ self: { name: "xiaoa" }, instances: {} }));
    const result = await discover(["--no-lan", "--domain", DOMAIN, "--domain", HOSTILE, "--dns-server", nsd.server]);
    const problems = Object.fromEntries(result.ignored.map((entry) => [entry.from?.split(".")[0], `${entry.source}: ${entry.problem}`]));
    expect(problems).toEqual({
      bad: expect.stringMatching(/^hostile\.internal: txt\.displayName: has control characters; txt\.gatewayTlsSha256: must be a SHA-256 fingerprint/u),
      twice: `${HOSTILE}: it has 2 TXT records; DNS-SD gives an instance one`,
      noport: `${HOSTILE}: port: must be 1 to 65535`,
      huge: `${HOSTILE}: txt.displayName: is longer than 128 characters`,
      away: `${HOSTILE}: the PTR answer points outside _openclaw-gw._tcp.${HOSTILE}, so it is not followed`,
    });
    expect(result.text).not.toContain("\u001b");
    const named = result.gateways.filter((found) => found.displayName === displayName);
    expect(named.map((found) => [found.source, found.fingerprint, found.duplicateName])).toEqual(
      expect.arrayContaining([
        [DOMAIN, gateway.tlsFingerprint, true],
        [HOSTILE, colon(ROGUE_FINGERPRINT), true],
      ]),
    );
    expect(result.stderr).toContain(`WARNING: 2 beacons call themselves "${displayName}"`);
  }, 120_000);
});
