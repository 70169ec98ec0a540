import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ConfigInput, createMessenger } from "../../src/index.js";
import { startGateway, type TestGateway } from "../harness/gateway.js";
import { type MockModelServer, startMockModel } from "../harness/mock-model.js";
import { gatewayRequest, readMemoryEntries, waitForRun } from "../harness/oracle.js";
import { testLog } from "../harness/secrets-watch.js";

// A target Gateway configured with a 32,000-token window, and a provider (the mock) that refuses
// prompts over 24,000 tokens with HTTP 400 context_length_exceeded, as a real one does when the
// configured window is larger than what it takes. OpenClaw then ends the turn with a
// "Context overflow" terminal-error row. No report may call such a message delivered.
const WINDOW = 32_000;
const PROVIDER_LIMIT = 24_000;
let mock: MockModelServer;
let gatewayB: TestGateway;
let scratch: string;

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), "oii-oversized-"));
  mock = await startMockModel({ contextWindow: PROVIDER_LIMIT });
  gatewayB = await startGateway({ modelBaseUrl: mock.url, name: "xiaom-oversized", contextWindow: WINDOW });
  await mkdir(gatewayB.workspace, { recursive: true });
});

afterAll(async () => {
  await gatewayB?.dispose();
  await mock?.close();
  await rm(scratch, { recursive: true, force: true });
});

async function messengerFor(sessionKey: string) {
  await gatewayRequest(gatewayB, "sessions.create", { key: sessionKey });
  const config: ConfigInput = {
    self: { name: "xiaoa" },
    stateDir: join(scratch, `client-${sessionKey.replaceAll(":", "-")}`),
    defaults: { circuitCooldownMs: 0 },
    instances: {
      xiaom: {
        gateway: { url: gatewayB.url, token: gatewayB.token },
        sessionKey,
        workspace: gatewayB.workspace,
        timeZone: "UTC",
        transports: ["sessions_send", "memory_file"],
      },
    },
  };
  const link = createMessenger({ config, log: testLog() });
  // The link is known before the first message (its hello read, nothing sent): on a first contact a
  // loaded machine can let the memory file win the race before sessions_send has the target's limits.
  expect(await link.probe("xiaom", { transports: ["sessions_send"] })).toMatchObject([{ transport: "sessions_send", ok: true }]);
  return link;
}

describe("a body too large for the target's model", () => {
  it("30,000 CJK characters (90 KB) into a 32,000-token window: refused before sending, with the fix, and carried by the memory file", async () => {
    const link = await messengerFor("agent:main:big-precheck");
    try {
      const body = `部署日志 ${"部".repeat(30_000)}`;
      const report = await link.send({ to: "xiaom", body });
      expect(report).toMatchObject({ ok: true, via: "memory_file", status: "written" });
      expect(report.attempts[0]).toMatchObject({
        transport: "sessions_send",
        outcome: "unavailable",
        error: { code: "TOO_LARGE_FOR_TARGET", hint: expect.stringContaining("sync files") },
      });
      expect((await readMemoryEntries(gatewayB.workspace)).filter((entry) => entry.id === report.id).map((entry) => entry.body)).toEqual([body]);
      // The refusal is about this message: the next small one still goes by sessions_send.
      expect(await link.send({ to: "xiaom", body: "small one REPLY:small" })).toMatchObject({ ok: true, via: "sessions_send" });
    } finally {
      await link.close();
    }
  });

  it("a body that passes the estimate but whose turn fails on context overflow: never recorded delivered; the flush carries it by the memory file", async () => {
    const link = await messengerFor("agent:main:big-overflow");
    try {
      // 20,000 CJK characters: under the estimate's 24,000 tokens (three quarters of the window), over what the provider takes once OpenClaw's own prompt is added.
      const body = `构建输出 ${"构".repeat(20_000)}`;
      const refusedBefore = mock.refused.length;
      const report = await link.send({ to: "xiaom", body });
      expect(report).toMatchObject({ ok: true, via: "sessions_send", status: "accepted" });
      const run = await waitForRun(gatewayB, report.id);
      expect(run.status).toBe("error");
      expect(mock.refused.length).toBeGreaterThan(refusedBefore);

      const reports = await link.outbox.flush({ all: true });
      const carried = reports.find((r) => r.id === report.id);
      expect(carried).toMatchObject({ ok: true, via: "memory_file" });
      expect(carried?.attempts[0]).toMatchObject({
        transport: "sessions_send",
        outcome: "skipped",
        skippedBecause: expect.stringContaining("too large for xiaom's model"),
      });
      expect((await readMemoryEntries(gatewayB.workspace)).filter((entry) => entry.id === report.id).map((entry) => entry.body)).toEqual([body]);
      expect(await link.outbox.list()).toEqual([]);
      // A second flush finds nothing to redo: the memory file's copy is the delivery.
      expect((await link.outbox.flush({ all: true })).filter((r) => r.id === report.id)).toEqual([]);
    } finally {
      await link.close();
    }
  });
});
