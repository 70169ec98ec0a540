import { randomBytes, randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ConfigInput, createMessenger } from "../../src/index.js";
import { type A2aTask, a2aCall, a2aContextId, a2aTaskText } from "../../src/transports.js";
import { hostileBody, sentinelPath } from "../fixtures/hostile.js";
import { startA2aGateway } from "../harness/a2a-gateway.js";
import type { TestGateway } from "../harness/gateway.js";
import { type MockModelServer, startMockModel } from "../harness/mock-model.js";
import { readHistory, readMemoryEntries, textOf } from "../harness/oracle.js";
import { testLog } from "../harness/secrets-watch.js";

const PEER_TOKEN = `peer-${randomBytes(12).toString("hex")}`;
const LOOP_TOKEN = `loop-${randomBytes(12).toString("hex")}`;
let mock: MockModelServer;
let gatewayB: TestGateway;
let scratch: string;

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), "oii-a2a-"));
  mock = await startMockModel();
  gatewayB = await startA2aGateway({ modelBaseUrl: mock.url, name: "xiaom-a2a", peerToken: PEER_TOKEN, loopToken: LOOP_TOKEN });
  // The Gateway creates its workspace at the first turn; the fallback tests must not depend on one.
  await mkdir(gatewayB.workspace, { recursive: true });
  // Under load, the first turn right after start can fail inside OpenClaw ("another OpenClaw process
  // owns state-lifecycle", a startup race in the target, not in the transport). Let one turn settle first.
  const target = { endpoint: `${gatewayB.httpUrl}/a2a/v1`, token: PEER_TOKEN, tokenSource: "test" };
  const warmUpDeadline = Date.now() + 150_000;
  const { task } = await a2aCall<{ task: A2aTask }>(
    target,
    "SendMessage",
    { message: { role: "ROLE_USER", parts: [{ text: "warm-up" }] } },
    AbortSignal.timeout(150_000),
  );
  for (let state = task.status?.state; state === "TASK_STATE_WORKING"; ) {
    if (Date.now() > warmUpDeadline) break;
    await new Promise((resolve) => setTimeout(resolve, A2A_POLL_MS));
    state = (await a2aCall<A2aTask>(target, "GetTask", { id: task.id }, AbortSignal.timeout(10_000))).status?.state;
  }
});

afterAll(async () => {
  await gatewayB?.dispose();
  await mock?.close();
  await rm(scratch, { recursive: true, force: true });
});

/** The channel answers at most 30 requests a minute per peer (polls included): stay well under it. */
const A2A_POLL_MS = 2_500;

function configFor(token = PEER_TOKEN): ConfigInput {
  return {
    self: { name: "xiaoa" },
    stateDir: join(scratch, "client-state"),
    instances: {
      xiaom: { aliases: ["小m"], a2a: { url: gatewayB.httpUrl, token }, workspace: gatewayB.workspace, transports: ["a2a", "memory_file"] },
    },
  };
}

const sessionKey = `agent:main:a2a:default:direct:xiaoa:${a2aContextId("xiaoa")}`.toLowerCase();

async function userRowsWith(marker: string) {
  return (await readHistory(gatewayB, sessionKey)).filter((row) => row.role === "user" && textOf(row.content).includes(marker));
}

