import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createMessenger, type Messenger } from "../../src/index.js";
import { startGateway, type TestGateway } from "../harness/gateway.js";
import { startMockModel, type MockModelServer } from "../harness/mock-model.js";
import { openclawCli, readHistory, textOf } from "../harness/oracle.js";
import { installPlugin, packPlugin } from "../harness/plugin-install.js";
import { gatewayRequest } from "../harness/rpc.js";
import { testLog } from "../harness/secrets-watch.js";

// The three ways to work with another agent, against two real Gateways: A (Xiaoa) runs the
// plugin, B (Xiaom) is a plain Gateway. A's agent (its mock model) delegates with the tool when a
// turn says "委托xiaom：…"; B's agent answers "ACK <tag>" (after SLOW:<ms> when told). What A's
// agent is shown is what A's mock model was given.
let scratch: string;
let mockA: MockModelServer;
let mockB: MockModelServer;
let gatewayA: TestGateway;
let gatewayB: TestGateway;
let link: Messenger;

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), "oii-collab-"));
  // A's agent hands SLOW:<ms> on to B's, which honors it; A's answers at once.
  [mockA, mockB] = await Promise.all([startMockModel({ ignoreSlow: true }), startMockModel()]);
  gatewayB = await startGateway({ modelBaseUrl: mockB.url, name: "xiaom-collab" });
  const tarball = await packPlugin(scratch);
  gatewayA = await startGateway({
    modelBaseUrl: mockA.url,
    name: "xiaoa-collab",
    beforeStart: (gateway) =>
      installPlugin(tarball, gateway, {
        hooks: { allowConversationAccess: true },
        config: {
          self: { name: "xiaoa" },
          stateDir: join(gateway.stateDir, "inter-instance"),
          // This file is about collaboration; the trust suite runs the default (unverified held).
          inbound: { unverified: "allow" },
          instances: { xiaom: { aliases: ["小m"], gateway: { url: gatewayB.url, token: gatewayB.token }, transports: ["sessions_send"] } },
        },
      }),
  });
  // A second session on B (sessions.send reaches existing sessions only), for a group member of its own.
  const crew = await openclawCli(gatewayB, ["agent", "--session-key", "agent:main:crew", "--message", "hello crew", "--json", "--timeout", "120"], 180_000);
  if (crew.code !== 0) throw new Error(`could not open agent:main:crew on B: ${crew.stderr}`);
  // A library sender of its own, for track() and groups: two sessions on B, and A's Gateway as a third member.
  link = createMessenger({
    config: {
      self: { name: "xiaoz" },
      stateDir: join(scratch, "xiaoz-state"),
      defaults: { retries: 0, circuitCooldownMs: 0 },
      instances: {
        xiaom: { gateway: { url: gatewayB.url, token: gatewayB.token }, workspace: gatewayB.workspace, transports: ["sessions_send"] },
        xiaomc: { gateway: { url: gatewayB.url, token: gatewayB.token }, sessionKey: "agent:main:crew", transports: ["sessions_send"] },
        xiaoa: { gateway: { url: gatewayA.url, token: gatewayA.token }, workspace: gatewayA.workspace, timeZone: "UTC", transports: ["sessions_send"] },
        xiaoafile: { workspace: gatewayA.workspace, timeZone: "UTC", transports: ["memory_file"] },
        nowhere: { gateway: { url: "ws://127.0.0.1:9", token: "nope" }, transports: ["sessions_send"] },
      },
      groups: { crew: ["xiaom", "xiaomc", "xiaoa"] },
    },
    log: testLog(),
  });
}, 420_000);

afterAll(async () => {
  await link?.close();
  await gatewayA?.dispose();
  await gatewayB?.dispose();
  await mockA?.close();
  await mockB?.close();
  await rm(scratch, { recursive: true, force: true });
});

/** A's model requests as text, in order, with when each came. */
const requestsA = () => mockA.requests.map((request) => ({ at: request.receivedAt, text: (request.body.messages ?? []).map((m) => textOf(m.content)).join("\n") }));
/** The id A's delegate tool answered with, once its tool result is in a request. */
const taskIdFor = (tag: string) => {
  for (const request of requestsA()) {
    // The tool's answer after the turn that asked for this task (the history holds earlier tasks' answers too).
    const after = request.text.lastIndexOf(tag);
    if (after < 0) continue;
    const id = /Task (\S+) handed to xiaom/u.exec(request.text.slice(after))?.[1];
    if (id) return { id, at: request.at };
  }
  return undefined;
};
// The frame's head line (the tool's own answer names the frame too, in quotes).
const resultRequest = (id: string) => requestsA().find((request) => request.text.includes(`| Result from xiaom for task ${id}]`));

