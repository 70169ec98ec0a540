import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DeviceIdentityStore, decodeSetupCode, pairWithSetupCode } from "../../src/gateway.js";
import { type ConfigInput, createMessenger, type Messenger } from "../../src/index.js";
import { approvedMessenger } from "../harness/approval.js";
import { LEGACY_OPENCLAW_VERSION, openclawOnHost, type TestGateway } from "../harness/gateway.js";
import { type Host, hostsOrSkip } from "../harness/netns.js";
import { readUserTexts } from "../harness/oracle.js";
import { type GatewayOnHost, startGatewayOnHost } from "../harness/remote-gateway.js";
import { testLog } from "../harness/secrets-watch.js";

// Machines are not upgraded together: Xiaom's Gateway runs the older OpenClaw release, in its own
// namespace, and this side the pinned one's client. What works is tested; what the older Gateway
// lacks is skipped below with the reason.
const run = await hostsOrSkip("mixed-versions.test.ts");

let remote: GatewayOnHost;
let b: Host;
let gatewayB: TestGateway;
let scratch: string;

beforeAll(async () => {
  if (!run) return;
  scratch = await mkdtemp(join(tmpdir(), "oii-mixed-"));
  remote = await startGatewayOnHost({ name: "xiaom-legacy", gateway: { bind: "lan", legacy: true } });
  ({ host: b, gateway: gatewayB } = remote);
}, 240_000);

afterAll(async () => {
  await remote?.dispose();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

function config(stateDir: string, gateway: ConfigInput["instances"][string]["gateway"]): ConfigInput {
  return {
    self: { name: "xiaoa" },
    stateDir: join(scratch, stateDir),
    instances: { xiaom: { gateway, transports: ["sessions_send"], timeouts: { sessions_send: 10_000 } } },
  };
}

function legacyClient(stateDir: string): Promise<Messenger> {
  return approvedMessenger(config(stateDir, { url: gatewayB.url, token: gatewayB.token }), { host: b, gateway: gatewayB });
}

describe.skipIf(!run)(`a Gateway on OpenClaw ${LEGACY_OPENCLAW_VERSION} across the link`, () => {
  it("sessions_send: paired with the shared token, delivered once; ask gets the answer", async () => {
    const link = await legacyClient("shared");
    try {
      const marker = `to the older Gateway ${Date.now()}`;
      expect(await link.send({ to: "xiaom", body: marker })).toMatchObject({ ok: true, via: "sessions_send" });
      await expect.poll(async () => (await readUserTexts(gatewayB)).filter((text) => text.includes(marker)).length, { timeout: 30_000 }).toBe(1);
      await new Promise((resolve) => setTimeout(resolve, 3000));
      const answer = await link.ask({ to: "xiaom", body: "are you there? REPLY:legacy" }, { timeoutMs: 60_000 });
      expect(answer).toMatchObject({ ok: true, reply: "ACK legacy" });
    } finally {
      await link.close();
    }
  }, 120_000);

  it("doctor shows its version and protocol, and warns what an older Gateway lacks", async () => {
    const link = await legacyClient("shared");
    try {
      const report = await link.doctor({ instance: "xiaom" });
      const gateway = report.checks.find((check) => check.check === "gateway");
      expect(gateway).toMatchObject({ status: "warn", summary: expect.stringContaining(`OpenClaw ${LEGACY_OPENCLAW_VERSION}, protocol 4`) });
      expect(gateway?.fix).toMatch(/openclaw update/u);
    } finally {
      await link.close();
    }
  });

  it("pairing from its setup code (no --limited and no expiry in that release): the device token works without the shared token", async () => {
    const qr = await openclawOnHost(b, gatewayB, ["qr", "--setup-code-only", "--url", gatewayB.url]);
    expect(qr.code, qr.stderr).toBe(0);
    const setupCode = decodeSetupCode(qr.stdout.trim().split("\n").pop()!);
    expect(setupCode.expiresAt).toBeUndefined();
    const identity = new DeviceIdentityStore(join(scratch, "by-code"));
    const paired = await pairWithSetupCode({
      setupCode,
      identity,
      retryMs: 1000,
      timeoutMs: 60_000,
      onPending: ({ requestId }) => void openclawOnHost(b, gatewayB, ["devices", "approve", requestId!, "--json"]),
    });
    expect(paired.scopes).toEqual(expect.arrayContaining(["operator.write"]));
    const link = createMessenger({ config: config("by-code", { url: gatewayB.url }), log: testLog() });
    try {
      expect(await link.send({ to: "xiaom", body: "paired by the older Gateway's code" })).toMatchObject({ ok: true, via: "sessions_send" });
    } finally {
      await link.close();
    }
  }, 120_000);

  it.skip(`a2a: ${LEGACY_OPENCLAW_VERSION} has no A2A channel (a config with channels.a2a stops it: "unknown channel id: a2a")`, () => {});
  it.skip(`qr --limited: ${LEGACY_OPENCLAW_VERSION} does not know the option; its setup code hands off the operator token it has`, () => {});
  it.skip(`a busy session: on ${LEGACY_OPENCLAW_VERSION} a message sent while a turn runs is folded into the next turn or lost (no pendingInputs to pace by); doctor warns`, () => {});
});
