import { rm } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { chooseBeacon } from "../../src/cli/commands/add-discovered.js";
import { describeDiscovery } from "../../src/cli/commands/discover.js";
import { type BeaconAnswer, parseBeacon } from "../../src/discovery/beacon.js";
import { canonicalFingerprint } from "../../src/discovery/fingerprint.js";
import { describeBeacons, type KnownGateway } from "../../src/discovery/match.js";
import { cliSandbox, runCliCaptured } from "../harness/cli-run.js";

const FP = "ab".repeat(32);
const FP_COLON = canonicalFingerprint(FP)!;
const OTHER = "cd".repeat(32);

function answer(txt: Record<string, unknown> = {}, extra: Partial<BeaconAnswer> = {}): BeaconAnswer {
  return {
    instanceName: "mac-mini (OpenClaw)",
    host: "mac-mini.local",
    port: 18789,
    addresses: ["192.168.1.20"],
    txt: {
      role: "gateway",
      displayName: "mac-mini",
      lanHost: "mac-mini.local",
      gatewayPort: "18789",
      transport: "gateway",
      gatewayTls: "1",
      gatewayTlsSha256: FP,
      ...txt,
    },
    from: "192.168.1.20",
    source: "lan",
    ...extra,
  };
}

function beacon(txt: Record<string, unknown> = {}, extra: Partial<BeaconAnswer> = {}) {
  const checked = parseBeacon(answer(txt, extra));
  if (!checked.ok) throw new Error(checked.problem);
  return checked.beacon;
}

function problem(txt: Record<string, unknown>, extra: Partial<BeaconAnswer> = {}): string {
  const checked = parseBeacon(answer(txt, extra));
  expect(checked.ok).toBe(false);
  return checked.ok ? "" : checked.problem;
}

describe("a beacon as OpenClaw's bonjour plugin publishes it", () => {
  it("reads name, the resolved address (not lanHost), the SRV port, TLS and the fingerprint in colon hex", () => {
    expect(beacon({ lanHost: "elsewhere.local" })).toEqual({
      displayName: "mac-mini",
      instanceName: "mac-mini (OpenClaw)",
      host: "mac-mini.local",
      address: "192.168.1.20",
      port: 18789,
      tls: true,
      fingerprint: FP_COLON,
      lanHost: "elsewhere.local",
      txtPort: undefined,
      from: "192.168.1.20",
      source: "lan",
    });
  });

  it("prefers an IPv4 address, never takes a link-local IPv6 one, and has none without an A/AAAA record", () => {
    expect(beacon({}, { addresses: ["fe80::1", "fd00::5", "10.0.0.7"] }).address).toBe("10.0.0.7");
    expect(beacon({}, { addresses: ["fe80::1", "fd00::5"] }).address).toBe("fd00::5");
    expect(beacon({}, { addresses: [] }).address).toBeUndefined();
    // Several A records: the one the answer came from (on this link), never the TXT lanHost.
    expect(beacon({}, { addresses: ["10.1.2.2", "10.1.0.2"], from: "10.1.0.2" }).address).toBe("10.1.0.2");
    expect(beacon({}, { addresses: ["10.1.2.2"], from: "10.1.0.9" }).address).toBe("10.1.2.2");
  });

  it("without gatewayTls it is plaintext, and a fingerprint in colon or sha256: form reads the same", () => {
    expect(beacon({ gatewayTls: undefined, gatewayTlsSha256: undefined })).toMatchObject({ tls: false, fingerprint: undefined });
    expect(beacon({ gatewayTlsSha256: `sha256:${FP_COLON.toLowerCase()}` }).fingerprint).toBe(FP_COLON);
  });
});

