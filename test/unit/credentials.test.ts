import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ConfigInput, createMessenger, InstanceRegistry, parseConfig, ValidationError } from "../../src/index.js";
import { gatewayLogDestination } from "../../src/plugin/gateway-log.js";
import { plaintextCredentialChecks } from "../../src/use-cases/doctor/plaintext-credentials.js";
import { createLogger } from "../../src/util/log.js";
import { SecretSet } from "../../src/util/redact.js";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "oii-credentials-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const withGateway = (gateway: Record<string, unknown>): ConfigInput =>
  ({ self: { name: "xiaoa" }, instances: { xiaom: { gateway: { url: "wss://xiaom.example", ...gateway } } } }) as ConfigInput;

describe("credentials: plaintext, SecretRef, environment variable or file", () => {
  it("an env SecretRef resolves from the environment; a file SecretRef left unresolved names the fix", () => {
    const env = new InstanceRegistry(parseConfig(withGateway({ token: { source: "env", provider: "default", id: "XIAOM_TOKEN" } })), {
      XIAOM_TOKEN: "t-env",
    }).resolve("xiaom");
    expect(env.gateway).toMatchObject({ token: "t-env", credential: "shared", tokenSource: "SecretRef env:default:XIAOM_TOKEN" });
    expect(env.missingSecrets).toEqual([]);
    const file = new InstanceRegistry(parseConfig(withGateway({ token: { source: "file", provider: "xiaom", id: "value" } })), {}).resolve("xiaom");
    expect(file.gateway?.token).toBeUndefined();
    expect(file.missingSecrets).toEqual([
      expect.objectContaining({ field: "instances.xiaom.gateway.token", fix: expect.stringContaining("openclaw secrets audit") }),
    ]);
  });

  it("tokenFile reads the token (one trailing newline dropped); an unreadable file is reported with its path", async () => {
    const path = join(dir, "xiaom-token");
    await writeFile(path, "t-file\n");
    await chmod(path, 0o600);
    expect(new InstanceRegistry(parseConfig(withGateway({ tokenFile: path })), {}).resolve("xiaom").gateway).toMatchObject({
      token: "t-file",
      tokenSource: `file ${path}`,
    });
    const missing = new InstanceRegistry(parseConfig(withGateway({ tokenFile: join(dir, "absent") })), {}).resolve("xiaom");
    expect(missing.missingSecrets[0]).toMatchObject({ field: "instances.xiaom.gateway.tokenFile", reason: expect.stringContaining("ENOENT") });
  });

  it("refuses two sources at once and a malformed SecretRef, naming the field", () => {
    for (const gateway of [
      { token: "a", tokenFile: "/x" },
      { tokenEnv: "A", tokenFile: "/x" },
    ]) {
      expect(() => parseConfig(withGateway(gateway))).toThrow(ValidationError);
    }
    try {
      parseConfig(withGateway({ token: { source: "vault", provider: "default", id: "X" } }));
      expect.unreachable();
    } catch (error) {
      expect((error as ValidationError).issues.map((issue) => issue.path)).toContain("instances.xiaom.gateway.token");
    }
  });

  it("a send with a credential that is configured but not available is refused before anything is sent, with the fix", async () => {
    const link = createMessenger({ config: { ...withGateway({ tokenFile: join(dir, "absent") }), stateDir: join(dir, "state") }, log: { level: "silent" } });
    try {
      await expect(link.send({ to: "xiaom", body: "hi" })).rejects.toMatchObject({ name: "ValidationError", hint: expect.stringContaining("chmod 600") });
      expect(await link.outbox.list()).toEqual([]);
    } finally {
      await link.close();
    }
  });
});

