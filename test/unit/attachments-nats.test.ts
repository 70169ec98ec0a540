import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { ObjectInfo, ObjectResult, ObjectStore, ObjectStoreMeta } from "@nats-io/obj";
import { Base64UrlPaddedCodec } from "@nats-io/obj/internal";
import { describe, expect, it } from "vitest";
import { prepareFiles } from "../../src/core/attachments/prepare.js";
import { createEnvelope, type Envelope, InstanceRegistry, parseConfig } from "../../src/index.js";
import { incomingFilesText } from "../../src/plugin/incoming-files-text.js";
import { natsInjectionText } from "../../src/plugin/services/nats.js";
import { fetchMessageFiles, objectName, putMessageFiles, removeMessageFiles, storeDigest } from "../../src/transports/nats/files.js";
import { NatsFleet } from "../../src/transports/nats/fleet.js";
import { NatsTransport } from "../../src/transports/nats/transport.js";
import { incomingFilesDir } from "../../src/transports/nodes/incoming.js";
import { scratchDirs } from "../harness/scratch.js";

// The object store's part of the nats transport, against an in-memory store with the client's
// semantics for the calls it uses (info, get, putBlob, delete). The real JetStream object store is
// exercised by test/integration/attachments.test.ts.

const bounds = { maxFileBytes: 10 * 1024 * 1024, maxTotalBytes: 20 * 1024 * 1024, maxFiles: 16 };
const limits = { maxFileBytes: bounds.maxFileBytes, maxTotalBytes: bounds.maxTotalBytes };
const scratch = scratchDirs("attachments-nats-");
const digestOf = (bytes: Uint8Array) => `SHA-256=${Base64UrlPaddedCodec.encode(createHash("sha256").update(bytes).digest())}`;

class MemoryObjectStore {
  readonly objects = new Map<string, { info: ObjectInfo; bytes: Uint8Array }>();
  readonly calls: string[] = [];

  /** Stores `bytes` under `name` with an info that may lie (`infoOverrides`), as another fleet member could. */
  plant(name: string, bytes: Uint8Array, infoOverrides: Partial<ObjectInfo> = {}): void {
    const info = { name, bucket: "b", nuid: "n", size: bytes.byteLength, chunks: 1, digest: digestOf(bytes), deleted: false, mtime: "", revision: 1 };
    this.objects.set(name, { info: { ...info, ...infoOverrides } as ObjectInfo, bytes });
  }

  async info(name: string): Promise<ObjectInfo | null> {
    this.calls.push(`info ${name}`);
    return this.objects.get(name)?.info ?? null;
  }

  /** Objects whose chunks the client finds not matching their digest (as its `get` reports it). */
  readonly damaged = new Set<string>();

  async get(name: string): Promise<ObjectResult | null> {
    this.calls.push(`get ${name}`);
    const found = this.objects.get(name);
    if (!found || found.info.deleted) return null;
    const { bytes } = found;
    let offset = 0;
    const damaged = this.damaged.has(name);
    const data = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (damaged) return controller.error(new Error("received a corrupt object, digests do not match"));
        if (offset >= bytes.byteLength) return controller.close();
        controller.enqueue(bytes.subarray(offset, offset + 65_536));
        offset += 65_536;
      },
    });
    return { info: found.info, data, error: Promise.resolve(null) };
  }

  async putBlob(meta: ObjectStoreMeta, bytes: Uint8Array): Promise<ObjectInfo> {
    this.calls.push(`put ${meta.name} ${meta.options?.max_chunk_size}`);
    this.plant(meta.name, bytes);
    return this.objects.get(meta.name)!.info;
  }

  async delete(name: string): Promise<{ success: boolean; purged: number }> {
    this.calls.push(`delete ${name}`);
    const found = this.objects.get(name);
    if (found) found.info = { ...found.info, deleted: true, size: 0, digest: "" } as ObjectInfo;
    return { success: !!found, purged: found ? 1 : 0 };
  }

  asStore(): ObjectStore {
    return this as unknown as ObjectStore;
  }
}

