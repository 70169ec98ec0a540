// Group commit of memory-file appends: concurrent appends in one process share one lock, one write
// and one fsync, without weakening what a single append promises.
import { type FileHandle, mkdir, mkdtemp, open, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import lockfile from "proper-lockfile";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { createEnvelope, type Envelope } from "../../src/core/envelope.js";
import { UnavailableError } from "../../src/core/errors.js";
import { appendEntry, dailyNotePath, MAX_BATCH_ENTRIES } from "../../src/transports/memory-file/append.js";
import { formatEntry, parseEntries } from "../../src/transports/memory-file/entry.js";

let workspace: string;
let fileHandle: FileHandle;

beforeEach(async () => {
  workspace = await mkdtemp(join(tmpdir(), "oii-group-commit-"));
  // The prototype every FileHandle shares, to count and fail the library's syncs and writes.
  const probe = await open(join(workspace, "probe"), "w");
  fileHandle = Object.getPrototypeOf(probe) as FileHandle;
  await probe.close();
  await rm(join(workspace, "probe"));
});

afterEach(async () => {
  vi.restoreAllMocks();
  await rm(workspace, { recursive: true, force: true });
});

const now = new Date("2026-11-25T06:05:00Z");
const envelope = (body: string, id: string, createdAt = now) => createEnvelope({ from: "xiaoa", to: "xiaom", body, id, createdAt });
const note = () => dailyNotePath(workspace, "2026-11-25");
const append = (e: Envelope, more: { signal?: AbortSignal; now?: Date; timeZone?: string } = {}) =>
  appendEntry(e, { workspace, timeZone: "UTC", now, ...more });
const ioError = (syscall: string) => Object.assign(new Error(`EIO: i/o error, ${syscall}`), { code: "EIO", syscall });
const exists = (path: string) =>
  stat(path).then(
    () => true,
    () => false,
  );

describe("group commit", () => {
  it("appends started together go out in one write and one fsync, laid out as one at a time would", async () => {
    const sync = vi.spyOn(fileHandle, "sync");
    await mkdir(join(workspace, "memory"));
    await writeFile(note(), "# notes");
    const envelopes = Array.from({ length: 40 }, (_, i) => envelope(`message ${i}\n${"y".repeat(i * 7)}`, `batch-id-${i}`));
    const results = await Promise.all(envelopes.map((e) => append(e)));
    expect(results.every((result) => result.path === note() && !result.duplicate)).toBe(true);
    expect(sync).toHaveBeenCalledTimes(1);
    const expected = Buffer.concat([Buffer.from("# notes"), ...envelopes.flatMap((e) => [Buffer.from("\n"), formatEntry(e, "06:05")])]);
    expect((await readFile(note())).equals(expected)).toBe(true);
    expect(await exists(`${note()}.pending`)).toBe(false);
  });

  it("concurrent writers each awaiting their own appends: every entry once, whole, in one note, far fewer fsyncs than appends", async () => {
    const sync = vi.spyOn(fileHandle, "sync");
    const writers = 16;
    const perWriter = 25;
    await Promise.all(
      Array.from({ length: writers }, async (_, w) => {
        for (let i = 0; i < perWriter; i += 1) {
          const result = await append(envelope(`writer ${w} message ${i}\n${"z".repeat((i * 53) % 700)}`, `gc-w${w}-m${i}`));
          expect(result).toEqual({ path: note(), duplicate: false });
        }
      }),
    );
    const parsed = parseEntries(await readFile(note()));
    expect(parsed.tornTail).toBeUndefined();
    expect(parsed.entries).toHaveLength(writers * perWriter);
    expect(new Set(parsed.entries.map((e) => e.id)).size).toBe(writers * perWriter);
    for (const entry of parsed.entries) {
      const [, w, i] = /^gc-w(\d+)-m(\d+)$/u.exec(entry.id) ?? [];
      expect(entry.body).toBe(`writer ${w} message ${i}\n${"z".repeat((Number(i) * 53) % 700)}`);
    }
    // Each writer's appends are in its own order.
    for (let w = 0; w < writers; w += 1) {
      const mine = parsed.entries.filter((e) => e.id.startsWith(`gc-w${w}-`)).map((e) => Number(/m(\d+)$/u.exec(e.id)?.[1]));
      expect(mine).toEqual([...mine].sort((a, b) => a - b));
    }
    expect(sync.mock.calls.length).toBeLessThanOrEqual((writers * perWriter) / 4);
  });

  it("caps a batch at MAX_BATCH_ENTRIES entries", async () => {
    const sync = vi.spyOn(fileHandle, "sync");
    const count = MAX_BATCH_ENTRIES + 10;
    await Promise.all(Array.from({ length: count }, (_, i) => append(envelope(`capped ${i}`, `cap-id-${i}`))));
    expect(sync).toHaveBeenCalledTimes(2);
    const ids = parseEntries(await readFile(note())).entries.map((e) => e.id);
    expect(ids).toEqual(Array.from({ length: count }, (_, i) => `cap-id-${i}`));
  });

  it("caps a batch at about 1 MiB: large entries go in separate writes", async () => {
    const sync = vi.spyOn(fileHandle, "sync");
    const big = "b".repeat(600 * 1024);
    await Promise.all([append(envelope(big, "big-id-1")), append(envelope(big, "big-id-2")), append(envelope("small", "small-id-1"))]);
    expect(sync).toHaveBeenCalledTimes(2);
    expect(parseEntries(await readFile(note())).entries.map((e) => [e.id, e.body.length])).toEqual([
      ["big-id-1", big.length],
      ["big-id-2", big.length],
      ["small-id-1", 5],
    ]);
  });

  it("two appends of one envelope id in one batch: the second is a duplicate with the same path, written once", async () => {
    await append(envelope("already there", "old-id-01"));
    const sync = vi.spyOn(fileHandle, "sync");
    const results = await Promise.all([
      append(envelope("first copy", "twice-id-1")),
      append(envelope("second copy", "twice-id-1")),
      append(envelope("other", "other-id-1")),
      append(envelope("again", "old-id-01")),
    ]);
    expect(results).toEqual([
      { path: note(), duplicate: false },
      { path: note(), duplicate: true },
      { path: note(), duplicate: false },
      { path: note(), duplicate: true },
    ]);
    expect(sync).toHaveBeenCalledTimes(1);
    expect(parseEntries(await readFile(note())).entries.map((e) => [e.id, e.body])).toEqual([
      ["old-id-01", "already there"],
      ["twice-id-1", "first copy"],
      ["other-id-1", "other"],
    ]);
  });

  it("finds a retry in yesterday's note inside a batch", async () => {
    const created = new Date("2026-11-25T23:59:00Z");
    const early = envelope("sent at 23:59", "midnight-gc-1", created);
    await append(early, { now: created });
    const after = new Date("2026-11-26T00:01:00Z");
    const results = await Promise.all([append(early, { now: after }), append(envelope("new today", "today-gc-1", after), { now: after })]);
    expect(results).toEqual([
      { path: dailyNotePath(workspace, "2026-11-25"), duplicate: true },
      { path: dailyNotePath(workspace, "2026-11-26"), duplicate: false },
    ]);
    expect(parseEntries(await readFile(dailyNotePath(workspace, "2026-11-26"))).entries.map((e) => e.id)).toEqual(["today-gc-1"]);
  });

  it("batches only appends to the same note: another date (its own `now`) or time zone waits for its own batch", async () => {
    const sync = vi.spyOn(fileHandle, "sync");
    const tomorrow = new Date("2026-11-26T06:05:00Z");
    const results = await Promise.all([
      append(envelope("today 1", "zone-id-1")),
      append(envelope("tomorrow", "zone-id-2"), { now: tomorrow }),
      append(envelope("today 2", "zone-id-3")),
      // Same date in Asia/Shanghai (14:05), but another time zone: its own batch.
      append(envelope("shanghai", "zone-id-4"), { timeZone: "Asia/Shanghai" }),
    ]);
    expect(results.map((r) => r.path)).toEqual([note(), dailyNotePath(workspace, "2026-11-26"), note(), note()]);
    expect(sync).toHaveBeenCalledTimes(3);
    expect(parseEntries(await readFile(note())).entries.map((e) => [e.id, e.time])).toEqual([
      ["zone-id-1", "06:05"],
      ["zone-id-3", "06:05"],
      ["zone-id-4", "14:05"],
    ]);
  });

  it("an append aborted while queued rejects with its signal's reason and is not written; the others are", async () => {
    const controller = new AbortController();
    const first = append(envelope("first", "abort-id-1"));
    const aborted = append(envelope("aborted", "abort-id-2"), { signal: controller.signal });
    const third = append(envelope("third", "abort-id-3"));
    const reason = new Error("caller gave up");
    controller.abort(reason);
    await expect(aborted).rejects.toBe(reason);
    expect(await first).toEqual({ path: note(), duplicate: false });
    expect(await third).toEqual({ path: note(), duplicate: false });
    expect(parseEntries(await readFile(note())).entries.map((e) => e.id)).toEqual(["abort-id-1", "abort-id-3"]);
  });

  it("an append aborted while its batch waits for the note's lock rejects at once and is not written; the others are", async () => {
    await append(envelope("before", "lock-id-0"));
    // Another process holds the note's lock.
    const release = await lockfile.lock(note(), { realpath: false, lockfilePath: `${note()}.lock` });
    const controller = new AbortController();
    const appends = [
      append(envelope("kept 1", "lock-id-1")),
      append(envelope("aborted", "lock-id-2"), { signal: controller.signal }),
      append(envelope("kept 2", "lock-id-3")),
    ];
    const settled = appends.map((p) =>
      p.then(
        () => "resolved",
        () => "rejected",
      ),
    );
    await new Promise((resolve) => setTimeout(resolve, 100));
    const reason = new Error("timed out");
    controller.abort(reason);
    await expect(appends[1]).rejects.toBe(reason);
    // The others still wait for the lock.
    expect(await Promise.race([settled[0], new Promise((resolve) => setTimeout(() => resolve("waiting"), 20))])).toBe("waiting");
    await release();
    expect(await Promise.all([appends[0], appends[2]])).toEqual([
      { path: note(), duplicate: false },
      { path: note(), duplicate: false },
    ]);
    expect(parseEntries(await readFile(note())).entries.map((e) => e.id)).toEqual(["lock-id-0", "lock-id-1", "lock-id-3"]);
  });

  it("an fsync that fails fails every append of that write, duplicates in it included, and cuts the note back to what it was", async () => {
    await append(envelope("before", "fail-id-0"));
    const before = await readFile(note());
    vi.spyOn(fileHandle, "sync").mockRejectedValueOnce(ioError("fsync"));
    const batch = [envelope("one", "fail-id-1"), envelope("two", "fail-id-2"), envelope("two again", "fail-id-2")];
    const outcomes = await Promise.allSettled(batch.map((e) => append(e)));
    expect(outcomes.map((o) => o.status)).toEqual(["rejected", "rejected", "rejected"]);
    for (const outcome of outcomes) {
      expect(outcome.status === "rejected" && outcome.reason).toBeInstanceOf(UnavailableError);
      expect(outcome.status === "rejected" && (outcome.reason as UnavailableError).code).toBe("EIO");
    }
    expect((await readFile(note())).equals(before)).toBe(true);
    expect(await exists(`${note()}.pending`)).toBe(false);
    // Nothing of the failed write is remembered: the retries are written, not taken for duplicates.
    expect(await Promise.all(batch.slice(0, 2).map((e) => append(e)))).toEqual([
      { path: note(), duplicate: false },
      { path: note(), duplicate: false },
    ]);
    expect(parseEntries(await readFile(note())).entries.map((e) => e.id)).toEqual(["fail-id-0", "fail-id-1", "fail-id-2"]);
  });

  it("a write that fails halfway fails the whole batch and leaves the note as it was", async () => {
    await mkdir(join(workspace, "memory"));
    await writeFile(note(), "# user notes\n");
    const before = await readFile(note());
    type WriteBuffer = (this: FileHandle, buffer: Buffer, offset?: number | null, length?: number | null) => Promise<unknown>;
    const write = fileHandle.write as unknown as WriteBuffer;
    const halfThenFail: WriteBuffer = async function (buffer, offset, length) {
      await write.call(this, buffer, offset ?? 0, Math.floor((length ?? buffer.length) / 2));
      throw ioError("write");
    };
    vi.spyOn(fileHandle, "write").mockImplementationOnce(halfThenFail as unknown as FileHandle["write"]);
    const outcomes = await Promise.allSettled([append(envelope("one", "half-id-1")), append(envelope("two", "half-id-2"))]);
    expect(outcomes.map((o) => o.status)).toEqual(["rejected", "rejected"]);
    expect((await readFile(note())).equals(before)).toBe(true);
    await append(envelope("after", "half-id-3"));
    expect(parseEntries(await readFile(note())).entries.map((e) => e.id)).toEqual(["half-id-3"]);
  });

  it("a failed write that cannot even be cut back keeps its pending record, so the next append cuts the torn part", async () => {
    await mkdir(join(workspace, "memory"));
    await writeFile(note(), "# user notes");
    type WriteBuffer = (this: FileHandle, buffer: Buffer, offset?: number | null, length?: number | null) => Promise<unknown>;
    const write = fileHandle.write as unknown as WriteBuffer;
    const halfThenFail: WriteBuffer = async function (buffer, offset, length) {
      await write.call(this, buffer, offset ?? 0, Math.floor((length ?? buffer.length) / 2));
      throw ioError("write");
    };
    vi.spyOn(fileHandle, "write").mockImplementationOnce(halfThenFail as unknown as FileHandle["write"]);
    vi.spyOn(fileHandle, "truncate").mockRejectedValueOnce(ioError("ftruncate"));
    const small = envelope("small", "uncut-id-1");
    const large = envelope("l".repeat(4000), "uncut-id-2");
    const outcomes = await Promise.allSettled([append(small), append(large)]);
    expect(outcomes.map((o) => o.status)).toEqual(["rejected", "rejected"]);
    expect(await exists(`${note()}.pending`)).toBe(true);
    expect(parseEntries(await readFile(note())).tornTail?.id).toBe("uncut-id-2");
    // The next batch cuts the torn entry, keeps the one that landed whole (its retry finds it), writes the rest.
    const retried = await Promise.all([append(small), append(large)]);
    expect(retried.map((r) => r.duplicate)).toEqual([true, false]);
    const text = await readFile(note());
    expect(text.equals(Buffer.concat([Buffer.from("# user notes\n"), formatEntry(small, "06:05"), Buffer.from("\n"), formatEntry(large, "06:05")]))).toBe(true);
    expect(await exists(`${note()}.pending`)).toBe(false);
  });

  it("after a crash inside a batch write, keeps the entries that landed whole and cuts only the rest", async () => {
    await mkdir(join(workspace, "memory"));
    const prefix = Buffer.from("# notes");
    const crashed = [envelope("landed 1", "crash-id-1"), envelope("landed 2", "crash-id-2"), envelope("torn", "crash-id-3")];
    const chunk = Buffer.concat(crashed.flatMap((e) => [Buffer.from("\n"), formatEntry(e, "06:00")]));
    const landed = chunk.length - 40;
    await writeFile(note(), Buffer.concat([prefix, chunk.subarray(0, landed)]));
    await writeFile(`${note()}.pending`, Buffer.concat([Buffer.from(`${prefix.length}\n`), chunk]));
    expect(parseEntries(await readFile(note())).tornTail?.id).toBe("crash-id-3");
    // The torn one's retry is written; the whole ones' retries are found.
    const results = await Promise.all([append(envelope("torn", "crash-id-3")), append(envelope("landed 1", "crash-id-1"))]);
    expect(results.map((r) => r.duplicate)).toEqual([false, true]);
    const text = await readFile(note());
    const parsed = parseEntries(text);
    expect(parsed.tornTail).toBeUndefined();
    expect(parsed.entries.map((e) => [e.id, e.time])).toEqual([
      ["crash-id-1", "06:00"],
      ["crash-id-2", "06:00"],
      ["crash-id-3", "06:05"],
    ]);
    const whole = chunk.length - formatEntry(crashed[2] as Envelope, "06:00").length - 1;
    expect(text.equals(Buffer.concat([prefix, chunk.subarray(0, whole), Buffer.from("\n"), formatEntry(envelope("torn", "crash-id-3"), "06:05")]))).toBe(true);
    expect(await exists(`${note()}.pending`)).toBe(false);
  });

  it("after a crash inside a header, cuts back to the last whole entry: no fragment stays", async () => {
    await mkdir(join(workspace, "memory"));
    const crashed = [envelope("landed", "frag-id-1"), envelope("cut in its header", "frag-id-2")];
    const chunk = Buffer.concat(crashed.flatMap((e, i) => [...(i > 0 ? [Buffer.from("\n")] : []), formatEntry(e, "06:00")]));
    const first = formatEntry(crashed[0] as Envelope, "06:00").length;
    await writeFile(note(), chunk.subarray(0, first + 20));
    await writeFile(`${note()}.pending`, Buffer.concat([Buffer.from("0\n"), chunk]));
    await append(envelope("next", "frag-id-3"));
    const text = await readFile(note());
    expect(text.equals(Buffer.concat([chunk.subarray(0, first), Buffer.from("\n"), formatEntry(envelope("next", "frag-id-3"), "06:05")]))).toBe(true);
  });
});