async function delegateFromA(task: string): Promise<{ id: string; at: number }> {
  await gatewayRequest(gatewayA, "sessions.send", { key: "agent:main:main", message: `委托xiaom：${task}`, idempotencyKey: randomUUID() });
  let handed: { id: string; at: number } | undefined;
  await expect.poll(() => (handed = taskIdFor(task)), { timeout: 90_000, interval: 500 }).toBeDefined();
  return handed!;
}

describe("delegate: the result comes back into the session that delegated", () => {
  it("A's agent delegates and its tool returns at once; B's answer arrives in A's session as a new turn, framed as the task's result", async () => {
    const tag = `notes-${randomUUID().slice(0, 8)}`;
    const handed = await delegateFromA(`整理发布说明 SLOW:3000 REPLY:${tag}`);
    // The tool answered before B's agent did (B holds its answer back 3 s).
    const answeredAt = () => mockB.requests.find((request) => JSON.stringify(request.body.messages).includes(tag))?.receivedAt;
    await expect.poll(answeredAt, { timeout: 60_000 }).toBeDefined();
    expect(handed.at).toBeLessThan(answeredAt()! + 3000);
    await expect.poll(() => resultRequest(handed.id), { timeout: 90_000, interval: 1000 }).toBeDefined();
    const result = resultRequest(handed.id)!;
    expect(result.text).toContain(`ACK ${tag}`);
    expect(result.at).toBeGreaterThan(handed.at);
    // A new turn of A's agent ran with it: its transcript has an answer after the result came.
    await expect.poll(async () => (await readHistory(gatewayA)).filter((row) => row.role === "assistant" && Number(row.timestamp ?? 0) >= result.at - 1000).length, { timeout: 60_000 }).toBeGreaterThan(0);
    // The library sees the same task from A's state: answered, with the result.
    const fromA = createMessenger({ config: { self: { name: "xiaoa" }, stateDir: join(gatewayA.stateDir, "inter-instance"), instances: { xiaom: { gateway: { url: gatewayB.url, token: gatewayB.token }, transports: ["sessions_send"] } } }, log: testLog() });
    try {
      expect(await fromA.tasks.get(handed.id)).toMatchObject({ state: "answered", result: `ACK ${tag}`, sessionKey: "agent:main:main", broughtAt: expect.any(String) });
      expect((await fromA.track(handed.id))[0]).toMatchObject({ to: "xiaom", state: "answered" });
    } finally {
      await fromA.close();
    }
  }, 240_000);

  it("with A's Gateway restarted while B works on the task: the result still arrives, once", async () => {
    const tag = `restart-${randomUUID().slice(0, 8)}`;
    // B holds its answer back a minute: A's Gateway is down and up again well before it comes.
    const handed = await delegateFromA(`跑完整测试 SLOW:60000 REPLY:${tag}`);
    await gatewayA.stop();
    await gatewayA.start();
    const restartedAt = Date.now();
    const bTookIt = mockB.requests.find((request) => JSON.stringify(request.body.messages).includes(tag))?.receivedAt;
    expect(bTookIt).toBeDefined();
    expect(bTookIt! + 60_000).toBeGreaterThan(restartedAt);
    await expect.poll(() => resultRequest(handed.id), { timeout: 150_000, interval: 1000 }).toBeDefined();
    expect(resultRequest(handed.id)!.at).toBeGreaterThan(restartedAt - 1000);
    expect(resultRequest(handed.id)!.text).toContain(`ACK ${tag}`);
    // Brought once: no later request carries a second copy of the frame.
    const frames = (text: string) => text.split(`| Result from xiaom for task ${handed.id}]`).length - 1;
    expect(requestsA().filter((request) => frames(request.text) > 0).map((request) => frames(request.text))).toEqual([1]);
  }, 360_000);
});

