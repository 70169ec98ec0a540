import { execFileSync } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer, type Server } from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { explainTlsFailure } from "../../src/gateway/tls-diagnosis.js";
import { createMessenger } from "../../src/index.js";

const untrusted = Object.assign(new Error("self-signed certificate"), { code: "DEPTH_ZERO_SELF_SIGNED_CERT" });
// Nothing listens on port 9: the served fingerprint cannot be read, the hint says <sha256>.
const URL = "wss://127.0.0.1:9";
const PLUGIN_PATH = "plugins.entries.inter-instance.config.instances.xiaom.gateway.tlsFingerprint";

describe("the TLS_UNTRUSTED hint names the fix where the config lives", () => {
  it("for the CLI's config file: openclaw-inter-instance add … --tls-fingerprint (the default)", async () => {
    for (const error of [
      await explainTlsFailure(untrusted, URL, undefined),
      await explainTlsFailure(untrusted, URL, undefined, { configuredIn: "file", gatewayField: "instances.xiaom.gateway" }),
    ]) {
      expect(error?.code).toBe("TLS_UNTRUSTED");
      expect(error?.hint).toMatch(/openclaw-inter-instance add \S+ --url wss:\/\/127\.0\.0\.1:9 --tls-fingerprint/u);
      expect(error?.hint).not.toContain("plugins.entries");
    }
  });

  it("inside a Gateway (the plugin): the plugin config path, set with openclaw config set; no CLI add", async () => {
    const error = await explainTlsFailure(untrusted, URL, undefined, { configuredIn: "plugin", gatewayField: "instances.xiaom.gateway" });
    expect(error?.code).toBe("TLS_UNTRUSTED");
    expect(error?.hint).toContain(`openclaw config set ${PLUGIN_PATH}`);
    expect(error?.hint).toMatch(/restart the Gateway/u);
    expect(error?.hint).not.toContain("openclaw-inter-instance add");
    expect(error?.hint).toMatch(/openssl x509 .*-sha256/u);
  });

  it("a node's own Gateway is named by its own path", async () => {
    const error = await explainTlsFailure(untrusted, URL, undefined, { configuredIn: "plugin", gatewayField: "instances.xiaom.node.gateway" });
    expect(error?.hint).toContain("plugins.entries.inter-instance.config.instances.xiaom.node.gateway.tlsFingerprint");
  });
});

describe("a messenger built for the plugin gives the plugin's fix for a self-signed Gateway", () => {
  let dir: string;
  let server: Server;
  let url: string;
  let fingerprint: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "oii-tls-hint-"));
    const [key, cert] = [join(dir, "key.pem"), join(dir, "cert.pem")];
    execFileSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-subj",
        "/CN=127.0.0.1",
        "-days",
        "2",
        "-keyout",
        key,
        "-out",
        cert,
      ],
      { stdio: "ignore" },
    );
    const certPem = await readFile(cert, "utf8");
    fingerprint = execFileSync("openssl", ["x509", "-noout", "-fingerprint", "-sha256", "-in", cert], { encoding: "utf8" }).trim().split("=")[1]!;
    server = createServer({ key: await readFile(key, "utf8"), cert: certPem }, (socket) => socket.destroy());
    server.on("tlsClientError", () => {});
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `wss://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await new Promise((resolve) => server.close(resolve));
    await rm(dir, { recursive: true, force: true });
  });

  const probeHint = async (configuredIn: "file" | "plugin" | undefined) => {
    const config = {
      self: { name: "xiaoa" },
      stateDir: join(dir, `state-${configuredIn ?? "default"}`),
      outbox: { enabled: false },
      instances: { xiaom: { gateway: { url, token: "t-shared-1234" }, transports: ["sessions_send" as const] } },
    };
    const link = createMessenger({
      config,
      log: { level: "silent" },
      env: { OPENCLAW_CONFIG_PATH: join(dir, "none.json") },
      ...(configuredIn ? { configuredIn } : {}),
    });
    try {
      const [probe] = await link.probe("xiaom");
      expect(probe?.error?.code).toBe("TLS_UNTRUSTED");
      expect(probe?.error?.hint).toContain(fingerprint);
      return probe?.error?.hint ?? "";
    } finally {
      await link.close();
    }
  };

  it("configuredIn: plugin → the plugin config path; default → the CLI's add", async () => {
    const plugin = await probeHint("plugin");
    expect(plugin).toContain(`openclaw config set ${PLUGIN_PATH} "${fingerprint}"`);
    expect(plugin).not.toContain("openclaw-inter-instance add");
    expect(await probeHint(undefined)).toContain(`openclaw-inter-instance add xiaom --url ${url} --tls-fingerprint ${fingerprint}`);
  });
});
