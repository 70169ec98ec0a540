import type { IncomingMessage, ServerResponse } from "node:http";
import { describe, expect, it } from "vitest";
import { parseConfig } from "../../src/config/parse.js";
import { parseDnsServer } from "../../src/config/schema/discovery.js";
import { type BeaconAnswer, parseBeacon } from "../../src/discovery/beacon.js";
import { addCommand, suggestedName } from "../../src/discovery/describe.js";
import { instanceNameOf, txtKeys } from "../../src/discovery/dns-sd.js";
import type { DiscoveryResult } from "../../src/discovery/index.js";
import { describeBeacons } from "../../src/discovery/match.js";
import { discoveryView } from "../../src/plugin/control-ui/discovery-view.js";
import type { DiscoveryView } from "../../src/plugin/control-ui/operations.js";
import { DISCOVER_PATH, handleDiscover, registerDiscoverRoute } from "../../src/plugin/routes/discover.js";

const FP = "ab".repeat(32);
const FP_COLON = FP.toUpperCase().match(/../gu)!.join(":");
const latin1 = (text: string) => Buffer.from(text, "utf8").toString("latin1");

function answer(source: string, extra: Partial<BeaconAnswer> = {}, txt: Record<string, string> = {}): BeaconAnswer {
  return {
    instanceName: "vm-gateway",
    host: "vm.openclaw.internal",
    port: 18789,
    addresses: ["100.64.0.7"],
    txt: { displayName: "vm (OpenClaw)", gatewayTls: "1", gatewayTlsSha256: FP, ...txt },
    from: undefined,
    source,
    ...extra,
  };
}

function beaconOf(a: BeaconAnswer) {
  const checked = parseBeacon(a);
  if (!checked.ok) throw new Error(checked.problem);
  return checked.beacon;
}

describe("DNS-SD records as node's resolver gives them", () => {
  it("reads TXT strings as UTF-8 keys, first occurrence wins, keys without case, flags skipped", () => {
    expect(txtKeys([latin1("displayName=Café 小m"), "GATEWAYTLS=1", "flag", "displayName=second", "=x"])).toEqual({
      keys: { displayName: "Café 小m", gatewayTls: "1" },
    });
    expect(txtKeys(["displayName=\u00ff\u00fe"])).toEqual({ problem: "txt: is not UTF-8" });
    expect(txtKeys(Array.from({ length: 65 }, (_, i) => `k${i}=v`))).toEqual({ problem: "txt: has more than 64 strings" });
  });

  it("takes the instance name from a PTR answer in the domain only", () => {
    expect(instanceNameOf("vm-gateway._openclaw-gw._tcp.openclaw.internal", "openclaw.internal")).toBe("vm-gateway");
    expect(instanceNameOf("Mac\\.x\\195\\169._openclaw-gw._tcp.openclaw.internal.", "openclaw.internal")).toBe("Mac.xé");
    expect(instanceNameOf("evil._openclaw-gw._tcp.example.com", "openclaw.internal")).toBeUndefined();
    expect(instanceNameOf("a.b._openclaw-gw._tcp.openclaw.internal", "openclaw.internal")).toBeUndefined();
    expect(instanceNameOf("_openclaw-gw._tcp.openclaw.internal", "openclaw.internal")).toBeUndefined();
  });
});

describe("the discovery config and options", () => {
  it("takes domains (normalized), DNS servers with ports and an IPv4 interface; names the field of a bad one", () => {
    const config = parseConfig({
      self: { name: "a" },
      instances: {},
      discovery: { wideAreaDomains: ["OpenClaw.Internal."], dnsServers: ["100.64.0.1", "127.0.0.1:5353", "[fd7a::1]:53"], interface: "192.168.1.10" },
    });
    expect(config.discovery).toEqual({
      lan: true,
      interface: "192.168.1.10",
      wideAreaDomains: ["openclaw.internal"],
      dnsServers: ["100.64.0.1", "127.0.0.1:5353", "[fd7a::1]:53"],
    });
    expect(() => parseConfig({ self: { name: "a" }, instances: {}, discovery: { wideAreaDomains: ["bad domain"] } })).toThrow(
      /discovery\.wideAreaDomains\.0.*DNS domain/su,
    );
    expect(() => parseConfig({ self: { name: "a" }, instances: {}, discovery: { dnsServers: ["dns.example:53"] } })).toThrow(
      /discovery\.dnsServers\.0.*IP address/su,
    );
    expect(() => parseConfig({ self: { name: "a" }, instances: {}, discovery: { interface: "eth0" } })).toThrow(/discovery\.interface.*IPv4/su);
    expect(parseDnsServer("fd7a::1")).toEqual({ address: "fd7a::1", port: 53 });
    expect(parseDnsServer("[10.0.0.1]:53")).toBeUndefined();
    expect(parseDnsServer("10.0.0.1:0")).toBeUndefined();
  });
});

