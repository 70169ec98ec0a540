// Scenario 15 of `npm run bench`: a 5 MB file in a message, by each transport that carries files
// natively, beside its floor: sessions_send beside a raw `sessions.send` with the same attachment;
// nodes beside a raw `file.write` of the same bytes through node.invoke; nats beside a raw
// object-store put of the same bytes (same 1 MiB chunks). Library and floor alternate, fresh random
// bytes for every sample (made outside the timing), after one warm-up each.
// Alone: node bench/attachments.ts [--quick]   (starts its own Gateway, node host and nats-server)
import { createHash, randomBytes, randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import type { GatewayClient } from "@openclaw/gateway-client";
import which from "which";
import { createMessenger, type Messenger, type MessengerOptions } from "../dist/index.js";
import { OBJECT_CHUNK_BYTES, objectName } from "../dist/transports/nats/files.js";
import { startGateway, type TestGateway } from "../test/harness/gateway.ts";
import { startMockModel } from "../test/harness/mock-model.ts";
import { startNatsServer } from "../test/harness/nats-server.ts";
import { allowNodeFileWrites, startNodeHost } from "../test/harness/node-host.ts";
import { gatewayRequest } from "../test/harness/rpc.ts";
import { connectRawClient } from "./raw-client.mjs";
import { type Series, summarize, timed } from "./stats.ts";

type Row = { scenario: string; a: string; b: string; ratio: string; note: string };

export interface AttachmentsBenchContext {
  /** A Gateway whose node policy lets the node write under `<workspace>/.openclaw-inter-instance/` (`allowNodeFileWrites`). */
  readonly gateway: TestGateway;
  /** A node host paired to it, approved for `file.write`. */
  readonly node: { readonly nodeId: string; readonly displayName: string };
  readonly scratch: string;
  /** Samples per side. */
  readonly count: number;
  readonly series: Series[];
  readonly row: (row: Row) => void;
  readonly log: (text: string) => void;
}

const FILE_BYTES = 5 * 1024 * 1024;
const FILE_NAME = "bench.bin";
const MIME = "application/octet-stream";
const SCENARIO = "15. a 5 MB file in a message";

const sha256 = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");
const times = (value: number) => `${Math.round(value * 100) / 100}×`;

/** Library and floor, alternated; each sample gets fresh bytes, made before its timing starts. */
async function pair(
  context: AttachmentsBenchContext,
  names: { library: string; floor: string },
  library: (bytes: Buffer, i: number) => Promise<unknown>,
  floor: (bytes: Buffer, i: number) => Promise<unknown>,
  after?: () => Promise<void>,
): Promise<{ library: Series; floor: Series }> {
  await library(randomBytes(FILE_BYTES), -1);
  await floor(randomBytes(FILE_BYTES), -1);
  await after?.();
  const samples = { library: [] as number[], floor: [] as number[] };
  for (let i = 0; i < context.count; i += 1) {
    const forLibrary = randomBytes(FILE_BYTES);
    samples.library.push(await timed(() => library(forLibrary, i)));
    const forFloor = randomBytes(FILE_BYTES);
    samples.floor.push(await timed(() => floor(forFloor, i)));
    // Cleaning up (the objects of a store without a receiver) is not timed.
    await after?.();
  }
  const result = { library: summarize(names.library, samples.library), floor: summarize(names.floor, samples.floor) };
  context.series.push(result.library, result.floor);
  context.log(
    `${names.library}: p50 ${result.library.p50} ms, p95 ${result.library.p95} ms; ${names.floor}: p50 ${result.floor.p50} ms, p95 ${result.floor.p95} ms`,
  );
  return result;
}

function pushRow(context: AttachmentsBenchContext, via: string, floor: string, result: { library: Series; floor: Series }, note: string): void {
  context.row({
    scenario: `${SCENARIO}, ${via}`,
    a: `library send with the file: p50 ${result.library.p50} / p95 ${result.library.p95} ms`,
    b: `${floor}: p50 ${result.floor.p50} / p95 ${result.floor.p95} ms`,
    ratio: times(result.library.p50 / result.floor.p50),
    note: `n=${result.library.n} per side, alternated; ${note}`,
  });
}

async function sendWith(link: Messenger, via: string, bytes: Buffer, i: number): Promise<string> {
  const report = await link.send({ to: "xiaom", body: `bench file ${via} ${i}`, files: [{ bytes, name: FILE_NAME }] });
  if (!report.ok || report.via !== via) throw new Error(`expected delivery via ${via}, got ${JSON.stringify(report.attempts)}`);
  return report.id;
}

export async function benchAttachments(context: AttachmentsBenchContext): Promise<void> {
  const { gateway, node } = context;
  const links: Messenger[] = [];
  const open = (options: Omit<MessengerOptions, "log">) => {
    const link = createMessenger({ ...options, log: { level: "silent" } });
    links.push(link);
    return link;
  };
  const stateDir = join(context.scratch, "attachments-client");
  let raw: GatewayClient | undefined;
  try {
    raw = await connectRawClient(gateway.url, gateway.token);
    const client = raw;

    // sessions_send: both carry the file as a `sessions.send` attachment (base64 in the frame), into a
    // session of their own: in the full run, the main session still has the earlier scenarios' turns
    // queued, and the library's pacing would wait (rightly) for room there.
    const filesSession = `agent:main:bench-files-${randomUUID().slice(0, 8)}`;
    await gatewayRequest(gateway, "sessions.create", { key: filesSession });
    const sessions = open({
      config: {
        self: { name: "bench-a" },
        stateDir,
        instances: {
          xiaom: {
            gateway: { url: gateway.url, token: gateway.token },
            sessionKey: filesSession,
            transports: ["sessions_send"],
            timeouts: { sessions_send: 60_000 },
          },
        },
      },
    });
    const bySession = await pair(
      context,
      { library: "15 library sessions_send with a 5 MB file", floor: "15 raw sessions.send with the same attachment" },
      (bytes, i) => sendWith(sessions, "sessions_send", bytes, i),
      (bytes, i) =>
        client.request("sessions.send", {
          key: filesSession,
          message: `bench raw file ${i}`,
          idempotencyKey: randomUUID(),
          attachments: [{ type: "file", mimeType: MIME, fileName: FILE_NAME, content: bytes.toString("base64"), origin: "file", sizeBytes: bytes.byteLength }],
        }),
    );
    pushRow(
      context,
      "sessions_send",
      "raw sessions.send, same attachment",
      bySession,
      "the library also hashes the file, signs its list, and keeps a durable copy (written and fsynced) beside the outbox until the follow-up",
    );

    // nodes: the library writes the file, then the envelope that names it; the floor one file.write.
    const incoming = join(gateway.workspace, ".openclaw-inter-instance");
    const nodes = open({
      config: {
        self: { name: "bench-a" },
        stateDir,
        instances: {
          xiaom: {
            node: { gateway: { url: gateway.url, token: gateway.token }, name: node.displayName, workspace: gateway.workspace },
            transports: ["nodes"],
            timeouts: { nodes: 60_000 },
          },
        },
      },
    });
    const byNode = await pair(
      context,
      { library: "15 library nodes with a 5 MB file", floor: "15 raw node.invoke file.write of the same bytes" },
      (bytes, i) => sendWith(nodes, "nodes", bytes, i),
      async (bytes, i) => {
        const answer = await client.request<{ payload?: { ok?: boolean; code?: string } }>("node.invoke", {
          nodeId: node.nodeId,
          command: "file.write",
          params: {
            path: join(incoming, "bench-raw", `${i}-${randomUUID()}.bin`),
            contentBase64: bytes.toString("base64"),
            expectedSha256: sha256(bytes),
            overwrite: false,
            createParents: true,
          },
          timeoutMs: 60_000,
          idempotencyKey: randomUUID(),
        });
        if (!answer.payload?.ok) throw new Error(`raw file.write failed: ${JSON.stringify(answer.payload)}`);
      },
    );
    pushRow(
      context,
      "nodes",
      "raw file.write through node.invoke (SHA-256 and base64 included)",
      byNode,
      "the library's path is two file.writes (the file, then the envelope naming it), plus the outbox copy",
    );

    // nats: the library puts the object, then publishes the envelope; the floor one object put.
    if (!(await which("nats-server", { nothrow: true }))) {
      context.log("nats-server is not installed: the NATS row of scenario 15 is left out");
      return;
    }
    const broker = await startNatsServer();
    try {
      const fleetName = "benchfiles";
      const natsLink = open({
        config: {
          self: { name: "bench-a" },
          stateDir,
          nats: { servers: [broker.url], fleet: fleetName },
          instances: { xiaom: { transports: ["nats"], timeouts: { nats: 60_000 } } },
        },
      });
      const { connect } = await import("@nats-io/transport-node");
      const { Objm, StorageType } = await import("@nats-io/obj");
      const connection = await connect({ servers: broker.url });
      try {
        const floorStore = await new Objm(connection).create("bench-floor", { storage: StorageType.File });
        const fleetStore = await new Objm(connection).create(`iim-${fleetName}-files`, { storage: StorageType.File });
        const toRemove: (() => Promise<unknown>)[] = [];
        const byBroker = await pair(
          context,
          { library: "15 library nats with a 5 MB file", floor: "15 raw object-store put of the same bytes" },
          async (bytes, i) => {
            const id = await sendWith(natsLink, "nats", bytes, i);
            // No receiver runs here: its objects are removed between samples, as a receipt would.
            toRemove.push(() => fleetStore.delete(objectName(id, sha256(bytes))));
          },
          async (bytes, i) => {
            const name = `floor-${i}-${randomUUID()}`;
            await floorStore.putBlob({ name, options: { max_chunk_size: OBJECT_CHUNK_BYTES } }, bytes);
            toRemove.push(() => floorStore.delete(name));
          },
          async () => {
            for (const remove of toRemove.splice(0)) await remove();
          },
        );
        pushRow(
          context,
          "nats",
          "raw @nats-io/obj putBlob, same 1 MiB chunks",
          byBroker,
          "the library's path adds an object lookup (a retry sends nothing again), the envelope's JetStream publish, and the outbox copy; the receiver's fetch is not timed",
        );
      } finally {
        await connection.close();
      }
    } finally {
      await Promise.all(links.splice(0).map((link) => link.close()));
      await broker.dispose();
    }
  } finally {
    await Promise.all(links.map((link) => link.close()));
    await raw?.stopAndWait({ timeoutMs: 2_000 }).catch(() => undefined);
  }
}

/** The Gateway's node policy for this scenario (before the node host first connects). */
export const allowBenchFileWrites = (stateDir: string) => allowNodeFileWrites(stateDir, [`${join(stateDir, "workspace")}/.openclaw-inter-instance/**`]);

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const scratch = await mkdtemp(join(tmpdir(), "oii-bench-attachments-"));
  const started = performance.now();
  const rows: Row[] = [];
  const series: Series[] = [];
  const mock = await startMockModel();
  let gateway: TestGateway | undefined;
  let nodeHost: Awaited<ReturnType<typeof startNodeHost>> | undefined;
  try {
    gateway = await startGateway({ modelBaseUrl: mock.url, name: "bench-attachments", beforeStart: ({ stateDir }) => allowBenchFileWrites(stateDir) });
    nodeHost = await startNodeHost(gateway, { displayName: "bench-node" });
    await benchAttachments({
      gateway,
      node: nodeHost,
      scratch,
      count: process.argv.includes("--quick") ? 2 : 20,
      series,
      row: (row) => rows.push(row),
      log: (text) => process.stderr.write(`[attachments ${((performance.now() - started) / 1000).toFixed(1)} s] ${text}\n`),
    });
    process.stdout.write(`${series.map((s) => `| ${s.name} | ${s.n} | ${s.p50} | ${s.p95} |`).join("\n")}\n\n`);
    process.stdout.write(`${rows.map((r) => `| ${r.scenario} | ${r.a} | ${r.b} | ${r.ratio} | ${r.note} |`).join("\n")}\n`);
  } finally {
    await nodeHost?.dispose();
    await gateway?.dispose();
    await mock.close();
    await rm(scratch, { recursive: true, force: true });
  }
}