async function message(inputs: Parameters<typeof prepareFiles>[0]) {
  const prepared = await prepareFiles(inputs, bounds);
  const envelope: Envelope = createEnvelope({ from: "xiaoa", to: "xiaom", body: "see the files", files: prepared });
  const bytesOf = new Map(prepared.map((file) => [file.sha256, file.bytes]));
  return { envelope, prepared, source: async (file: { sha256: string }) => bytesOf.get(file.sha256)! };
}

const options = { timeoutMs: 5_000, signal: new AbortController().signal };

describe("the object store's names and digests", () => {
  it("spells a SHA-256 as the client's own digest, and names objects by envelope and digest", () => {
    const bytes = Buffer.from("hello object store");
    const hex = createHash("sha256").update(bytes).digest("hex");
    expect(storeDigest(hex)).toBe(digestOf(bytes));
    expect(objectName("a:1", hex)).not.toBe(objectName("a:2", hex));
    expect(objectName("a:1", hex)).toMatch(/^[A-Za-z0-9_-]+\.[0-9a-f]{64}$/u);
  });
});

describe("sending files through the object store", () => {
  it("puts each distinct file once in 1 MiB chunks, and a retry of the same envelope sends nothing again", async () => {
    const store = new MemoryObjectStore();
    const same = Buffer.from("same bytes");
    const { envelope, source } = await message([
      { bytes: same, name: "a.txt" },
      { bytes: same, name: "b.txt" },
      { bytes: Buffer.alloc(3_000_000, 7), name: "big.bin" },
    ]);
    expect(await putMessageFiles(store.asStore(), envelope, source, options)).toBe(same.byteLength + 3_000_000);
    expect(store.calls.filter((call) => call.startsWith("put"))).toHaveLength(2);
    expect(store.calls.filter((call) => call.startsWith("put")).every((call) => call.endsWith(" 1048576"))).toBe(true);
    expect(await putMessageFiles(store.asStore(), envelope, source, options)).toBe(0);
  });

  it("refuses to send without the bytes at hand", async () => {
    const { envelope } = await message([{ bytes: Buffer.from("x"), name: "x.txt" }]);
    await expect(putMessageFiles(new MemoryObjectStore().asStore(), envelope, undefined, options)).rejects.toMatchObject({ code: "INTEGRITY_FAILURE" });
  });

  it("the transport applies to a message with files once a fleet is configured", async () => {
    const { envelope } = await message([{ bytes: Buffer.from("x"), name: "x.txt" }]);
    const instance = new InstanceRegistry(parseConfig({ self: { name: "xiaoa" }, instances: { xiaom: {} } }), {}).resolve("xiaom");
    const fleet = new NatsFleet({ servers: ["nats://127.0.0.1:4222"], fleet: "f", duplicateWindowMs: 7_200_000, maxDeliver: 5, presenceTtlMs: 120_000 });
    expect(new NatsTransport({ fleet, release: async () => {} }).applies(instance, envelope)).toEqual({ ok: true });
    expect(new NatsTransport(undefined).applies(instance, envelope).ok).toBe(false);
  });
});