describe("a2a transport against a real Gateway with channels.a2a enabled", () => {
  it("hands a hostile body to the target's agent once, byte-exact, and the reply can be polled", async () => {
    const client = createMessenger({ config: configFor(), log: testLog() });
    try {
      const marker = randomUUID();
      const body = `${hostileBody(sentinelPath(scratch), marker).replaceAll("\r\n", "\n")}\nREPLY:a2a`;
      const report = await client.send({ to: "小m", body });
      expect(report).toMatchObject({ ok: true, via: "a2a" });
      expect(["accepted", "delivered"]).toContain(report.status);
      const taskId = String(report.receipt?.detail.taskId);
      const endpoint = client.registry.resolve("xiaom").a2a!;
      await expect
        .poll(async () => (await a2aCall<A2aTask>(endpoint, "GetTask", { id: taskId }, AbortSignal.timeout(10_000))).status?.state, {
          timeout: 90_000,
          interval: A2A_POLL_MS,
        })
        .not.toBe("TASK_STATE_WORKING");
      const done = await a2aCall<A2aTask>(endpoint, "GetTask", { id: taskId }, AbortSignal.timeout(10_000));
      expect(done.status?.state, a2aTaskText(done)).toBe("TASK_STATE_COMPLETED");
      expect(a2aTaskText(done)).toBe("ACK a2a");
      const rows = await userRowsWith(marker);
      expect(rows).toHaveLength(1);
      expect(textOf(rows[0]?.content)).toContain(body);
      expect(existsSync(sentinelPath(scratch))).toBe(false);
    } finally {
      await client.close();
    }
  });

  it("a wrong peer token is unavailable with the fix, and the memory file takes over", async () => {
    const client = createMessenger({ config: configFor("not-the-peer-token"), log: testLog() });
    try {
      const report = await client.send({ to: "xiaom", body: "wrong peer token" });
      expect(report.attempts[0]).toMatchObject({ transport: "a2a", outcome: "unavailable", error: { code: "AUTH_FAILED" } });
      expect(report).toMatchObject({ ok: true, via: "memory_file" });
      expect(JSON.stringify(report)).not.toContain("not-the-peer-token");
    } finally {
      await client.close();
    }
  });

  it("a body with a carriage return skips a2a (the channel would rewrite it) and goes by the next transport byte-exact", async () => {
    const client = createMessenger({ config: configFor(), log: testLog() });
    try {
      const body = `windows line\r\nendings ${randomUUID()}`;
      const report = await client.send({ to: "xiaom", body });
      expect(report.attempts[0]).toMatchObject({ transport: "a2a", outcome: "skipped" });
      expect((await readMemoryEntries(gatewayB.workspace)).find((entry) => entry.id === report.id)?.body).toBe(body);
    } finally {
      await client.close();
    }
  });

  it("a body over the channel's 64 KiB text limit skips a2a before sending instead of being truncated", async () => {
    const client = createMessenger({ config: configFor(), log: testLog() });
    try {
      const report = await client.send({ to: "xiaom", body: "x".repeat(70 * 1024) });
      expect(report.attempts[0]).toMatchObject({ transport: "a2a", outcome: "skipped" });
      expect(report.attempts[0]?.skippedBecause).toMatch(/65536/u);
      expect(report.via).toBe("memory_file");
      expect((await readMemoryEntries(gatewayB.workspace)).find((entry) => entry.id === report.id)?.body).toHaveLength(70 * 1024);
    } finally {
      await client.close();
    }
  });

  it("a resend of a delivered envelope id is answered from the sender's record and never reaches the target twice", async () => {
    const client = createMessenger({ config: configFor(), log: testLog() });
    try {
      const marker = randomUUID();
      const first = await client.send({ to: "xiaom", body: `repeat ${marker}` });
      expect(first.via).toBe("a2a");
      const endpoint = client.registry.resolve("xiaom").a2a!;
      await expect
        .poll(
          async () => (await a2aCall<A2aTask>(endpoint, "GetTask", { id: String(first.receipt?.detail.taskId) }, AbortSignal.timeout(10_000))).status?.state,
          { timeout: 60_000, interval: A2A_POLL_MS },
        )
        .toBe("TASK_STATE_COMPLETED");
      const second = await client.send({ to: "xiaom", body: `repeat ${marker}`, id: first.id });
      expect(second).toMatchObject({ ok: true, via: "a2a", attempts: [], repeatOf: { deliveredAt: expect.any(String) } });
      expect(second.receipt?.detail.taskId).toBe(first.receipt?.detail.taskId);
      // A sender that lost its record (another machine, wiped state) resends over a2a only: the target's
      // inbound de-duplication keeps it to one turn, whatever the resend answers.
      const amnesiac = createMessenger({ config: { ...configFor(), stateDir: join(scratch, "amnesiac-state") }, log: testLog() });
      try {
        const third = await amnesiac.send({ to: "xiaom", body: `repeat ${marker}`, id: first.id }, { transports: ["a2a"], queue: false });
        expect(third.repeatOf).toBeUndefined();
        expect(third.attempts.map((attempt) => attempt.transport)).toEqual(["a2a"]);
      } finally {
        await amnesiac.close();
      }
      // A turn for a repeat would show within a few seconds, as the first one did.
      await new Promise((resolve) => setTimeout(resolve, 10_000));
      expect(await userRowsWith(marker)).toHaveLength(1);
      // Every later request of this session would carry the marker in its history; none may follow the first.
      const turns = mock.requests.filter((request) => JSON.stringify(request.body.messages ?? []).includes(marker));
      expect(turns).toHaveLength(1);
    } finally {
      await client.close();
    }
  });
});