describe("doctor: plaintext credentials in the Gateway's openclaw.json", () => {
  it("warns for each plaintext token of our plugin entry with the command that makes it a SecretRef; refs and ${VAR} pass", async () => {
    const path = join(dir, "openclaw.json");
    const instances = {
      xiaom: { gateway: { url: "wss://x", token: "plain-1" }, a2a: { url: "https://x", token: { source: "env", provider: "default", id: "A2A" } } },
      "2nd": { node: { gateway: { url: "ws://127.0.0.1:1", token: "plain-2" }, name: "n" } },
      subst: { gateway: { url: "wss://y", token: "${SUBST_TOKEN}" } },
    };
    await writeFile(path, `// comments are allowed\n${JSON.stringify({ plugins: { entries: { "inter-instance": { config: { instances } } } } })}`);
    const checks = await plaintextCredentialChecks(path);
    expect(checks.map((check) => [check.instance, check.status])).toEqual([
      ["xiaom", "warn"],
      ["2nd", "warn"],
    ]);
    expect(checks[0]?.fix).toContain(
      "openclaw config set plugins.entries.inter-instance.config.instances.xiaom.gateway.token --ref-provider default --ref-source env --ref-id XIAOM_GATEWAY_TOKEN",
    );
    expect(checks[1]?.fix).toContain("--ref-id OII_2ND_NODE_GATEWAY_TOKEN");
    expect(JSON.stringify(checks)).not.toContain("plain-");
    expect(await plaintextCredentialChecks(join(dir, "no-such.json"))).toEqual([]);
  });

  it("reads openclaw.json as JSON5, as OpenClaw does: the same token gives the same warning", async () => {
    const asJson = join(dir, "openclaw-plain.json");
    await writeFile(
      asJson,
      JSON.stringify({
        plugins: {
          entries: {
            "inter-instance": {
              config: {
                self: { name: "xiaoa" },
                instances: { xiaom: { gateway: { url: "wss://x", token: "plain-1" } } },
                nats: { auth: { token: "plain-nats" } },
              },
            },
          },
        },
      }),
    );
    const asJson5 = join(dir, "openclaw-json5.json");
    await writeFile(
      asJson5,
      [
        "// OpenClaw's own config format is JSON5",
        "{",
        "  plugins: {",
        "    entries: {",
        "      'inter-instance': {",
        "        /* block comment */ config: {",
        "          self: { name: 'xiaoa', },",
        "          instances: { xiaom: { gateway: { url: 'wss://x', token: 'plain-1', }, }, },",
        "          nats: { auth: { token: 'plain-nats' } },",
        "        },",
        "      },",
        "    },",
        "  },",
        "}",
        "",
      ].join("\n"),
    );
    const expected = await plaintextCredentialChecks(asJson);
    expect(expected.map((check) => check.summary)).toEqual([
      expect.stringContaining("config.nats.auth.token is stored as plaintext"),
      expect.stringContaining("config.instances.xiaom.gateway.token is stored as plaintext"),
    ]);
    const fromJson5 = await plaintextCredentialChecks(asJson5);
    expect(fromJson5).toEqual(expected.map((check) => ({ ...check, summary: check.summary.replace(asJson, asJson5) })));
  });
});

describe("inside a Gateway, log lines go through its logger", () => {
  it("one line per record, at its level, in plain words, with tokens scrubbed", () => {
    const lines: string[] = [];
    const logger = {
      info: (m: string) => lines.push(`INFO ${m}`),
      warn: (m: string) => lines.push(`WARN ${m}`),
      error: (m: string) => lines.push(`ERROR ${m}`),
    };
    const secrets = new SecretSet();
    secrets.add("tok-secret-123");
    const log = createLogger({ secrets, destination: gatewayLogDestination(logger), level: "debug" });
    log.warn({ envelopeId: "e1", to: "xiaom", token: "tok-secret-123" }, "queued in the outbox");
    log.info({ err: { message: "refused tok-secret-123" } }, "failed");
    log.debug("not shown: the Gateway's logger has no debug here");
    expect(lines).toEqual([
      "WARN inter-instance: queued in the outbox (envelopeId=e1, to=xiaom, token=[redacted])",
      "INFO inter-instance: failed (err=refused [redacted])",
    ]);
  });
});

describe("the nats block", () => {
  const base = { self: { name: "xiaoa" }, instances: {} };
  it("fills its defaults and takes one auth method; a bad one names the field", () => {
    const config = parseConfig({ ...base, nats: { servers: ["nats://127.0.0.1:4222"], fleet: "home" } });
    expect(config.nats).toMatchObject({ duplicateWindowMs: 7_200_000, maxDeliver: 5, presenceTtlMs: 120_000 });
    expect(() => parseConfig({ ...base, nats: { servers: ["nats://127.0.0.1:4222"], fleet: "home", auth: { user: "a" } } })).toThrow(ValidationError);
    expect(() => parseConfig({ ...base, nats: { servers: ["nats://u:p@127.0.0.1:4222"], fleet: "home" } })).toThrow(/must not carry credentials/u);
    expect(() => parseConfig({ ...base, nats: { servers: ["http://127.0.0.1:4222"], fleet: "home" } })).toThrow(ValidationError);
  });

  it("on a fleet, self.name must be a subject token", () => {
    try {
      parseConfig({ self: { name: "小 a" }, instances: {}, nats: { servers: ["nats://127.0.0.1:4222"], fleet: "home" } });
      expect.unreachable();
    } catch (error) {
      expect((error as ValidationError).issues.map((issue) => issue.path)).toEqual(["self.name"]);
    }
    expect(parseConfig({ self: { name: "小 a" }, instances: {} }).self.name).toBe("小 a");
  });
});