describe("one Gateway seen on the LAN and in a domain", () => {
  it("is not a rival of itself (same certificate), but another certificate under the same name is", () => {
    const lan = beaconOf(answer("lan", { addresses: ["192.168.1.20"] }, { displayName: "vm" }));
    const wide = beaconOf(answer("openclaw.internal", {}, { displayName: "vm" }));
    const rogue = beaconOf(answer("other.internal", { addresses: ["10.9.9.9"] }, { displayName: "vm", gatewayTlsSha256: "cd".repeat(32) }));
    expect(describeBeacons([lan, wide], []).map((g) => g.duplicateName)).toEqual([false, false]);
    expect(describeBeacons([lan, wide, rogue], []).map((g) => g.duplicateName)).toEqual([true, true, true]);
  });

  it("the add command quotes an untrusted display name for a shell and suggests a plain instance name", () => {
    expect(addCommand({ displayName: "vm (OpenClaw)" })).toBe("openclaw inter-instance add vm --discovered 'vm (OpenClaw)'");
    expect(addCommand({ displayName: "it's $(reboot)" })).toBe("openclaw inter-instance add it-s-reboot --discovered 'it'\\''s $(reboot)'");
    expect(suggestedName("小m")).toBe("m");
    expect(suggestedName("小")).toBe("<name>");
  });
});

function result(gateways = describeBeacons([beaconOf(answer("openclaw.internal"))], [])): DiscoveryResult {
  return {
    gateways,
    ignored: [{ from: "bad", source: "openclaw.internal", problem: "port: must be 1 to 65535" }],
    sources: ["lan", "openclaw.internal"],
    failed: [],
  };
}

describe("the plugin's view and route", () => {
  it("the view is plain JSON: no undefined, the status in words, an add command for one not configured", () => {
    const view = discoveryView(result(), 3000);
    expect(JSON.parse(JSON.stringify(view))).toEqual(view);
    expect(view.gateways[0]).toEqual({
      displayName: "vm (OpenClaw)",
      source: "openclaw.internal",
      foundWhere: "in openclaw.internal",
      address: "100.64.0.7",
      port: 18789,
      url: "wss://100.64.0.7:18789",
      tls: true,
      fingerprint: FP_COLON,
      status: "not configured here",
      warnings: [],
      addCommand: "openclaw inter-instance add vm --discovered 'vm (OpenClaw)'",
    });
    expect(view.text).toContain('"vm (OpenClaw)" at wss://100.64.0.7:18789 (found in openclaw.internal)');
    expect(view.text).toContain("Ignored a beacon from bad in openclaw.internal: port: must be 1 to 65535.");
    const pinned = discoveryView(
      result(describeBeacons([beaconOf(answer("openclaw.internal"))], [{ name: "vm", url: "wss://100.64.0.7:18789", tlsFingerprint: "cd".repeat(32) }])),
      3000,
    );
    expect(pinned.gateways[0]).toMatchObject({ configured: { instance: "vm", pin: "mismatch" }, status: expect.stringContaining("DIFFERS FROM ITS PIN") });
    expect(pinned.gateways[0]!.addCommand).toBeUndefined();
    expect(pinned.gateways[0]!.warnings[0]).toMatch(/^WARNING: .*impersonating vm/u);
  });

  async function call(method: string, url: string, discover: (ms: number) => Promise<DiscoveryView>) {
    const sent: { status?: number; headers?: Record<string, string>; body?: string | undefined } = {};
    const res = {
      writeHead(status: number, headers: Record<string, string>) {
        sent.status = status;
        sent.headers = headers;
        return this;
      },
      end(body?: string) {
        sent.body = body;
        return this;
      },
    } as unknown as ServerResponse;
    await handleDiscover({ method, url } as IncomingMessage, res, discover);
    return { status: sent.status, type: sent.headers?.["content-type"], body: JSON.parse(sent.body ?? "null") as Record<string, unknown> };
  }

  it("GET with a timeout in seconds runs the browse that long and answers JSON; a bad query or method names what to send", async () => {
    const asked: number[] = [];
    const discover = async (ms: number) => (asked.push(ms), discoveryView(result(), ms));
    const ok = await call("GET", `${DISCOVER_PATH}?timeout=2`, discover);
    expect(ok).toMatchObject({ status: 200, type: "application/json; charset=utf-8" });
    expect((ok.body as unknown as DiscoveryView).gateways[0]?.fingerprint).toBe(FP_COLON);
    expect((await call("GET", DISCOVER_PATH, discover)).status).toBe(200);
    expect(asked).toEqual([2000, 3000]);
    expect(await call("GET", `${DISCOVER_PATH}?timeout=60`, discover)).toMatchObject({
      status: 400,
      body: { error: expect.stringMatching(/^Bad query \(timeout: must be at most 10 seconds\)/u) },
    });
    expect(await call("GET", `${DISCOVER_PATH}?timeout=abc`, discover)).toMatchObject({
      status: 400,
      body: { error: expect.stringContaining("timeout: must be a whole number") },
    });
    expect(await call("GET", `${DISCOVER_PATH}?pin=1`, discover)).toMatchObject({ status: 400 });
    expect(await call("POST", DISCOVER_PATH, discover)).toMatchObject({ status: 405, body: { error: expect.stringContaining("Only GET") } });
    expect(asked).toHaveLength(2);
    const failing = await call("GET", DISCOVER_PATH, async () => {
      throw new Error("mDNS browse failed (EADDRNOTAVAIL).");
    });
    expect(failing).toMatchObject({
      status: 503,
      body: { error: expect.stringMatching(/^Could not look for Gateways: mDNS browse failed .*discovery\.interface/u) },
    });
  });

  it("is registered behind the Gateway's auth, on its exact path", () => {
    const routes: { path: string; auth: string; match?: string | undefined }[] = [];
    registerDiscoverRoute({ registerHttpRoute: (route) => void routes.push(route) }, async () => discoveryView(result(), 1000));
    expect(routes).toEqual([expect.objectContaining({ path: DISCOVER_PATH, auth: "gateway", match: "exact" })]);
  });
});
