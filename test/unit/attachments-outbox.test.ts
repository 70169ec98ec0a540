import { existsSync, readdirSync, utimesSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { sha256Hex } from "../../src/core/attachments/file-list.js";
import { Dispatcher, Outbox } from "../../src/core.js";
import {
  APPLIES,
  createEnvelope,
  type DeliveryContext,
  type Envelope,
  InstanceRegistry,
  parseConfig,
  type Receipt,
  type Transport,
  UnavailableError,
  ValidationError,
} from "../../src/index.js";
import { scratchDirs } from "../harness/scratch.js";
import { silentLogger } from "../harness/silent-logger.js";

const silent = silentLogger();
const scratch = scratchDirs("attachments-outbox-");

const fileOf = (text: string, name: string) => {
  const bytes = Buffer.from(text);
  return { name, size: bytes.byteLength, sha256: sha256Hex(bytes), mime: "text/plain", bytes };
};
const kept = (outbox: Outbox) => (existsSync(outbox.files.dir) ? readdirSync(outbox.files.dir).sort() : []);

describe("the outbox keeps queued files by digest", () => {
  it("keeps files while an envelope lists them, and lets them go once none does", async () => {
    const outbox = await Outbox.open(join(scratch(), "outbox.sqlite"));
    const log = fileOf("log line\n", "build.log");
    const shot = fileOf("png bytes", "shot.png");
    const { bytes: _a, ...logMeta } = log;
    const { bytes: _b, ...shotMeta } = shot;
    const first = createEnvelope({ from: "xiaoa", to: "xiaom", body: "one", files: [logMeta, shotMeta] });
    const second = createEnvelope({ from: "xiaoa", to: "xiaom", body: "two", files: [logMeta] });
    outbox.keepFiles([log, shot]);
    outbox.enqueue(first, "down");
    outbox.keepFiles([log]);
    outbox.enqueue(second, "down");
    expect(kept(outbox)).toEqual([log.sha256, shot.sha256].sort());
    expect(Buffer.from(outbox.files.read(logMeta)!).toString()).toBe("log line\n");
    // Delivered: its own file goes, the one the second still lists stays.
    outbox.markDelivered(first.id, "memory_file", "written");
    expect(kept(outbox)).toEqual([log.sha256]);
    // Dropped: the last one goes.
    expect(outbox.remove(second.id)).toBe(true);
    expect(kept(outbox)).toEqual([]);
    outbox.close();
  });

  it("an accepted envelope keeps its files for a redelivery until it is seen to run", async () => {
    const outbox = await Outbox.open(join(scratch(), "outbox.sqlite"));
    const log = fileOf("accepted\n", "a.log");
    const { bytes: _bytes, ...meta } = log;
    const envelope = createEnvelope({ from: "xiaoa", to: "xiaom", body: "run it", files: [meta] });
    outbox.keepFiles([log]);
    outbox.enqueue(envelope, "down");
    outbox.markDelivered(envelope.id, "sessions_send", "accepted");
    expect(kept(outbox)).toEqual([log.sha256]);
    outbox.markFollowedUp(envelope.id, "xiaom");
    expect(kept(outbox)).toEqual([]);
    outbox.close();
  });

  it("a sweep removes what a crash left (a blob without its row, a half-written temporary), after the grace", async () => {
    const outbox = await Outbox.open(join(scratch(), "outbox.sqlite"));
    outbox.keepFiles([fileOf("orphan", "o.txt")]);
    writeFileSync(join(outbox.files.dir, ".abc.tmp"), "half");
    expect(outbox.sweepFiles()).toEqual([]);
    expect(kept(outbox)).toHaveLength(2);
    const old = new Date(Date.now() - 3_600_000);
    for (const name of readdirSync(outbox.files.dir)) utimesSync(join(outbox.files.dir, name), old, old);
    expect(outbox.sweepFiles()).toHaveLength(1);
    expect(kept(outbox)).toEqual([]);
    outbox.close();
  });

  it("never gives back bytes that are not the file (damaged on disk)", async () => {
    const outbox = await Outbox.open(join(scratch(), "outbox.sqlite"));
    const log = fileOf("intact", "i.txt");
    const { bytes: _bytes, ...meta } = log;
    outbox.keepFiles([log]);
    writeFileSync(join(outbox.files.dir, log.sha256), "tampered");
    expect(outbox.files.read(meta)).toBeUndefined();
    outbox.close();
  });
});

class Recording implements Transport {
  readonly id = "memory_file" as const;
  up = false;
  readonly carried: { envelope: Envelope; files: Buffer[] }[] = [];
  applies() {
    return APPLIES;
  }
  async deliver(envelope: Envelope, context: DeliveryContext): Promise<Receipt> {
    if (!this.up) throw new UnavailableError("down for the test");
    const files = await Promise.all((envelope.files ?? []).map(async (file) => Buffer.from(await context.files!(file))));
    this.carried.push({ envelope, files });
    return { status: "written", detail: {} };
  }
}

describe("a message with files queued while the target is down", () => {
  it("arrives whole from the outbox, and its files are let go once it is delivered", async () => {
    const dir = scratch();
    const outbox = await Outbox.open(join(dir, "outbox.sqlite"));
    const transport = new Recording();
    const registry = new InstanceRegistry(parseConfig({ self: { name: "xiaoa" }, instances: { xiaom: { transports: ["memory_file"] } } }), {});
    const dispatcher = new Dispatcher({ registry, transports: [transport], logger: silent, outbox: async () => outbox, retryMinTimeoutMs: 1 });
    writeFileSync(join(dir, "build.log"), "ok\n");
    const binary = Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 31) % 256));
    const report = await dispatcher.send({
      to: "xiaom",
      body: "see the log",
      files: [{ path: join(dir, "build.log") }, { bytes: binary, name: "../blob.bin" }],
    });
    expect(report.status).toBe("queued");
    expect(kept(outbox)).toHaveLength(2);
    transport.up = true;
    const [flushed] = await dispatcher.flush();
    expect(flushed?.status).toBe("written");
    const [carried] = transport.carried;
    expect(carried!.envelope.files!.map((file) => file.name)).toEqual(["build.log", "_blob.bin"]);
    expect(carried!.files[0]!.toString()).toBe("ok\n");
    expect(carried!.files[1]!.equals(binary)).toBe(true);
    expect(kept(outbox)).toEqual([]);
    outbox.close();
  });

  it("refuses files over the configured bounds before anything is sent or queued", async () => {
    const outbox = await Outbox.open(join(scratch(), "outbox.sqlite"));
    const transport = new Recording();
    const registry = new InstanceRegistry(
      parseConfig({ self: { name: "xiaoa" }, attachments: { maxFileBytes: 10, maxTotalBytes: 10 }, instances: { xiaom: { transports: ["memory_file"] } } }),
      {},
    );
    const dispatcher = new Dispatcher({ registry, transports: [transport], logger: silent, outbox: async () => outbox });
    await expect(dispatcher.send({ to: "xiaom", body: "big", files: [{ bytes: new Uint8Array(11), name: "big.bin" }] })).rejects.toBeInstanceOf(
      ValidationError,
    );
    expect(outbox.list()).toEqual([]);
    expect(kept(outbox)).toEqual([]);
    outbox.close();
  });
});
