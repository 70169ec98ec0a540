import { describe, expect, it } from "vitest";
import { resolveSecret } from "../../src/config/secret-source.js";
import { insecureTransportError } from "../../src/gateway/classify.js";
import { explainTlsFailure } from "../../src/gateway/tls-diagnosis.js";
import { classifyGatewayError } from "../../src/gateway.js";

const inPlugin = { configuredIn: "plugin" as const, gatewayField: "instances.xiaom.gateway" };

describe("hints that work", () => {
  it("a rejected token names commands that print the target's token, never the redacted `config get`", () => {
    const error = classifyGatewayError(
      { gatewayCode: "INVALID_REQUEST", message: "unauthorized: gateway token mismatch", details: { code: "AUTH_TOKEN_MISMATCH" } },
      { url: "wss://xiaom.example.ts.net", tokenSource: "environment variable XIAOM_TOKEN" },
    );
    expect(error.code).toBe("AUTH_FAILED");
    expect(error.hint).toContain("`openclaw dashboard --json` prints it");
    expect(error.hint).toContain("`openclaw config file`");
    expect(error.hint).toContain("openclaw-inter-instance invite");
    expect(error.hint).not.toContain("config get gateway.auth.token");
  });

  it("a token variable that is not set says where its value comes from (Gateway blocks only)", () => {
    const gateway = resolveSecret({ tokenEnv: "XIAOM_TOKEN" }, "instances.xiaom.gateway", {});
    expect(gateway?.missing?.fix).toMatch(/export XIAOM_TOKEN=…\) where this runs; its value: on the target, `openclaw dashboard --json`/u);
    const nats = resolveSecret({ tokenEnv: "NATS_TOKEN" }, "nats.auth", {});
    expect(nats?.missing?.fix).not.toContain("dashboard");
  });

  it("inside a Gateway, TLS and plaintext hints name the plugin's config path", async () => {
    const insecure = insecureTransportError("ws://203.0.113.9:18789", inPlugin);
    expect(insecure.hint).toContain("plugins.entries.inter-instance.config.instances.xiaom.gateway.url");
    expect(insecure.hint).toContain("plugins.entries.inter-instance.config.instances.xiaom.gateway.tlsFingerprint");
    const plaintext = await explainTlsFailure(
      Object.assign(new Error("wrong version number"), { code: "EPROTO" }),
      "wss://10.0.0.2:18789",
      undefined,
      inPlugin,
    );
    expect(plaintext?.code).toBe("TLS_NOT_SERVED");
    expect(plaintext?.hint).toContain("plugins.entries.inter-instance.config.instances.xiaom.gateway.url to ws://10.0.0.2:18789 (`openclaw config set`");
  });
});
