import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ConfigInput, createMessenger, type DeliveryReport } from "../../src/index.js";
import { type A2aTask, A2aTransport, a2aCall, a2aContextId, a2aTaskText } from "../../src/transports.js";
import { startA2aGateway } from "../harness/a2a-gateway.js";
import type { TestGateway } from "../harness/gateway.js";
import { type MockModelServer, startMockModel } from "../harness/mock-model.js";
import { readHistory, textOf } from "../harness/oracle.js";
import { testLog } from "../harness/secrets-watch.js";

/**
 * Issue 25 item 4, against a real Gateway: the A2A channel completes the oldest open task of a
 * conversation with each reply, and its inbound de-duplication runs no turn for a message id it
 * has seen, so a duplicate leaves a task open and shifts every later reply onto the task before.
 * The sender must notice and move to a fresh contextId instead of waiting out each attempt.
 */

const PEER_TOKEN = `peer-${randomBytes(12).toString("hex")}`;
const LOOP_TOKEN = `loop-${randomBytes(12).toString("hex")}`;
/** The attempt budget: the old transport waited all of it in its pacing gate, then gave up. */
const A2A_ATTEMPT_MS = 60_000;
/** How long a task may stay open here before its conversation counts as wedged (5 min by default). */
const WEDGED_AFTER_MS = 15_000;
const POLL_MS = 1_000;

let mock: MockModelServer;
let gatewayB: TestGateway;
let scratch: string;

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), "oii-a2a-wedge-"));
  mock = await startMockModel();
  gatewayB = await startA2aGateway({ modelBaseUrl: mock.url, name: "xiaom-a2a-wedge", peerToken: PEER_TOKEN, loopToken: LOOP_TOKEN, rateLimitPerMinute: 0 });
  // Let the first (cold) turn settle, in a context of its own.
  const target = { endpoint: `${gatewayB.httpUrl}/a2a/v1`, token: PEER_TOKEN, tokenSource: "test" };
  const { task } = await a2aCall<{ task: A2aTask }>(
    target,
    "SendMessage",
    { message: { role: "ROLE_USER", parts: [{ text: "warm-up" }] } },
    AbortSignal.timeout(150_000),
  );
  const deadline = Date.now() + 150_000;
  for (let state = task.status?.state; state === "TASK_STATE_WORKING" && Date.now() < deadline; ) {
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    state = (await a2aCall<A2aTask>(target, "GetTask", { id: task.id }, AbortSignal.timeout(10_000))).status?.state;
  }
});

afterAll(async () => {
  await gatewayB?.dispose();
  await mock?.close();
  await rm(scratch, { recursive: true, force: true });
});

/** A sender with its own state dir (outbox and A2A ledger), sending by a2a only. */
function sender(name: string) {
  const stateDir = join(scratch, name);
  const config: ConfigInput = {
    self: { name: "xiaoa" },
    stateDir,
    instances: { xiaom: { a2a: { url: gatewayB.httpUrl, token: PEER_TOKEN }, transports: ["a2a"], timeouts: { a2a: A2A_ATTEMPT_MS } } },
  };
  return createMessenger({ config, log: testLog(), transports: [new A2aTransport("xiaoa", process.env, { stateDir, wedgedAfterMs: WEDGED_AFTER_MS })] });
}

async function taskOf(report: DeliveryReport): Promise<A2aTask> {
  const target = { endpoint: `${gatewayB.httpUrl}/a2a/v1`, token: PEER_TOKEN, tokenSource: "test" };
  return a2aCall<A2aTask>(target, "GetTask", { id: String(report.receipt?.detail.taskId) }, AbortSignal.timeout(10_000));
}

const replyOf = async (report: DeliveryReport) => {
  const task = await taskOf(report);
  return task.status?.state === "TASK_STATE_COMPLETED" ? a2aTaskText(task) : task.status?.state;
};

describe("a2a against a real Gateway: a conversation wedged by a duplicate message id", () => {
  it("moves to a fresh contextId instead of stalling, and each later reply is its own again", async () => {
    const link = sender("a");
    const amnesiac = sender("amnesiac");
    try {
      const first = await link.send({ to: "xiaom", body: "first REPLY:one" });
      expect(first).toMatchObject({ ok: true, via: "a2a" });
      expect(first.receipt?.detail.contextId).toBe(a2aContextId("xiaoa"));
      await expect.poll(() => replyOf(first), { timeout: 90_000, interval: POLL_MS }).toBe("ACK one");

      // A second flusher without this sender's records sends the same envelope: the Gateway
      // de-duplicates the message and runs no turn, and its task stays open.
      const duplicate = await amnesiac.send({ to: "xiaom", body: "first REPLY:one", id: first.id }, { queue: false });
      expect(duplicate).toMatchObject({ ok: true, via: "a2a", status: "accepted" });
      expect(duplicate.receipt?.detail.contextId).toBe(a2aContextId("xiaoa"));

      // The next message's turn runs, and its reply completes the duplicate's task, not its own.
      const second = await link.send({ to: "xiaom", body: "second REPLY:two" });
      expect(second).toMatchObject({ ok: true, via: "a2a", status: "accepted" });
      await expect.poll(() => replyOf(duplicate), { timeout: 90_000, interval: POLL_MS }).toBe("ACK two");
      expect((await taskOf(second)).status?.state).toBe("TASK_STATE_WORKING");

      // The third would wait for the second for good: the sender moves on once it has been open past the bound.
      const started = Date.now();
      const third = await link.send({ to: "xiaom", body: "third REPLY:three" });
      const waited = Date.now() - started;
      expect(third, JSON.stringify(third.attempts)).toMatchObject({ ok: true, via: "a2a" });
      expect(waited).toBeLessThan(A2A_ATTEMPT_MS);
      const fresh = String(third.receipt?.detail.contextId);
      expect(fresh).not.toBe(a2aContextId("xiaoa"));
      expect(fresh.startsWith(`${a2aContextId("xiaoa")}:`)).toBe(true);
      await expect.poll(() => replyOf(third), { timeout: 90_000, interval: POLL_MS }).toBe("ACK three");

      const fourth = await link.send({ to: "xiaom", body: "fourth REPLY:four" });
      expect(fourth).toMatchObject({ ok: true, via: "a2a" });
      expect(fourth.receipt?.detail.contextId).toBe(fresh);
      await expect.poll(() => replyOf(fourth), { timeout: 90_000, interval: POLL_MS }).toBe("ACK four");

      // On the target, the fresh conversation is a session of its own holding the third and fourth message, once each.
      const rows = (await readHistory(gatewayB, `agent:main:a2a:default:direct:xiaoa:${fresh}`.toLowerCase())).filter((row) => row.role === "user");
      for (const report of [third, fourth]) expect(rows.filter((row) => textOf(row.content).includes(`id ${report.id}]`))).toHaveLength(1);
      // Every message reached the model once (the warm-up, one, two, three, four): nothing was sent twice.
      for (const tag of ["REPLY:one", "REPLY:two", "REPLY:three", "REPLY:four"]) {
        const turns = mock.requests.filter((request) => {
          const users = (request.body.messages ?? []).filter((message) => message.role === "user").map((message) => textOf(message.content));
          return users.findLast((text) => !text.startsWith("<<<BEGIN_OPENCLAW_INTERNAL_CONTEXT>>>"))?.includes(tag);
        });
        expect(turns.length, tag).toBe(1);
      }
    } finally {
      await amnesiac.close();
      await link.close();
    }
  }, 420_000);
});
