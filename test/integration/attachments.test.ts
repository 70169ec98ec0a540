import { createHash, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { lstat, mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative, sep } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { prepareFiles } from "../../src/core/attachments/prepare.js";
import { createEnvelope, createLogger, createMessenger, InstanceRegistry, type Messenger, parseConfig } from "../../src/index.js";
import { objectName } from "../../src/transports/nats/files.js";
import { NatsFleet } from "../../src/transports/nats/fleet.js";
import { NatsTransport } from "../../src/transports/nats/transport.js";
import { incomingDir, incomingFilesDir, incomingPath } from "../../src/transports/nodes/incoming.js";
import { type MessagingKey, MessagingKeyStore } from "../../src/trust/messaging-key.js";
import { startGateway, type TestGateway } from "../harness/gateway.js";
import { type MockModelServer, startMockModel } from "../harness/mock-model.js";
import { natsServerOrSkip, startNatsServer, type TestNatsServer } from "../harness/nats-server.js";
import { allowNodeFileWrites, startNodeHost, type TestNodeHost } from "../harness/node-host.js";
import { textOf } from "../harness/oracle.js";
import { loadInstalledPlugin } from "../harness/plugin-install.js";
import { testLog } from "../harness/secrets-watch.js";

// Files in messages against one real Gateway (Xiaom) with the plugin installed, which pinned
// Xiaoa's messaging key; Xiaoa is a library sender in this process. Its attachment limit is set to
// 6 MB (agents.defaults.mediaMaxMb), which its hello advertises. What counts is what Xiaom's agent
// was shown (the mock model's requests) and what lies in its workspace. With nats-server installed,
// Xiaom's plugin also reads a NATS fleet on a real JetStream server, for files through its object store.
// For the nodes transport, a real node host is paired to Xiaom's Gateway, whose file policy lets it
// write only into the workspace's incoming folder (as bench/attachments.ts pairs one for scenario 15).
const MB = 1024 * 1024;
const NODE_NAME = "xiaom-attachments-node";
const withNats = await natsServerOrSkip("attachments.test.ts (its NATS part)");
const FLEET = "attachments";
let nats: TestNatsServer | undefined;
let mock: MockModelServer;
let xiaom: TestGateway;
let scratch: string;
let key: MessagingKey;
let link: Messenger;

const sha = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");
// A real 1×1 PNG.
const PNG = Buffer.from(
  "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c6360f8cfc0f01f0005000201a5f8b0b90000000049454e44ae426082",
  "hex",
);

/** A 5 MB binary, an image and a text file, named for what carries them. */
function threeFiles(tag: string): [name: string, bytes: Buffer][] {
  return [
    [`${tag}.bin`, randomBytes(5 * MB)],
    [`${tag}.png`, Buffer.concat([PNG, Buffer.from(tag)])],
    [`${tag}.log`, Buffer.from(`${tag} build ok ${Date.now()}\n`)],
  ];
}

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), "oii-attachments-"));
  mock = await startMockModel();
  nats = withNats ? await startNatsServer() : undefined;
  const fleet = nats ? { nats: { servers: [nats.url], fleet: FLEET } } : {};
  key = new MessagingKeyStore(join(scratch, "xiaoa-state")).key();
  xiaom = await startGateway({
    modelBaseUrl: mock.url,
    name: "xiaom-attachments",
    extraConfig: { agents: { defaults: { model: { primary: "mock/mock-1" }, mediaMaxMb: 6 } } },
    beforeStart: async (gateway) => {
      await loadInstalledPlugin(gateway, {
        hooks: { allowConversationAccess: true },
        config: {
          self: { name: "xiaom" },
          inbox: { wake: true, pollMs: 500 },
          stateDir: join(gateway.stateDir, "inter-instance"),
          // Over the fleet, xiaom may delegate a task to xiaoa (whose answer then comes as a reply).
          instances: { xiaoa: { publicKey: key.publicKey, ...(nats ? { transports: ["nats"] } : {}) } },
          ...fleet,
        },
      });
      // After the plugin's section (which it replaces whole): the node may write into the incoming folder, nowhere else.
      await allowNodeFileWrites(gateway.stateDir, [`${incomingDir(join(gateway.stateDir, "workspace"))}/**`]);
    },
  });
  link = createMessenger({
    config: {
      self: { name: "xiaoa" },
      stateDir: join(scratch, "xiaoa-state"),
      defaults: { circuitCooldownMs: 0, retries: 1 },
      ...fleet,
      instances: {
        xiaom: {
          gateway: { url: xiaom.url, token: xiaom.token },
          workspace: xiaom.workspace,
          // Used only by the nodes tests, which name the transports they send by.
          node: { gateway: { url: xiaom.url, token: xiaom.token }, name: NODE_NAME, workspace: xiaom.workspace },
          timeZone: "UTC",
          transports: ["sessions_send", "memory_file", ...(nats ? ["nats" as const] : [])],
          timeouts: { sessions_send: 60_000, nats: 60_000, nodes: 60_000 },
        },
      },
    },
    log: testLog(),
  });
}, 240_000);

