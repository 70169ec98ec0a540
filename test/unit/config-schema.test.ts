import { describe, expect, it } from "vitest";
import { configSchemas } from "../../src/config/schema.js";
import { parseConfig, ValidationError } from "../../src/index.js";
import { zod } from "../../src/util/zod.js";
import { full } from "../fixtures/full-config.ts";

// The expected values below are what the schema produced before it was split into parts and its
// object blocks took `.prefault({})`: the parsed config must not change.
const DEFAULT_BLOCKS = {
  defaults: { retries: 2, circuitCooldownMs: 30_000 },
  openclawCli: {},
  inbox: { enabled: true, sessionKey: "agent:main:main", wake: true, pollMs: 30_000 },
  groups: {},
  inbound: { unverified: "hold", ratePerHour: 120, maxHops: 8, hopWindowMs: 3_600_000, maxAgeMs: 86_400_000 },
  audit: { enabled: true, bodies: false },
  health: { intervalMs: 600_000 },
  outbox: { enabled: true, retryMs: 60_000 },
  discovery: { lan: true, wideAreaDomains: [] },
  attachments: { maxFileBytes: 20 * 1024 * 1024, maxTotalBytes: 50 * 1024 * 1024, maxFiles: 16 },
};
const DEFAULT_INSTANCE = { aliases: [], inbound: "allow", sessionKey: "agent:main:main", maxQueued: 10, doctor: { repos: [], links: [] } };

function issuesOf(input: unknown): { path: string; message: string }[] {
  try {
    parseConfig(input);
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    return [...(error as ValidationError).issues];
  }
  return expect.unreachable("the config was accepted");
}

describe("the config schema's parsed result", () => {
  it("fills every default of a minimal config", () => {
    expect(parseConfig({ self: { name: "xiaoa" }, instances: {} })).toStrictEqual({ self: { name: "xiaoa" }, instances: {}, ...DEFAULT_BLOCKS });
    expect(parseConfig({ self: { name: "xiaoa" }, instances: { xiaom: {} } })).toStrictEqual({
      self: { name: "xiaoa" },
      instances: { xiaom: DEFAULT_INSTANCE },
      ...DEFAULT_BLOCKS,
    });
  });

  it("completes a block given in part with the rest of its defaults", () => {
    const config = parseConfig({
      self: { name: "xiaoa" },
      instances: {
        xiaom: {
          doctor: { repos: ["/srv/a"] },
          messageTool: { channel: "telegram", to: "@me" },
          node: { gateway: { url: "ws://127.0.0.1:18789" }, name: "mac" },
        },
      },
      defaults: {},
      openclawCli: {},
      inbox: { enabled: false },
      inbound: { maxHops: 3 },
      audit: { path: "/tmp/a.sqlite" },
      health: {},
      outbox: { path: "/tmp/o.sqlite" },
      nats: { servers: ["nats://127.0.0.1:4222"], fleet: "home" },
    });
    expect(config).toStrictEqual({
      self: { name: "xiaoa" },
      instances: {
        xiaom: {
          ...DEFAULT_INSTANCE,
          messageTool: { channel: "telegram", to: "@me", recipient: "human" },
          node: { gateway: { url: "ws://127.0.0.1:18789" }, name: "mac" },
          doctor: { repos: ["/srv/a"], links: [] },
        },
      },
      ...DEFAULT_BLOCKS,
      inbox: { ...DEFAULT_BLOCKS.inbox, enabled: false },
      inbound: { ...DEFAULT_BLOCKS.inbound, maxHops: 3 },
      nats: { servers: ["nats://127.0.0.1:4222"], fleet: "home", duplicateWindowMs: 7_200_000, maxDeliver: 5, presenceTtlMs: 120_000 },
      audit: { ...DEFAULT_BLOCKS.audit, path: "/tmp/a.sqlite" },
      outbox: { ...DEFAULT_BLOCKS.outbox, path: "/tmp/o.sqlite" },
    });
  });

  it("keeps a config that sets every field as it is", () => {
    expect(parseConfig(full)).toStrictEqual(full);
  });

  it("keeps its messages for credentials in URLs and for the credential fields", () => {
    expect(issuesOf({ self: { name: "a" }, instances: { m: { gateway: { url: "ws://x/?token=1&auth=2" } } } })).toEqual([
      {
        path: "instances.m.gateway.url",
        message: 'must not carry credentials in its query string ("token", "auth"); remove those parameters and put the secret in token, tokenEnv or tokenFile',
      },
    ]);
    expect(issuesOf({ self: { name: "a" }, instances: { m: { gateway: { url: "ws://u:p@x" } } } })).toEqual([
      { path: "instances.m.gateway.url", message: "must not carry credentials (user:password@); put the secret in token or tokenEnv" },
    ]);
    expect(issuesOf({ self: { name: "a" }, instances: {}, nats: { servers: ["nats://u:p@x"], fleet: "f" } })).toEqual([
      { path: "nats.servers.0", message: "must not carry credentials (user:password@); put them in auth" },
    ]);
    expect(issuesOf({ self: { name: "a" }, instances: { m: { gateway: { url: "ws://x", token: "a", tokenEnv: "B" } } } })).toEqual([
      { path: "instances.m.gateway.token", message: "set at most one of token, tokenEnv or tokenFile (none: the device token from pairing)" },
    ]);
    expect(issuesOf({ self: { name: "a" }, instances: { m: { a2a: { url: "http://x" } } } })).toEqual([
      { path: "instances.m.a2a.token", message: "set exactly one of token, tokenEnv or tokenFile" },
    ]);
  });
});

describe("the config schema as the plugin manifest's JSON schema", () => {
  type Node = { description?: string; default?: unknown; properties?: Record<string, Node>; additionalProperties?: Node | boolean };
  const schema = zod().toJSONSchema(configSchemas().configSchema, { io: "input", target: "draft-7" }) as Node;
  const at = (...path: string[]): Node =>
    path.reduce<Node>((node, key) => (key === "*" ? (node.additionalProperties as Node) : (node.properties?.[key] ?? expect.unreachable(`no ${key}`))), schema);

  it("carries the fields' descriptions", () => {
    expect(at("inbound", "maxHops").description).toMatch(/^Loop limit/u);
    expect(at("instances", "*", "maxQueued").description).toContain("messages.queue.cap");
    expect(at("instances", "*", "node", "gateway", "tokenFile").description).toContain("a trailing newline is dropped");
    expect(at("instances", "*", "a2a", "token").description).toContain("channels.a2a.peers.<name>.token");
    expect(at("nats", "fleet").description).toContain("iim.<fleet>.<instance>");
    expect(at("inbound", "unverified").description).toContain("hold: kept for the owner");
  });

  it("says nothing that reads as an alarm where the Gateway prints the manifest (`openclaw plugins inspect --json`)", () => {
    // The words test/integration/readme-plugin.test.ts refuses in the output of the README's install steps.
    const alarming = /warn|error|fail|not found|cancel|stale|ignored|blocked|denied/iu;
    const descriptions: string[] = [];
    JSON.stringify(schema, (key, value: unknown) => {
      if (key === "description" && typeof value === "string") descriptions.push(value);
      return value;
    });
    expect(descriptions.length).toBeGreaterThan(50);
    expect(descriptions.filter((description) => alarming.test(description))).toEqual([]);
  });

  it("writes each default once: on its field, a block's own default being {}", () => {
    expect(at("inbox").default).toEqual({});
    expect(at("inbox", "pollMs").default).toBe(30_000);
    expect(at("instances", "*", "doctor").default).toEqual({});
    expect(at("instances", "*", "doctor", "links").default).toEqual([]);
  });
});
