import { randomBytes, randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createMessenger, type Messenger } from "../../src/index.js";
import { freePort, startGateway, type TestGateway } from "../harness/gateway.js";
import { type MockModelServer, startMockModel } from "../harness/mock-model.js";
import { readHistory, textOf, waitForRun } from "../harness/oracle.js";
import { loadInstalledPlugin } from "../harness/plugin-install.js";
import { gatewayRequest } from "../harness/rpc.js";
import { testLog } from "../harness/secrets-watch.js";
import { startTcpProxy, type TcpProxy } from "../harness/tcp-proxy.js";

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
/** B's model as B's Gateway reaches it: mockB behind a gate that can hold an answer back until the test lets it go. */
let modelB: ModelGate;
/** The sender's way to A's Gateway: a port in front of it that can be closed and opened again. */
let relayA: TcpProxy;

interface ModelGate {
  readonly url: string;
  /** Holds back the answer to every request that mentions `tag` until the returned function is called. */
  hold(tag: string): () => void;
  /** When the answer to the held request went to B's Gateway. */
  answeredAt(tag: string): number | undefined;
  close(): Promise<void>;
}

/** A pass-through to the mock model: each request reaches it at once (so it is recorded when B took it); a held one's answer waits for its release. */
async function startModelGate(target: MockModelServer): Promise<ModelGate> {
  const gates = new Map<string, { released: Promise<void>; release: () => void; answeredAt?: number }>();
  const read = async (req: IncomingMessage) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  };
  const server: Server = createServer((req, res) => {
    void (async () => {
      const body = await read(req);
      const upstream = await fetch(`http://127.0.0.1:${target.port}${req.url ?? "/"}`, {
        method: req.method ?? "GET",
        headers: { "content-type": String(req.headers["content-type"] ?? "application/json") },
        ...(req.method === "GET" || req.method === "HEAD" ? {} : { body }),
      });
      const answer = Buffer.from(await upstream.arrayBuffer());
      const text = body.toString("utf8");
      const held = [...gates.entries()].filter(([tag]) => text.includes(tag));
      await Promise.all(held.map(([, gate]) => gate.released));
      if (res.destroyed) return;
      res.writeHead(upstream.status, { "content-type": upstream.headers.get("content-type") ?? "application/json" });
      res.end(answer);
      for (const [, gate] of held) gate.answeredAt ??= Date.now();
    })().catch((error: unknown) => {
      // mockB closed at the end of the file while it still held a SLOW answer: B's Gateway goes too.
      if (res.destroyed || res.headersSent) return void res.destroy();
      res.writeHead(502, { "content-type": "application/json" }).end(JSON.stringify({ error: { message: String(error) } }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`,
    hold(tag) {
      let release!: () => void;
      const released = new Promise<void>((resolve) => (release = resolve));
      gates.set(tag, { released, release });
      return release;
    },
    answeredAt: (tag) => gates.get(tag)?.answeredAt,
    close: () =>
      new Promise<void>((resolve) => {
        for (const gate of gates.values()) gate.release();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), "oii-collab-"));
  // A's agent hands SLOW:<ms> on to B's, which honors it; A's answers at once.
  [mockA, mockB] = await Promise.all([startMockModel({ ignoreSlow: true }), startMockModel()]);
  modelB = await startModelGate(mockB);
  // B's address and token are chosen ahead, so A (configured with them) starts beside B instead of after it.
  const portB = await freePort();
  const tokenB = `tok-xiaom-collab-${randomBytes(12).toString("hex")}`;
  const startB = async () => {
    gatewayB = await startGateway({ modelBaseUrl: modelB.url, name: "xiaom-collab", port: portB, token: tokenB });
    // A second session on B (sessions.send reaches existing sessions only), for a group member of its own.
    const { runId } = await gatewayRequest<{ runId: string }>(gatewayB, "agent", {
      sessionKey: "agent:main:crew",
      message: "hello crew",
      idempotencyKey: randomUUID(),
    });
    const crew = await waitForRun(gatewayB, runId, 120_000);
    if (crew.status !== "ok") throw new Error(`could not open agent:main:crew on B: ${JSON.stringify(crew)}`);
  };
  const startA = async () => {
    gatewayA = await startGateway({
      modelBaseUrl: mockA.url,
      name: "xiaoa-collab",
      beforeStart: (gateway) =>
        loadInstalledPlugin(gateway, {
          hooks: { allowConversationAccess: true },
          config: {
            self: { name: "xiaoa" },
            stateDir: join(gateway.stateDir, "inter-instance"),
            // This file is about collaboration; the trust suite runs the default (unverified held).
            inbound: { unverified: "allow" },
            instances: { xiaom: { aliases: ["小m"], gateway: { url: `ws://127.0.0.1:${portB}`, token: tokenB }, transports: ["sessions_send"] } },
          },
        }),
    });
  };
  await Promise.all([startB(), startA()]);
  relayA = await startTcpProxy(gatewayA.port);
  // A library sender of its own, for track() and groups: two sessions on B, and A's Gateway (through relayA) as a third member.
  link = createMessenger({
    config: {
      self: { name: "xiaoz" },
      stateDir: join(scratch, "xiaoz-state"),
      defaults: { retries: 0, circuitCooldownMs: 0 },
      instances: {
        xiaom: { gateway: { url: gatewayB.url, token: gatewayB.token }, workspace: gatewayB.workspace, transports: ["sessions_send"] },
        xiaomc: { gateway: { url: gatewayB.url, token: gatewayB.token }, sessionKey: "agent:main:crew", transports: ["sessions_send"] },
        xiaoa: { gateway: { url: relayA.url, token: gatewayA.token }, workspace: gatewayA.workspace, timeZone: "UTC", transports: ["sessions_send"] },
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
  await relayA?.close();
  await Promise.all([gatewayA?.dispose(), gatewayB?.dispose()]);
  await modelB?.close();
  await mockA?.close();
  await mockB?.close();
  await rm(scratch, { recursive: true, force: true });
});

/** A's model requests as text, in order, with when each came. */
const requestsA = () =>
  mockA.requests.map((request) => ({ at: request.receivedAt, text: (request.body.messages ?? []).map((m) => textOf(m.content)).join("\n") }));
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
  await expect.poll(() => (handed = taskIdFor(task)), { timeout: 90_000, interval: 250 }).toBeDefined();
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
    await expect.poll(() => resultRequest(handed.id), { timeout: 90_000, interval: 250 }).toBeDefined();
    const result = resultRequest(handed.id)!;
    expect(result.text).toContain(`ACK ${tag}`);
    expect(result.at).toBeGreaterThan(handed.at);
    // A new turn of A's agent ran with it: its transcript has an answer after the result came.
    await expect
      .poll(async () => (await readHistory(gatewayA)).filter((row) => row.role === "assistant" && Number(row.timestamp ?? 0) >= result.at - 1000).length, {
        timeout: 60_000,
        interval: 500,
      })
      .toBeGreaterThan(0);
    // The library sees the same task from A's state: answered, with the result.
    const fromA = createMessenger({
      config: {
        self: { name: "xiaoa" },
        stateDir: join(gatewayA.stateDir, "inter-instance"),
        instances: { xiaom: { gateway: { url: gatewayB.url, token: gatewayB.token }, transports: ["sessions_send"] } },
      },
      log: testLog(),
    });
    try {
      expect(await fromA.tasks.get(handed.id)).toMatchObject({
        state: "answered",
        result: `ACK ${tag}`,
        sessionKey: "agent:main:main",
        broughtAt: expect.any(String),
      });
      expect((await fromA.track(handed.id))[0]).toMatchObject({ to: "xiaom", state: "answered" });
    } finally {
      await fromA.close();
    }
  }, 240_000);

  it("with A's Gateway restarted while B works on the task: the result still arrives, once", async () => {
    // This test owns A's Gateway for its restart: the restart is the behavior under test.
    const tag = `restart-${randomUUID().slice(0, 8)}`;
    // B's answer is held back at its model until A's Gateway is down and up again (instead of a minute's SLOW).
    const release = modelB.hold(tag);
    const handed = await delegateFromA(`跑完整测试 REPLY:${tag}`);
    const bTookIt = () => mockB.requests.find((request) => JSON.stringify(request.body.messages).includes(tag))?.receivedAt;
    // B is working on it (its model has the task, its answer held) before A goes down.
    await expect.poll(bTookIt, { timeout: 60_000 }).toBeDefined();
    await gatewayA.stop();
    await gatewayA.start();
    const restartedAt = Date.now();
    expect(bTookIt()).toBeLessThan(restartedAt);
    release();
    await expect.poll(() => modelB.answeredAt(tag), { timeout: 30_000 }).toBeDefined();
    expect(modelB.answeredAt(tag)!).toBeGreaterThan(restartedAt);
    await expect.poll(() => resultRequest(handed.id), { timeout: 150_000, interval: 250 }).toBeDefined();
    expect(resultRequest(handed.id)!.at).toBeGreaterThan(restartedAt - 1000);
    expect(resultRequest(handed.id)!.text).toContain(`ACK ${tag}`);
    // Brought once: no later request carries a second copy of the frame.
    const frames = (text: string) => text.split(`| Result from xiaom for task ${handed.id}]`).length - 1;
    expect(
      requestsA()
        .filter((request) => frames(request.text) > 0)
        .map((request) => frames(request.text)),
    ).toEqual([1]);
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
    expect((await link.track(queued.id))[0]).toMatchObject({
      to: "nowhere",
      state: "queued",
      evidence: [expect.objectContaining({ source: "outbox", detail: expect.objectContaining({ attempts: expect.any(Number) }) })],
    });

    const tag = `track-${randomUUID().slice(0, 8)}`;
    const sent = await link.send({ to: "xiaom", body: `how are you SLOW:4000 REPLY:${tag}` });
    expect((await link.track(sent.id))[0]?.state).toMatch(/^(accepted|delivered)$/u);
    const answered = await link.waitFor(sent.id, "answered", { timeoutMs: 90_000, pollMs: 500 });
    expect(answered[0]).toMatchObject({ state: "answered" });
    expect(answered[0]!.evidence.map((e) => e.state)).toEqual(expect.arrayContaining(["accepted", "answered"]));

    const note = await link.send({ to: "xiaoafile", body: `a note for A ${randomUUID()}` });
    expect(note.status).toBe("written");
    const seen = await link.waitFor(note.id, "seen", { timeoutMs: 90_000, pollMs: 500 });
    expect(seen[0]).toMatchObject({ state: "seen", evidence: expect.arrayContaining([expect.objectContaining({ source: "receipt" })]) });
  }, 240_000);
});

