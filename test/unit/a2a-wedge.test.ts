import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { TransientError, UnavailableError } from "../../src/core/errors.js";
import { type ConfigInput, createLogger, createMessenger } from "../../src/index.js";
import { A2aLedger, a2aContextId } from "../../src/transports/a2a/ledger.js";
import { A2aTransport, a2aFollowUpOf, sendLeftNoTask, wedgedTaskOf } from "../../src/transports/a2a/transport.js";

interface FakeTask {
  id: string;
  contextId: string;
  messageId: string;
  status: { state: string; message?: { parts: { text: string }[] } };
  artifacts: { parts: { text: string }[] }[];
}

/**
 * A stand-in for the 2026.9.x A2A channel with the two behaviours that wedge a conversation: each
 * reply completes the oldest open task of its context (`completeNext`), and a message id seen
 * before (for this peer, in any context) runs no turn, so its task stays open. A turn answers
 * `ACK <tag>` for a `REPLY:<tag>` in the text, after `turnMs`; a text with `NO_REPLY` ends its turn
 * without reply text, which completes no task either.
 */
async function fakeChannel(options: { turnMs?: number; answerDelayMs?: number } = {}) {
  const turnMs = options.turnMs ?? 150;
  const tasks = new Map<string, FakeTask>();
  const fifo = new Map<string, string[]>();
  const seenMessageIds = new Set<string>();
  const sends: { messageId: string; contextId: string; openInContext: number }[] = [];
  /** Answer the next SendMessage by making its task and then dropping the connection. */
  let dropNextAnswer = false;
  const completeNext = (contextId: string, text: string) => {
    const queue = fifo.get(contextId) ?? [];
    const id = queue.shift();
    const task = id ? tasks.get(id) : undefined;
    if (!task) return;
    task.status = { state: "TASK_STATE_COMPLETED" };
    task.artifacts = [{ parts: [{ text }] }];
  };
  const server: Server = createServer((req, res) => {
    let raw = "";
    req.on("data", (chunk: Buffer) => (raw += chunk.toString()));
    req.on("end", () => {
      const call = JSON.parse(raw) as {
        id: string;
        method: string;
        params: { id?: string; message?: { messageId: string; contextId: string; parts: { text: string }[] } };
      };
      const answer = (result: unknown) => res.end(JSON.stringify({ jsonrpc: "2.0", id: call.id, result }));
      if (call.method === "SendMessage") {
        const message = call.params.message!;
        const queue = fifo.get(message.contextId) ?? [];
        sends.push({ messageId: message.messageId, contextId: message.contextId, openInContext: queue.length });
        const task: FakeTask = {
          id: `task-${tasks.size}`,
          contextId: message.contextId,
          messageId: message.messageId,
          status: { state: "TASK_STATE_WORKING" },
          artifacts: [],
        };
        tasks.set(task.id, task);
        queue.push(task.id);
        fifo.set(message.contextId, queue);
        const text = message.parts.map((part) => part.text).join("");
        if (!seenMessageIds.has(message.messageId) && !text.includes("NO_REPLY")) {
          seenMessageIds.add(message.messageId);
          const tag = /REPLY:(\w+)/u.exec(text)?.[1] ?? "none";
          setTimeout(() => completeNext(message.contextId, `ACK ${tag}`), turnMs);
        }
        if (dropNextAnswer) {
          dropNextAnswer = false;
          req.socket.destroy();
          return;
        }
        setTimeout(() => answer({ task }), options.answerDelayMs ?? 0);
        return;
      }
      const task = tasks.get(String(call.params.id));
      if (!task) {
        res.end(JSON.stringify({ jsonrpc: "2.0", id: call.id, error: { code: -32001, message: "Task not found" } }));
        return;
      }
      answer(task);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    sends,
    tasks,
    finish(id: string, state: string, reason: string) {
      const task = tasks.get(id)!;
      const queue = fifo.get(task.contextId) ?? [];
      queue.splice(queue.indexOf(id), 1);
      task.status = { state, message: { parts: [{ text: reason }] } };
    },
    forget: (id: string) => tasks.delete(id),
    dropNextAnswer: () => (dropNextAnswer = true),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const step of cleanup.reverse()) await step();
  cleanup = [];
});

async function setUp(options: { wedgedAfterMs?: number; a2aTimeoutMs?: number; answerDelayMs?: number } = {}) {
  const channel = await fakeChannel(options);
  const scratch = mkdtempSync(join(tmpdir(), "oii-a2a-wedge-"));
  cleanup.push(channel.close, async () => rmSync(scratch, { recursive: true, force: true }));
  const config = (stateDir: string): ConfigInput => ({
    self: { name: "xiaoa" },
    stateDir,
    instances: { xiaom: { a2a: { url: channel.url, token: "peer-token-1234" }, transports: ["a2a"], timeouts: { a2a: options.a2aTimeoutMs ?? 20_000 } } },
  });
  /** `ledger`: whose A2A ledger it shares (the same state dir by default; another to share only that). */
  const messenger = (name: string, ledger = name) => {
    const stateDir = join(scratch, name);
    const transport = new A2aTransport("xiaoa", process.env, { stateDir: join(scratch, ledger), wedgedAfterMs: options.wedgedAfterMs ?? 1_500 });
    const link = createMessenger({ config: config(stateDir), log: { level: "silent" }, transports: [transport] });
    cleanup.push(() => link.close());
    return link;
  };
  return { channel, scratch, messenger };
}

const taskOf = (report: { receipt?: { detail: Record<string, unknown> } | undefined }) => String(report.receipt?.detail.taskId);

describe("a2a: a wedged conversation", () => {
  it("a duplicate message id leaves a task open; the sender notices and moves to a fresh contextId instead of stalling", async () => {
    const { channel, messenger } = await setUp();
    const link = messenger("a");
    const first = await link.send({ to: "xiaom", body: "one REPLY:one" });
    await expect.poll(() => channel.tasks.get(taskOf(first))?.status.state).toBe("TASK_STATE_COMPLETED");
    // Another sender (its own state) sends the same envelope again: the channel runs no turn for it.
    const amnesiac = messenger("amnesiac");
    await amnesiac.send({ to: "xiaom", body: "one REPLY:one", id: first.id }, { queue: false });
    const second = await link.send({ to: "xiaom", body: "two REPLY:two" });
    // Its reply went to the duplicate's task: the second task stays open for good.
    await expect
      .poll(() => [...channel.tasks.values()].find((task) => task.messageId === first.id && task.id !== taskOf(first))?.artifacts[0]?.parts[0]?.text)
      .toBe("ACK two");
    expect(channel.tasks.get(taskOf(second))?.status.state).toBe("TASK_STATE_WORKING");

    const started = Date.now();
    const third = await link.send({ to: "xiaom", body: "three REPLY:three" });
    expect(third).toMatchObject({ ok: true, via: "a2a", status: "accepted" });
    expect(Date.now() - started).toBeLessThan(10_000);
    const fresh = String(third.receipt?.detail.contextId);
    expect(fresh).not.toBe(a2aContextId("xiaoa"));
    expect(fresh.startsWith(`${a2aContextId("xiaoa")}:`)).toBe(true);
    await expect.poll(() => channel.tasks.get(taskOf(third))?.artifacts[0]?.parts[0]?.text).toBe("ACK three");
    // The next one stays in the fresh conversation, and its reply is its own again.
    const fourth = await link.send({ to: "xiaom", body: "four REPLY:four" });
    expect(fourth.receipt?.detail.contextId).toBe(fresh);
    await expect.poll(() => channel.tasks.get(taskOf(fourth))?.artifacts[0]?.parts[0]?.text).toBe("ACK four");
    // Another process of the same instance (same state dir) joins the fresh conversation at once.
    const sibling = messenger("a");
    const fifth = await sibling.send({ to: "xiaom", body: "five REPLY:five" });
    expect(fifth.receipt?.detail.contextId).toBe(fresh);
    expect(channel.sends.filter((send) => send.contextId === fresh).map((send) => send.openInContext)).toEqual([0, 0, 0]);
  }, 60_000);

  it("a task open past the bound wedges the conversation also when another process of the instance sent it", async () => {
    const { channel, messenger } = await setUp({ wedgedAfterMs: 2_000 });
    const stuck = await messenger("shared").send({ to: "xiaom", body: "silent NO_REPLY" });
    expect(stuck.status).toBe("accepted");
    const started = Date.now();
    const next = await messenger("shared").send({ to: "xiaom", body: "next REPLY:next" });
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_000);
    expect(channel.tasks.get(taskOf(stuck))?.status.state).toBe("TASK_STATE_WORKING");
    expect(next.receipt?.detail.contextId).not.toBe(a2aContextId("xiaoa"));
    expect(channel.sends.map((send) => send.openInContext)).toEqual([0, 0]);
    await expect.poll(() => channel.tasks.get(taskOf(next))?.artifacts[0]?.parts[0]?.text).toBe("ACK next");
  }, 30_000);

  it("a send whose answer was lost is not sent into the conversation again: a repeat goes to a one-off context", async () => {
    const { channel, messenger } = await setUp();
    const link = messenger("a");
    channel.dropNextAnswer();
    const lostAnswer = await link.send({ to: "xiaom", body: "answer lost REPLY:lost" });
    expect(lostAnswer.ok).toBe(false);
    const again = await link.outbox.flush({ all: true });
    expect(again[0]).toMatchObject({ ok: true, via: "a2a" });
    expect(String(again[0]?.receipt?.detail.contextId)).toMatch(/:repeat-[0-9a-f]{12}$/u);
    expect(again[0]?.receipt?.detail.repeat).toBe(true);
    // The main conversation is not wedged by the repeat's task (which never ends: the channel had it already).
    const next = await link.send({ to: "xiaom", body: "next REPLY:next" });
    expect(next.receipt?.detail.contextId).toBe(a2aContextId("xiaoa"));
    await expect.poll(() => channel.tasks.get(taskOf(next))?.artifacts[0]?.parts[0]?.text).toBe("ACK next");
  }, 30_000);

  it("sends of one process go one at a time, also when started together", async () => {
    const { channel, messenger } = await setUp();
    const link = messenger("a");
    const reports = await Promise.all(["a", "b", "c"].map((tag) => link.send({ to: "xiaom", body: `burst REPLY:${tag}` })));
    expect(reports.map((report) => report.via)).toEqual(["a2a", "a2a", "a2a"]);
    expect(channel.sends.map((send) => send.openInContext)).toEqual([0, 0, 0]);
  }, 30_000);

  it("the same envelope sent by a second flusher (its own outbox, the same ledger) is answered from the first one's task", async () => {
    const { channel, messenger } = await setUp();
    const first = await messenger("one", "shared").send({ to: "xiaom", body: "once REPLY:once" });
    const second = await messenger("two", "shared").send({ to: "xiaom", body: "once REPLY:once", id: first.id });
    expect(second.repeatOf).toBeUndefined();
    expect(taskOf(second)).toBe(taskOf(first));
    expect(second.receipt?.detail.sentBefore).toBe(true);
    expect(channel.sends).toHaveLength(1);
  }, 30_000);
});

describe("a2a: two flushers with one ledger", () => {
  it("sending the same envelope at the same time: one request, both get its task", async () => {
    const { channel, messenger } = await setUp({ answerDelayMs: 600 });
    const id = `same-${Date.now()}`;
    const [one, two] = await Promise.all([
      messenger("one", "shared").send({ to: "xiaom", body: "together REPLY:together", id }),
      messenger("two", "shared").send({ to: "xiaom", body: "together REPLY:together", id }),
    ]);
    expect(channel.sends).toHaveLength(1);
    expect(taskOf(one)).toBe(taskOf(two));
    expect([one.receipt?.detail.sentBefore, two.receipt?.detail.sentBefore].filter(Boolean)).toHaveLength(1);
  }, 30_000);
});

describe("a2a: following up an accepted task", () => {
  it("a task that failed after acceptance is lost, and the outbox sends it again under a fresh message id", async () => {
    const { channel, messenger } = await setUp();
    const link = messenger("a");
    const report = await link.send({ to: "xiaom", body: "will fail" });
    expect(report.status).toBe("accepted");
    channel.finish(taskOf(report), "TASK_STATE_FAILED", "the turn crashed");
    const flushed = await link.outbox.flush({ all: true });
    expect(flushed[0]).toMatchObject({ ok: true, via: "a2a", id: report.id });
    expect(channel.sends.map((send) => send.messageId)).toEqual([report.id, `${report.id}:redelivery-1`]);
  }, 30_000);

  it.each([
    ["TASK_STATE_FAILED", "boom", { status: "lost", reason: expect.stringContaining("TASK_STATE_FAILED after it had accepted it: boom") }],
    ["TASK_STATE_CANCELED", "stopped", { status: "lost", reason: expect.stringContaining("TASK_STATE_CANCELED") }],
    ["TASK_STATE_REJECTED", "A2A channel declined the turn: drop", { status: "lost", reason: expect.stringContaining("declined the turn") }],
    ["TASK_STATE_REJECTED", "A2A peer was blocked by channel ingress policy", { status: "refused", reason: expect.stringContaining("ingress policy") }],
    ["TASK_STATE_COMPLETED", "", { status: "delivered" }],
    ["TASK_STATE_WORKING", "", { status: "waiting" }],
    ["TASK_STATE_SUBMITTED", "", { status: "waiting" }],
  ])(
    "followUp of a task in %s (%s)",
    async (state, reason, expected) => {
      const { channel, messenger, scratch } = await setUp();
      const link = messenger("a");
      // A task that is to stay open must not be finished by the fake channel's own turn (which a loaded machine lets win the race).
      const staysOpen = state === "TASK_STATE_WORKING" || state === "TASK_STATE_SUBMITTED";
      const report = await link.send({ to: "xiaom", body: staysOpen ? "follow me NO_REPLY" : "follow me" });
      if (state === "TASK_STATE_COMPLETED") await expect.poll(() => channel.tasks.get(taskOf(report))?.status.state).toBe(state);
      else if (state !== "TASK_STATE_WORKING") channel.finish(taskOf(report), state, reason);
      if (state === "TASK_STATE_SUBMITTED") channel.tasks.get(taskOf(report))!.status = { state };
      const transport = new A2aTransport("xiaoa", process.env, { stateDir: join(scratch, "a") });
      cleanup.push(() => transport.close());
      const envelope = { v: 1 as const, id: report.id, from: "xiaoa", to: "xiaom", body: "follow me", createdAt: new Date().toISOString(), hop: 0 };
      const context = { instance: link.registry.resolve("xiaom"), signal: AbortSignal.timeout(10_000), logger: createLogger({ level: "silent" }) };
      expect(await transport.followUp(envelope as never, context)).toEqual(expected);
    },
    30_000,
  );

  it("followUp waits when the target no longer knows the task (its channel restarted)", async () => {
    const { channel, messenger, scratch } = await setUp();
    const link = messenger("a");
    const report = await link.send({ to: "xiaom", body: "forgotten" });
    channel.forget(taskOf(report));
    const transport = new A2aTransport("xiaoa", process.env, { stateDir: join(scratch, "a") });
    cleanup.push(() => transport.close());
    const envelope = { v: 1 as const, id: report.id, from: "xiaoa", to: "xiaom", body: "forgotten", createdAt: new Date().toISOString(), hop: 0 };
    const context = { instance: link.registry.resolve("xiaom"), signal: AbortSignal.timeout(10_000), logger: createLogger({ level: "silent" }) };
    expect(await transport.followUp(envelope as never, context)).toEqual({ status: "waiting" });
  }, 30_000);
});

describe("a2a: pure parts", () => {
  const sent = (taskId: string | undefined, sentAt: number) => ({
    seq: 1,
    endpoint: "e",
    messageId: "m",
    contextId: "c",
    taskId,
    state: "TASK_STATE_WORKING",
    sentAt,
    checkedAt: undefined,
  });

  it("wedgedTaskOf: an open task past the bound; claims without a task never", () => {
    expect(wedgedTaskOf([sent("t1", 1_000)], 5_000, 5_000)).toBeUndefined();
    expect(wedgedTaskOf([sent("t1", 0)], 5_000, 5_000)?.taskId).toBe("t1");
    expect(wedgedTaskOf([sent(undefined, 0)], 60_000, 5_000)).toBeUndefined();
  });

  it("sendLeftNoTask: only an answer from the target proves no task was made", () => {
    expect(sendLeftNoTask(new UnavailableError("401", { code: "AUTH_FAILED" }))).toBe(true);
    expect(sendLeftNoTask(new TransientError("limited", { code: "RATE_LIMITED" }))).toBe(true);
    expect(sendLeftNoTask(new UnavailableError("unreachable", { code: "UNREACHABLE" }))).toBe(false);
    expect(sendLeftNoTask(new TransientError("502", { code: "BUSY" }))).toBe(false);
    expect(sendLeftNoTask(new DOMException("aborted", "AbortError"))).toBe(false);
  });

  it("a2aFollowUpOf reads the status message of a failed task", () => {
    expect(a2aFollowUpOf({ id: "t", status: { state: "TASK_STATE_FAILED", message: { parts: [{ text: "model down" }] } } })).toEqual({
      status: "lost",
      reason: "the target's A2A task ended TASK_STATE_FAILED after it had accepted it: model down",
    });
  });

  it("the ledger moves a conversation on once, whoever asks first", async () => {
    const dir = mkdtempSync(join(tmpdir(), "oii-a2a-ledger-"));
    const [a, b] = [await A2aLedger.open(dir), await A2aLedger.open(dir)];
    try {
      const base = a.context("e", "xiaoa");
      expect(base).toBe(a2aContextId("xiaoa"));
      const moved = a.moveOn("e", "xiaoa", base);
      expect(b.moveOn("e", "xiaoa", base)).toBe(moved);
      expect(b.context("e", "xiaoa")).toBe(moved);
      expect(moved.length).toBeLessThanOrEqual(128);
      expect(a.claim("e", "m1", moved, { exclusive: true, fresh: true })).toBeTypeOf("number");
      expect(b.claim("e", "m2", moved, { exclusive: true, fresh: true })).toBe("busy");
      expect(b.claim("e", "m1", "elsewhere", { exclusive: true, fresh: true })).toBe("sent");
    } finally {
      a.close();
      b.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