describe("examples/delegate.mjs", () => {
  it("runs as written: the task goes out at once, its result is printed when it comes", async () => {
    const { execFile } = await import("node:child_process");
    const { promisify } = await import("node:util");
    const { stdout, stderr } = await promisify(execFile)(process.execPath, ["examples/delegate.mjs", "整理发布说明 REPLY:example"], {
      env: { ...process.env, XIAOM_URL: gatewayB.url, XIAOM_TOKEN: gatewayB.token, OPENCLAW_INTER_INSTANCE_HOME: join(scratch, "example-client") },
    });
    expect(stderr).toMatch(/^task \S+ handed to xiaom \(accepted\)/mu);
    expect(stdout.trim()).toBe("ACK example");
  }, 180_000);
});

describe("track: one status for every message, through real Gateways", () => {
  it("queued, accepted, delivered, answered, and seen for a memory-file message read by A's plugin", async () => {
    const queued = await link.send({ to: "nowhere", body: "nobody listens here" });
    expect(queued.status).toBe("queued");
    expect((await link.track(queued.id))[0]).toMatchObject({ to: "nowhere", state: "queued", evidence: [expect.objectContaining({ source: "outbox", detail: expect.objectContaining({ attempts: expect.any(Number) }) })] });

    const tag = `track-${randomUUID().slice(0, 8)}`;
    const sent = await link.send({ to: "xiaom", body: `how are you SLOW:4000 REPLY:${tag}` });
    expect((await link.track(sent.id))[0]?.state).toMatch(/^(accepted|delivered)$/u);
    const answered = await link.waitFor(sent.id, "answered", { timeoutMs: 90_000 });
    expect(answered[0]).toMatchObject({ state: "answered" });
    expect(answered[0]!.evidence.map((e) => e.state)).toEqual(expect.arrayContaining(["accepted", "answered"]));

    const note = await link.send({ to: "xiaoafile", body: `a note for A ${randomUUID()}` });
    expect(note.status).toBe("written");
    const seen = await link.waitFor(note.id, "seen", { timeoutMs: 90_000 });
    expect(seen[0]).toMatchObject({ state: "seen", evidence: expect.arrayContaining([expect.objectContaining({ source: "receipt" })]) });
  }, 240_000);
});

describe("groups", () => {
  it("a group send to three members with one down: two delivered, one queued, then delivered once when it is back", async () => {
    await gatewayA.stop();
    const body = `通知：今晚十点维护 ${randomUUID()}`;
    let report;
    try {
      report = await link.groups.send({ to: "crew", body });
    } finally {
      await gatewayA.start();
    }
    expect(report.members.map((member) => [member.to, member.ok ? "ok" : member.status])).toEqual([
      ["xiaom", "ok"],
      ["xiaomc", "ok"],
      ["xiaoa", "queued"],
    ]);
    const inB = async (sessionKey: string) => (await readHistory(gatewayB, sessionKey)).filter((row) => row.role === "user" && textOf(row.content).includes(body)).length;
    await expect.poll(() => inB("agent:main:main"), { timeout: 60_000 }).toBe(1);
    await expect.poll(() => inB("agent:main:crew"), { timeout: 60_000 }).toBe(1);
    await link.outbox.flush({ all: true });
    await link.outbox.flush({ all: true });
    const inA = async () => (await readHistory(gatewayA, "agent:main:main", 1000)).filter((row) => row.role === "user" && textOf(row.content).includes(body)).length;
    await expect.poll(inA, { timeout: 60_000 }).toBe(1);
    expect((await link.track(report.members[2]!.id))[0]?.state).toMatch(/^(accepted|delivered|answered)$/u);
  }, 240_000);
});

describe("an expired task", () => {
  it("unanswered at its deadline: A's agent is told it expired instead of hearing nothing", async () => {
    const handed = await delegateFromA(`一个很慢的任务 DEADLINE:15 SLOW:60000 REPLY:late-${randomUUID().slice(0, 8)}`);
    const expired = () => requestsA().find((request) => request.text.includes(`| Task ${handed.id} to xiaom EXPIRED without an answer]`));
    await expect.poll(expired, { timeout: 90_000, interval: 1000 }).toBeDefined();
    expect(expired()!.at - handed.at).toBeGreaterThan(10_000);
  }, 180_000);
});