afterAll(async () => {
  await link?.close();
  await xiaom?.dispose();
  await mock?.close();
  await nats?.dispose();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

/** A tool of xiaom's plugin, called as OpenClaw's HTTP tool endpoint calls it. */
async function xiaomTool(tool: string, args: unknown): Promise<{ content: { text: string }[]; details: Record<string, unknown> }> {
  const response = await fetch(`${xiaom.httpUrl}/tools/invoke`, {
    method: "POST",
    headers: { authorization: `Bearer ${xiaom.token}`, "content-type": "application/json" },
    body: JSON.stringify({ tool, args }),
  });
  const answer = (await response.json()) as { ok: boolean; result?: { content: { text: string }[]; details: Record<string, unknown> } };
  if (!answer.result) throw new Error(`${tool}: ${response.status} ${JSON.stringify(answer)}`);
  return answer.result;
}

/** Every text the model was given. */
const modelTexts = () => mock.requests.flatMap((request) => (request.body.messages ?? []).map((message) => textOf(message.content)));
/** The plugin's file lines the model was given for a file name. */
const fileLines = (name: string) => modelTexts().flatMap((text) => text.split("\n").filter((line) => line.includes(`${JSON.stringify(name)} (`)));

async function walk(root: string): Promise<string[]> {
  const entries = (await readdir(root, { recursive: true })) as string[];
  return entries.map((path) => path.split(sep).join("/"));
}

describe("files by sessions_send, as native attachments", () => {
  it("a 5 MB binary, an image and a text file arrive byte-exact, and the agent's prompt lists each with its verdict", async () => {
    const binary = randomBytes(5 * MB);
    const text = Buffer.from("build ok\nall 530 tests passed\n");
    const report = await link.send(
      {
        to: "xiaom",
        body: "see the build",
        files: [
          { bytes: binary, name: "build.bin" },
          { bytes: PNG, name: "shot.png" },
          { bytes: text, name: "build.log" },
        ],
      },
      { queue: false },
    );
    expect(report.ok, JSON.stringify(report.attempts)).toBe(true);
    expect(report.via).toBe("sessions_send");
    await expect.poll(() => fileLines("build.bin").length, { timeout: 90_000, interval: 500 }).toBeGreaterThan(0);
    const folder = incomingFilesDir(xiaom.workspace);
    for (const [name, bytes] of [
      ["build.bin", binary],
      ["build.log", text],
    ] as const) {
      expect(fileLines(name).some((line) => line.includes(": verified (SHA-256"))).toBe(true);
      const copy = await readFile(join(folder, sha(bytes), name));
      expect(sha(copy)).toBe(sha(bytes));
    }
    // The image too: a text-only model gets it offloaded to the media store, found by its turn-list reference.
    expect(fileLines("shot.png").some((line) => line.includes(": verified (SHA-256"))).toBe(true);
    expect(sha(await readFile(join(folder, sha(PNG), "shot.png")))).toBe(sha(PNG));
  }, 180_000);
});

describe("a file over the target's maxBytes", () => {
  it("is refused by sessions_send before sending, with the limit named, and memory_file carries it whole", async () => {
    const big = randomBytes(7 * MB);
    const report = await link.send({ to: "xiaom", body: "the big one", files: [{ bytes: big, name: "big.bin" }] }, { queue: false });
    expect(report.ok, JSON.stringify(report.attempts)).toBe(true);
    expect(report.via).toBe("memory_file");
    const refused = report.attempts.find((attempt) => attempt.transport === "sessions_send");
    expect(refused?.error?.code).toBe("TOO_LARGE_FOR_TARGET");
    expect(refused?.error?.message).toMatch(/maxBytes 6\.0 MiB \(6,291,456 bytes\)/u);
    const copy = await readFile(join(incomingFilesDir(xiaom.workspace), sha(big), "big.bin"));
    expect(sha(copy)).toBe(sha(big));
    await expect.poll(() => fileLines("big.bin").some((line) => line.includes(": verified (SHA-256")), { timeout: 90_000, interval: 500 }).toBe(true);
  }, 180_000);
});

describe("files by nodes, through a real node host's file.write", () => {
  let node: TestNodeHost | undefined;
  beforeAll(async () => {
    node = await startNodeHost(xiaom, { displayName: NODE_NAME });
  }, 120_000);
  afterAll(async () => {
    await node?.dispose();
  });

  /**
   * Each file as Xiaom's agent was shown it: verified against the signed list, at the content-addressed
   * incoming path its line names, where the bytes lie whole (SHA-256) and alone in their digest folder.
   */
  async function expectShownVerified(files: readonly (readonly [string, Buffer])[]): Promise<void> {
    const folder = incomingFilesDir(xiaom.workspace);
    for (const [name, bytes] of files) {
      const digest = sha(bytes);
      const verified = () => fileLines(name).find((line) => line.includes(`: verified (SHA-256 ${digest.slice(0, 16)}`));
      await expect.poll(verified, { timeout: 90_000, interval: 500 }).toBeDefined();
      const line = verified() ?? "";
      expect(line).toContain(`(${bytes.byteLength.toLocaleString("en-US")} bytes, `);
      const where = JSON.parse(/ at ("(?:[^"\\]|\\.)*"): verified/u.exec(line)?.[1] ?? "null") as string;
      expect(where).toBe(relative(xiaom.workspace, join(folder, digest, name)));
      expect(sha(await readFile(join(xiaom.workspace, where)))).toBe(digest);
      expect(await readdir(join(folder, digest))).toEqual([name]);
    }
  }

  it("a 5 MB binary, an image and a text file arrive byte-exact in the incoming folder, nothing lands elsewhere, and the agent's prompt lists each verified", async () => {
    // By nodes alone: this Gateway advertises maxBytes 6 MiB (the sessions_send test above needs a
    // 5 MB file to fit), so sessions_send would carry these; its refusal is the next test's.
    const files = threeFiles("nodes");
    const before = new Set(await walk(xiaom.workspace));
    const report = await link.send(
      { to: "xiaom", body: "see the build, by the node", files: files.map(([name, bytes]) => ({ bytes, name })) },
      { queue: false, transports: ["nodes"] },
    );
    expect(report.ok, JSON.stringify(report.attempts)).toBe(true);
    expect(report.via).toBe("nodes");
    expect(report.receipt?.detail).toMatchObject({ path: incomingPath(xiaom.workspace, report.id), duplicate: false });
    await expectShownVerified(files);
    // The plugin merged the envelope the node dropped into the daily note, and removed the drop.
    expect(existsSync(incomingPath(xiaom.workspace, report.id))).toBe(false);
    const incoming = relative(xiaom.workspace, incomingDir(xiaom.workspace)).split(sep).join("/");
    const added = (await walk(xiaom.workspace)).filter((path) => !before.has(path));
    const outside = added.filter((path) => !path.startsWith(`${incoming}/`) && !incoming.startsWith(path) && !path.startsWith("memory/"));
    expect(outside).toEqual([]);
    for (const path of added.filter((p) => p.startsWith(`${incoming}/`))) expect((await lstat(join(xiaom.workspace, path))).isSymbolicLink()).toBe(false);
  }, 180_000);

  it("a file over the target's maxBytes: sessions_send, tried first, refuses it before sending, and nodes carries it whole", async () => {
    const big = randomBytes(7 * MB);
    const report = await link.send(
      { to: "xiaom", body: "the big one, by the node", files: [{ bytes: big, name: "nodes-big.bin" }] },
      { queue: false, transports: ["sessions_send", "nodes"] },
    );
    expect(report.ok, JSON.stringify(report.attempts)).toBe(true);
    expect(report.via).toBe("nodes");
    expect(report.attempts[0]).toMatchObject({ transport: "sessions_send", error: { code: "TOO_LARGE_FOR_TARGET" } });
    await expectShownVerified([["nodes-big.bin", big]]);
  }, 180_000);
});

describe("hostile names", () => {
  it("are made safe, and nothing is written outside the incoming folder", async () => {
    const before = new Set(await walk(xiaom.workspace));
    const hostile = ["../../etc/passwd", "/abs", "CON", "a\u0000b", "x".repeat(10_000), "caf\u00e9.txt", "cafe\u0301.txt", "same.txt", "same.txt"];
    const report = await link.send(
      { to: "xiaom", body: "hostile names", files: hostile.map((name, index) => ({ bytes: Buffer.from(`hostile ${index}`), name })) },
      { queue: false, transports: ["memory_file"] },
    );
    expect(report.ok, JSON.stringify(report.attempts)).toBe(true);
    const incoming = relative(xiaom.workspace, incomingFilesDir(xiaom.workspace)).split(sep).join("/");
    const added = (await walk(xiaom.workspace)).filter((path) => !before.has(path));
    const outside = added.filter((path) => !path.startsWith(`${incoming}/`) && !incoming.startsWith(path) && !path.startsWith("memory/"));
    expect(outside).toEqual([]);
    for (const path of added.filter((p) => p.startsWith(`${incoming}/`))) expect((await lstat(join(xiaom.workspace, path))).isSymbolicLink()).toBe(false);
    await expect.poll(() => fileLines("_CON").length, { timeout: 90_000, interval: 500 }).toBeGreaterThan(0);
    for (const name of ["_.._etc_passwd", "_abs", "_CON", "ab", "café.txt", "café-2.txt", "same.txt", "same-2.txt"])
      expect(
        fileLines(name).some((line) => line.includes(": verified (SHA-256")),
        name,
      ).toBe(true);
  }, 180_000);
});

describe.skipIf(!withNats)("files over NATS, through the fleet's JetStream object store", () => {
  it("a 5 MB binary, an image and a text file arrive byte-exact, the prompt lists each verified, and their objects are removed after the receipt", async () => {
    const files = threeFiles("nats");
    const report = await link.send(
      { to: "xiaom", body: "see the build, by the broker", files: files.map(([name, bytes]) => ({ bytes, name })) },
      { queue: false, transports: ["nats"] },
    );
    expect(report.ok, JSON.stringify(report.attempts)).toBe(true);
    expect(report.via).toBe("nats");
    const folder = incomingFilesDir(xiaom.workspace);
    for (const [name, bytes] of files) {
      await expect.poll(() => fileLines(name).some((line) => line.includes(": verified (SHA-256")), { timeout: 90_000, interval: 500 }).toBe(true);
      expect(sha(await readFile(join(folder, sha(bytes), name)))).toBe(sha(bytes));
    }
    // After the receipt, the receiver removed the message's objects from the store.
    const observer = new NatsFleet({ servers: [nats!.url], fleet: FLEET, duplicateWindowMs: 7_200_000, maxDeliver: 5, presenceTtlMs: 120_000 });
    try {
      const store = await observer.files();
      const envelopeId = report.id;
      await expect
        .poll(async () => (await Promise.all(files.map(async ([, bytes]) => (await store.info(objectName(envelopeId, sha(bytes))))?.deleted))).every(Boolean), {
          timeout: 30_000,
          interval: 250,
        })
        .toBe(true);
    } finally {
      await observer.close();
    }
  }, 180_000);

  it.each(["nats", "memory_file"] as const)(
    "a reply with files that answers xiaom's task, by %s, is shown with its files checked and listed, and the task is answered",
    async (transport) => {
      const delegated = await xiaomTool("instance_delegate", { to: "xiaoa", task: `collect the build logs (${transport})` });
      const taskId = delegated.details.id as string;
      expect(delegated.details.report, JSON.stringify(delegated.details)).toMatchObject({ ok: true, via: "nats" });
      const name = `task-answer-${transport}.log`;
      const log = Buffer.from(`the build log for ${taskId}\n`);
      const report = await link.send(
        { to: "xiaom", body: `here are the logs for ${taskId}`, replyTo: taskId, files: [{ bytes: log, name }] },
        { queue: false, transports: [transport] },
      );
      expect(report.ok, JSON.stringify(report.attempts)).toBe(true);
      await expect.poll(() => fileLines(name).some((line) => line.includes(": verified (SHA-256")), { timeout: 90_000, interval: 500 }).toBe(true);
      expect(sha(await readFile(join(incomingFilesDir(xiaom.workspace), sha(log), name)))).toBe(sha(log));
      await expect
        .poll(async () => ((await xiaomTool("instance_status", { id: taskId })).details.statuses as { state: string }[]).map((status) => status.state), {
          timeout: 30_000,
          interval: 500,
        })
        .toContain("answered");
    },
    180_000,
  );

  it("when the stream refuses an envelope, the objects that send put are removed, one an earlier attempt left stays, and a retry puts them again", async () => {
    const config = { servers: [nats!.url], fleet: "attachments-refused", duplicateWindowMs: 7_200_000, maxDeliver: 5, presenceTtlMs: 120_000 };
    const fleet = new NatsFleet(config);
    const transport = new NatsTransport({ fleet, release: async () => {} });
    try {
      await fleet.jetstream();
      const manager = await fleet.manager();
      // The stream takes no message this large: the server answers the publish with an API error.
      await manager.streams.update(fleet.names.stream, { max_msg_size: 256 });
      const earlier = Buffer.from("put by an earlier attempt, whose publish may have landed");
      const fresh = randomBytes(300_000);
      const prepared = await prepareFiles(
        [
          { bytes: earlier, name: "earlier.txt" },
          { bytes: fresh, name: "fresh.bin" },
        ],
        { maxFileBytes: MB, maxTotalBytes: 2 * MB, maxFiles: 16 },
      );
      const envelope = createEnvelope({ from: "xiaoa", to: "xiaom", body: "refused by the stream", files: prepared });
      const store = await fleet.files();
      await store.putBlob({ name: objectName(envelope.id, sha(earlier)) }, earlier);
      const instance = new InstanceRegistry(parseConfig({ self: { name: "xiaoa" }, instances: { xiaom: { transports: ["nats"] } } }), {}).resolve("xiaom");
      const bytesOf = new Map(prepared.map((file) => [file.sha256, file.bytes]));
      const context = {
        instance,
        signal: new AbortController().signal,
        logger: createLogger({ level: "silent" }),
        files: async (file: { sha256: string }) => bytesOf.get(file.sha256)!,
      };
      await expect(transport.deliver(envelope, context)).rejects.toMatchObject({ code: "NATS_UNREACHABLE", message: expect.stringMatching(/maximum/iu) });
      const freshInfo = await store.info(objectName(envelope.id, sha(fresh)));
      expect(freshInfo === null || freshInfo.deleted).toBe(true);
      expect(await store.info(objectName(envelope.id, sha(earlier)))).toMatchObject({ deleted: false, size: earlier.byteLength });

      await manager.streams.update(fleet.names.stream, { max_msg_size: -1 });
      expect(await transport.deliver(envelope, context)).toMatchObject({ status: "accepted", detail: { duplicate: false } });
      expect(await store.info(objectName(envelope.id, sha(fresh)))).toMatchObject({ deleted: false, size: fresh.byteLength });
    } finally {
      await fleet.close();
    }
  }, 60_000);
});