describe("hostile TXT values are refused, naming the field", () => {
  it("an overlong displayName", () => {
    expect(problem({ displayName: "x".repeat(500) })).toMatch(/^txt\.displayName: is longer than 128 characters/u);
  });

  it("control and bidi characters in the name (terminal escapes, disguised names)", () => {
    expect(problem({ displayName: "mac\u001b[2J-mini" })).toMatch(/txt\.displayName: has control characters/u);
    expect(problem({ displayName: "mac\u202Eini" })).toMatch(/txt\.displayName: has control characters/u);
    expect(problem({}, { instanceName: "a\nb" })).toMatch(/instanceName: has control characters/u);
  });

  it("a non-hex or short fingerprint", () => {
    expect(problem({ gatewayTlsSha256: "zz".repeat(32) })).toMatch(/txt\.gatewayTlsSha256: must be a SHA-256 fingerprint/u);
    expect(problem({ gatewayTlsSha256: "ab".repeat(20) })).toMatch(/txt\.gatewayTlsSha256/u);
    expect(problem({ gatewayTlsSha256: `${FP};rm -rf /` })).toMatch(/txt\.gatewayTlsSha256/u);
  });

  it("a wrong port: in the SRV record refused, in TXT refused when not a port, shown when it disagrees", () => {
    expect(problem({}, { port: 0 })).toMatch(/^port: must be 1 to 65535/u);
    expect(problem({}, { port: 70_000 })).toMatch(/^port: must be 1 to 65535/u);
    expect(problem({ gatewayPort: "99999" })).toMatch(/txt\.gatewayPort: must be 1 to 65535/u);
    expect(problem({ gatewayPort: "18789; x" })).toMatch(/txt\.gatewayPort: must be a port number/u);
    const disagreeing = beacon({ gatewayPort: "443" });
    expect(disagreeing).toMatchObject({ port: 18789, txtPort: 443 });
    expect(describeBeacons([disagreeing], [])[0]!.warnings).toContain("Its TXT says port 443, its SRV record 18789; 18789 is used.");
  });

  it("a bad lanHost, a missing displayName, an odd gatewayTls, several at once", () => {
    expect(problem({ lanHost: "evil host;.local" })).toMatch(/txt\.lanHost: is not a host name/u);
    expect(problem({ displayName: undefined })).toMatch(/txt\.displayName/u);
    expect(problem({ gatewayTls: "yes please" })).toMatch(/txt\.gatewayTls: must be 1 or 0/u);
    const both = problem({ displayName: "", gatewayTlsSha256: "nope" });
    expect(both).toMatch(/txt\.displayName/u);
    expect(both).toMatch(/txt\.gatewayTlsSha256/u);
  });
});

describe("matching beacons against the configured instances", () => {
  const known = (tlsFingerprint: string | undefined, url = "wss://192.168.1.20:18789"): KnownGateway[] => [{ name: "xiaom", url, tlsFingerprint }];

  it("at the configured address: the pin matches, has none, or differs (a loud warning, the pin stays)", () => {
    expect(describeBeacons([beacon()], known(FP_COLON))[0]).toMatchObject({ configured: { instance: "xiaom", pin: "match" }, warnings: [] });
    expect(describeBeacons([beacon()], known(FP))[0]!.configured).toEqual({ instance: "xiaom", pin: "match" });
    expect(describeBeacons([beacon()], known(undefined))[0]!.configured).toEqual({ instance: "xiaom", pin: "no-pin" });
    const mismatch = describeBeacons([beacon()], known(OTHER))[0]!;
    expect(mismatch.configured).toEqual({ instance: "xiaom", pin: "mismatch" });
    expect(mismatch.warnings[0]).toMatch(/^WARNING: .*impersonating xiaom; the stored pin stays/u);
  });

  it("configured under another address with the same pin counts as that instance; otherwise not configured", () => {
    expect(describeBeacons([beacon()], known(FP, "wss://mac-mini.tail1.ts.net"))[0]!.configured).toEqual({ instance: "xiaom", pin: "match" });
    expect(describeBeacons([beacon()], known(OTHER, "wss://mac-mini.tail1.ts.net"))[0]!.configured).toBeUndefined();
    expect(describeBeacons([beacon()], known(FP, "wss://192.168.1.20:443"))[0]!.configured).toEqual({ instance: "xiaom", pin: "match" });
  });

  it("two beacons with one name and different fingerprints are both marked, and the text says so", () => {
    const gateways = describeBeacons(
      [beacon(), beacon({ gatewayTlsSha256: OTHER }, { addresses: ["192.168.1.66"], instanceName: "mac-mini (OpenClaw) (2)" })],
      [],
    );
    expect(gateways.map((g) => g.duplicateName)).toEqual([true, true]);
    const text = describeDiscovery(gateways, [{ from: "192.168.1.9", problem: "txt.gatewayTlsSha256: bad" }], 3000);
    expect(text).toMatch(/2 beacons call themselves "mac-mini"/u);
    expect(text).toContain("Ignored a beacon from 192.168.1.9: txt.gatewayTlsSha256: bad.");
    expect(text).toContain("nothing here is pinned");
  });
});