describe("message_tool through a real Gateway's send RPC", () => {
  function messageToolConfig(messageTool: NonNullable<ConfigInput["instances"][string]["messageTool"]>): ConfigInput {
    return {
      self: { name: "xiaoa" },
      stateDir: join(scratch, "client-state"),
      instances: {
        xiaom: {
          gateway: { url: gatewayB.url, token: gatewayB.token },
          messageTool,
          workspace: gatewayB.workspace,
          transports: ["message_tool", "memory_file"],
        },
      },
    };
  }

  it("sends on a configured channel once, also when the same envelope is sent again", async () => {
    const client = createMessenger({ config: messageToolConfig({ channel: "a2a", to: "loop" }), log: testLog() });
    try {
      const marker = randomUUID();
      const body = `for the human ${marker} $(touch ${sentinelPath(scratch)})`;
      const report = await client.send({ to: "xiaom", body });
      expect(report).toMatchObject({ ok: true, via: "message_tool", status: "delivered", receipt: { detail: { channel: "a2a", to: "loop" } } });
      expect((await client.send({ to: "xiaom", body, id: report.id })).repeatOf).toBeDefined();
      // Without the sender's record the resend reaches the Gateway, whose idempotency key keeps it to one message.
      const forgetful = createMessenger({ config: { ...messageToolConfig({ channel: "a2a", to: "loop" }), outbox: { enabled: false } }, log: testLog() });
      try {
        expect((await forgetful.send({ to: "xiaom", body, id: report.id })).via).toBe("message_tool");
      } finally {
        await forgetful.close();
      }
      const loopSession = "agent:main:a2a:default:direct:loop:ctx-oc-loop";
      const rows = async () => (await readHistory(gatewayB, loopSession)).filter((row) => row.role === "user" && textOf(row.content).includes(marker));
      await expect.poll(async () => (await rows()).length, { timeout: 60_000, interval: 1000 }).toBe(1);
      await new Promise((resolve) => setTimeout(resolve, 5000));
      expect(await rows()).toHaveLength(1);
      expect(textOf((await rows())[0]?.content)).toContain(body);
      expect(existsSync(sentinelPath(scratch))).toBe(false);
    } finally {
      await client.close();
    }
  });

  it("a channel the Gateway does not have is unavailable with the fix, and the next transport takes over", async () => {
    const client = createMessenger({ config: messageToolConfig({ channel: "telegram", to: "123456789" }), log: testLog() });
    try {
      const report = await client.send({ to: "xiaom", body: "no telegram here" });
      expect(report.attempts[0]).toMatchObject({ transport: "message_tool", outcome: "unavailable", error: { code: "CHANNEL_NOT_CONFIGURED" } });
      expect(report.attempts[0]?.error?.hint).toMatch(/channels add/u);
      expect(report.via).toBe("memory_file");
    } finally {
      await client.close();
    }
  });

  it("refuses a bot recipient before sending, with the reason", async () => {
    const client = createMessenger({ config: messageToolConfig({ channel: "telegram", to: "@xiaom_bot", recipient: "bot" }), log: testLog() });
    try {
      const report = await client.send({ to: "xiaom", body: "bot to bot" });
      expect(report.attempts[0]).toMatchObject({ transport: "message_tool", outcome: "skipped", tries: 0 });
      expect(report.attempts[0]?.skippedBecause).toMatch(/403/u);
    } finally {
      await client.close();
    }
  });
});