describe("receiving files from the object store", () => {
  it("writes each file byte-exact into the incoming folder, and the frame lists them verified; removal deletes the objects", async () => {
    const store = new MemoryObjectStore();
    const workspace = scratch();
    const binary = Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 7919) % 256));
    const { envelope, prepared, source } = await message([
      { bytes: binary, name: "blob.bin" },
      { bytes: Buffer.from("log\n"), name: "build.log" },
    ]);
    await putMessageFiles(store.asStore(), envelope, source, options);
    const folder = incomingFilesDir(workspace);
    expect((await fetchMessageFiles(store.asStore(), envelope, folder, limits)).size).toBe(0);
    for (const file of prepared) expect(readFileSync(join(folder, file.sha256, file.name)).equals(Buffer.from(file.bytes))).toBe(true);
    const verdict = { verified: true as const, from: "xiaoa", fingerprint: "f" };
    const text = natsInjectionText(envelope, verdict, await incomingFilesText(envelope.files, true, workspace));
    expect(text.match(/: verified \(SHA-256/gu)).toHaveLength(2);
    expect(text.indexOf("Files with this message")).toBeLessThan(text.indexOf("What follows until the end line"));
    // Given again: nothing is fetched twice.
    store.calls.length = 0;
    expect((await fetchMessageFiles(store.asStore(), envelope, folder, limits)).size).toBe(0);
    expect(store.calls).toEqual([]);
    await removeMessageFiles(store.asStore(), envelope);
    expect([...store.objects.values()].every((object) => object.info.deleted)).toBe(true);
  });

  it("does not write a missing object, another object under the name, one that holds more than listed or a damaged one, and says why", async () => {
    const store = new MemoryObjectStore();
    const workspace = scratch();
    const folder = incomingFilesDir(workspace);
    const { envelope, prepared } = await message([
      { bytes: Buffer.from("never put"), name: "missing.txt" },
      { bytes: Buffer.from("the real one"), name: "swapped.txt" },
      { bytes: Buffer.from("short"), name: "long.txt" },
      { bytes: Buffer.from("damaged in the store"), name: "damaged.txt" },
    ]);
    const [missing, swapped, long, damaged] = prepared;
    store.plant(objectName(envelope.id, swapped!.sha256), Buffer.from("another one!"));
    // An object whose info claims the listed size and digest but whose chunks hold more.
    store.plant(objectName(envelope.id, long!.sha256), Buffer.alloc(200_000, 1), { size: long!.size, digest: storeDigest(long!.sha256) });
    store.plant(objectName(envelope.id, damaged!.sha256), Buffer.from("damaged in the store"));
    store.damaged.add(objectName(envelope.id, damaged!.sha256));
    const reasons = await fetchMessageFiles(store.asStore(), envelope, folder, limits);
    expect(reasons.get(damaged!.sha256)).toMatch(/chunks do not match its digest/u);
    expect(reasons.get(missing!.sha256)).toMatch(/not in the fleet's object store/u);
    expect(reasons.get(swapped!.sha256)).toMatch(/not the listed file/u);
    expect(reasons.get(long!.sha256)).toMatch(/holds more than the listed 5 bytes/u);
    expect(existsSync(folder) ? prepared.filter((file) => existsSync(join(folder, file.sha256, file.name))) : []).toEqual([]);
    const text = await incomingFilesText(envelope.files, true, workspace, reasons);
    expect(text).toContain('"missing.txt" (9 bytes, text/plain) at');
    expect(text).toMatch(/"missing\.txt".*NOT VERIFIED \(its object is not in the fleet's object store/u);
    expect(text).not.toContain(": verified");
  });

  it("fetches nothing over this instance's limits", async () => {
    const store = new MemoryObjectStore();
    const { envelope, prepared, source } = await message([
      { bytes: Buffer.alloc(2_000, 1), name: "a.bin" },
      { bytes: Buffer.alloc(3_000, 2), name: "b.bin" },
    ]);
    await putMessageFiles(store.asStore(), envelope, source, options);
    const folder = incomingFilesDir(scratch());
    const perFile = await fetchMessageFiles(store.asStore(), envelope, folder, { maxFileBytes: 2_500, maxTotalBytes: 10_000 });
    expect(perFile.get(prepared[1]!.sha256)).toMatch(/attachments\.maxFileBytes \(2500 bytes\)/u);
    expect(perFile.has(prepared[0]!.sha256)).toBe(false);
    const total = await fetchMessageFiles(store.asStore(), envelope, incomingFilesDir(scratch()), { maxFileBytes: 5_000, maxTotalBytes: 4_000 });
    expect(total.get(prepared[1]!.sha256)).toMatch(/attachments\.maxTotalBytes \(4000 bytes\)/u);
  });

  it("an unverified sender's files are fetched but never listed as verified", async () => {
    const store = new MemoryObjectStore();
    const workspace = scratch();
    const { envelope, source } = await message([{ bytes: Buffer.from("x"), name: "x.txt" }]);
    await putMessageFiles(store.asStore(), envelope, source, options);
    await fetchMessageFiles(store.asStore(), envelope, incomingFilesDir(workspace), limits);
    const text = await incomingFilesText(envelope.files, false, workspace);
    expect(text).toMatch(/NOT VERIFIED \(the sender's signature does not vouch for this list\)/u);
  });
});