describe("add --discovered chooses one beacon or refuses", () => {
  const one = describeBeacons([beacon()], []);
  const rogue = describeBeacons([beacon(), beacon({ gatewayTlsSha256: OTHER }, { addresses: ["192.168.1.66"], instanceName: "x (OpenClaw)" })], []);

  it("one beacon: the URL from its resolved record, wss:// with TLS", () => {
    expect(chooseBeacon(one, "MAC-MINI", { name: "xiaom" }).url).toBe("wss://192.168.1.20:18789");
    expect(
      chooseBeacon(describeBeacons([beacon({ gatewayTls: undefined, gatewayTlsSha256: undefined }, { addresses: ["fd00::5"] })], []), "mac-mini", {
        name: "xiaom",
      }).url,
    ).toBe("ws://[fd00::5]:18789");
  });

  it("nobody by that name, or no address: refused, saying what to do", () => {
    expect(() => chooseBeacon(one, "studio", { name: "xiaom" })).toThrow(/No Gateway called "studio" answered \(the ones that did: "mac-mini"\).*discover/u);
    expect(() => chooseBeacon(describeBeacons([beacon({}, { addresses: [] })], []), "mac-mini", { name: "xiaom" })).toThrow(/without an address record/u);
  });

  it("two beacons, one name, different fingerprints: refused until the person's fingerprint picks one", () => {
    expect(() => chooseBeacon(rogue, "mac-mini", { name: "xiaom" })).toThrow(/2 beacons call themselves "mac-mini".*--tls-fingerprint/u);
    expect(chooseBeacon(rogue, "mac-mini", { name: "xiaom", fingerprint: FP_COLON }).gateway.address).toBe("192.168.1.20");
    expect(() => chooseBeacon(rogue, "mac-mini", { name: "xiaom", fingerprint: "ef".repeat(32) })).toThrow(/matches none of the beacons/u);
  });

  it("an advertised fingerprint other than the stored pin: refused, the pin stays", () => {
    expect(() => chooseBeacon(one, "mac-mini", { name: "xiaom", storedPin: OTHER })).toThrow(/WARNING: .*xiaom is pinned to .*the stored pin stays/u);
    expect(() => chooseBeacon(one, "mac-mini", { name: "xiaom", storedPin: OTHER, fingerprint: FP })).toThrow(/the stored pin stays/u);
    expect(chooseBeacon(one, "mac-mini", { name: "xiaom", storedPin: FP }).url).toBe("wss://192.168.1.20:18789");
  });
});

describe("the CLI's checks before any packet is sent", () => {
  it("add needs exactly one of --url and --discovered; discover's --interface takes an IPv4 address", async () => {
    const sandbox = await cliSandbox();
    try {
      const neither = await runCliCaptured(["-c", sandbox.configPath, "add", "xiaom"], sandbox.env);
      expect(neither.code).toBe(2);
      expect(neither.stderr).toMatch(/Give the Gateway by --url <url>, or by --discovered <display name>/u);
      const both = await runCliCaptured(["-c", sandbox.configPath, "add", "xiaom", "--url", "ws://10.0.0.1:1", "--discovered", "x"], sandbox.env);
      expect(both.code).toBe(2);
      expect(both.stderr).toMatch(/not both/u);
      const badInterface = await runCliCaptured(["-c", sandbox.configPath, "discover", "--interface", "eth0"], sandbox.env);
      expect(badInterface.code).toBe(2);
      expect(badInterface.stderr).toMatch(/--interface must be the IPv4 address/u);
    } finally {
      await rm(sandbox.dir, { recursive: true, force: true });
    }
  });
});
