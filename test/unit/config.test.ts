import { describe, expect, it } from "vitest";
import { type ConfigInput, DEFAULT_TRANSPORT_ORDER, InstanceRegistry, parseConfig, UnknownInstanceError, ValidationError } from "../../src/index.js";

const base: ConfigInput = {
  self: { name: "xiaoa" },
  instances: {
    xiaom: { aliases: ["小m", "mac-mini"], gateway: { url: "wss://mac-mini.tail1234.ts.net", tokenEnv: "XIAOM_TOKEN" }, workspace: "/srv/ws" },
    xiaob: { aliases: ["小b"], gateway: { url: "ws://127.0.0.1:18789", token: "secret-b" }, transports: ["memory_file"], timeouts: { memory_file: 500 } },
  },
};

function issuesOf(input: unknown): string[] {
  try {
    parseConfig(input);
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    return (error as ValidationError).issues.map((issue) => issue.path);
  }
  throw new Error("expected a ValidationError");
}

describe("parseConfig", () => {
  it("fills the seed's defaults", () => {
    const registry = new InstanceRegistry(parseConfig(base), { XIAOM_TOKEN: "from-env" });
    const xiaom = registry.resolve("xiaom");
    expect(xiaom.transports).toEqual(DEFAULT_TRANSPORT_ORDER);
    expect(xiaom.transports).toEqual(["sessions_send", "nodes", "agent_cli", "memory_file", "message_tool"]);
    expect(xiaom.sessionKey).toBe("agent:main:main");
    expect(xiaom.timeouts.agent_cli).toBe(120_000);
    expect(xiaom.gateway?.token).toBe("from-env");
    expect(registry.resolve("xiaob").timeouts).toMatchObject({ memory_file: 500, sessions_send: 15_000 });
    expect(registry.retries).toBe(2);
  });

  it("takes a Gateway without a token: the device token from pairing is used", () => {
    expect(new InstanceRegistry(parseConfig({ ...base, instances: { xiaom: { gateway: { url: "wss://x" } } } }), {}).resolve("xiaom").gateway).toMatchObject({
      credential: "device",
      token: undefined,
    });
  });

  it("names the field path of every bad value", () => {
    expect(issuesOf({ ...base, instances: { xiaom: { gateway: { url: "http://x", token: "t" } } } })).toEqual(["instances.xiaom.gateway.url"]);
    expect(issuesOf({ ...base, instances: { xiaom: { gateway: { url: "wss://x", tlsFingerprint: "AB:CD" } } } })).toEqual([
      "instances.xiaom.gateway.tlsFingerprint",
    ]);
    expect(issuesOf({ ...base, instances: { xiaom: { gateway: { url: "ws://x", token: "a", tokenEnv: "B" } } } })).toEqual(["instances.xiaom.gateway.token"]);
    expect(issuesOf({ ...base, instances: { xiaom: { transports: ["carrier_pigeon"] } } })).toEqual(["instances.xiaom.transports.0"]);
    expect(issuesOf({ ...base, instances: { xiaom: { timeZone: "Mars/Olympus" } } })).toEqual(["instances.xiaom.timeZone"]);
    expect(issuesOf({ ...base, instances: { xiaom: { sessionKey: "main" } } })).toEqual(["instances.xiaom.sessionKey"]);
    expect(issuesOf({ ...base, instances: { "../evil": {} } })).toEqual(["instances.../evil"]);
    expect(issuesOf({ ...base, instances: { xiaom: { colour: "red" } } })).toEqual(["instances.xiaom"]);
    expect(issuesOf({ instances: {} })).toEqual(["self"]);
    expect(issuesOf({ ...base, instances: { xiaom: { gateway: { url: "wss://me:pw@host", token: "t" } } } })).toEqual(["instances.xiaom.gateway.url"]);
    expect(issuesOf({ ...base, instances: { xiaom: { a2a: { url: "https://token@host/a2a/v1", token: "t" } } } })).toEqual(["instances.xiaom.a2a.url"]);
  });

  it("checks the A2A target and completes its endpoint", () => {
    expect(issuesOf({ ...base, instances: { xiaom: { a2a: { url: "ws://x", token: "t" } } } })).toEqual(["instances.xiaom.a2a.url"]);
    expect(issuesOf({ ...base, instances: { xiaom: { a2a: { url: "http://x" } } } })).toEqual(["instances.xiaom.a2a.token"]);
    const registry = new InstanceRegistry(parseConfig({ ...base, instances: { xiaom: { a2a: { url: "http://127.0.0.1:18789", tokenEnv: "A2A_TOKEN" } } } }), {
      A2A_TOKEN: "peer",
    });
    expect(registry.resolve("xiaom").a2a).toEqual({ endpoint: "http://127.0.0.1:18789/a2a/v1", token: "peer", tokenSource: "environment variable A2A_TOKEN" });
    const full = new InstanceRegistry(parseConfig({ ...base, instances: { xiaom: { a2a: { url: "https://gw.example/a2a/v1/", token: "t" } } } }), {});
    expect(full.resolve("xiaom").a2a?.endpoint).toBe("https://gw.example/a2a/v1");
  });

  it("says the path in the message too", () => {
    expect(() => parseConfig({ ...base, instances: { xiaom: { gateway: { url: "http://x", token: "t" } } } })).toThrow(
      /instances\.xiaom\.gateway\.url: must be a ws:\/\/ or wss:\/\/ URL/u,
    );
  });
});

describe("InstanceRegistry.resolve", () => {
  const registry = new InstanceRegistry(parseConfig(base), {});

  it.each(["xiaom", "XiaoM", "小m", "小M", "小ｍ", " 小m ", "mac-mini", "Mac Mini", "MAC_MINI", "macmini"])("finds xiaom by %j", (label) => {
    expect(registry.resolve(label).name).toBe("xiaom");
  });

  it("tells which names exist when none matches", () => {
    expect(() => registry.resolve("小z")).toThrow(UnknownInstanceError);
    try {
      registry.resolve("小z");
    } catch (error) {
      expect((error as UnknownInstanceError).hint).toContain("小m");
    }
  });

  it("refuses an alias that names two instances", () => {
    const clash = parseConfig({ self: { name: "a" }, instances: { one: { aliases: ["小m"] }, two: { aliases: ["小M"] } } });
    expect(() => new InstanceRegistry(clash, {})).toThrow(/instances\.two\.aliases\.0: "小M" also names instance "one"/u);
  });

  it("leaves the token undefined when its variable is unset", () => {
    expect(registry.resolve("xiaom").gateway).toMatchObject({ token: undefined, tokenSource: "environment variable XIAOM_TOKEN" });
  });
});