describe("groups", () => {
  it("a group send to three members with one down: two delivered, one queued, then delivered once when it is back", async () => {
    // A is down to the sender: the port it reaches A's Gateway by is closed (connection refused), then open again.
    await relayA.down();
    const body = `通知：今晚十点维护 ${randomUUID()}`;
    let report: Awaited<ReturnType<typeof link.groups.send>>;
    try {
      report = await link.groups.send({ to: "crew", body });
    } finally {
      await relayA.up();
    }
    expect(report.members.map((member) => [member.to, member.ok ? "ok" : member.status])).toEqual([
      ["xiaom", "ok"],
      ["xiaomc", "ok"],
      ["xiaoa", "queued"],
    ]);
    const inB = async (sessionKey: string) =>
      (await readHistory(gatewayB, sessionKey)).filter((row) => row.role === "user" && textOf(row.content).includes(body)).length;
    await expect.poll(() => inB("agent:main:main"), { timeout: 60_000, interval: 500 }).toBe(1);
    await expect.poll(() => inB("agent:main:crew"), { timeout: 60_000, interval: 500 }).toBe(1);
    await link.outbox.flush({ all: true });
    await link.outbox.flush({ all: true });
    const inA = async () =>
      (await readHistory(gatewayA, "agent:main:main", 1000)).filter((row) => row.role === "user" && textOf(row.content).includes(body)).length;
    await expect.poll(inA, { timeout: 60_000, interval: 500 }).toBe(1);
    expect((await link.track(report.members[2]!.id))[0]?.state).toMatch(/^(accepted|delivered|answered)$/u);
  }, 240_000);
});

describe("an expired task", () => {
  it("unanswered at its deadline: A's agent is told it expired instead of hearing nothing", async () => {
    const handed = await delegateFromA(`一个很慢的任务 DEADLINE:15 SLOW:60000 REPLY:late-${randomUUID().slice(0, 8)}`);
    const expired = () => requestsA().find((request) => request.text.includes(`| Task ${handed.id} to xiaom EXPIRED without an answer]`));
    await expect.poll(expired, { timeout: 90_000, interval: 250 }).toBeDefined();
    expect(expired()!.at - handed.at).toBeGreaterThan(10_000);
  }, 180_000);
});
