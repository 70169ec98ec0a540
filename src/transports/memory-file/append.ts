import { constants } from "node:fs";
import { access, type FileHandle, mkdir, open, readFile, stat, unlink, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { Envelope } from "../../core/envelope.js";
import { TransientError, UnavailableError } from "../../core/errors.js";
import { type ZonedStamp, zonedStamp } from "../../util/time-zone.js";
import { formatEntry, parseEntries, sealFor } from "./entry.js";

export interface AppendResult {
  readonly path: string;
  /** True when an entry with this envelope id was already in the note: nothing was written. */
  readonly duplicate: boolean;
}

export function dailyNotePath(workspace: string, date: string): string {
  return join(workspace, "memory", `${date}.md`);
}

function errnoOf(error: unknown): string | undefined {
  return error instanceof Error && "code" in error ? String((error as NodeJS.ErrnoException).code) : undefined;
}

function classifyFsError(error: unknown, path: string): Error {
  const code = errnoOf(error);
  if (code === "EACCES" || code === "EPERM" || code === "EROFS") {
    return new UnavailableError(`Cannot write ${path} (${code}).`, {
      code: "MEMORY_NOT_WRITABLE",
      hint: `Give this user write access to ${dirname(path)}.`,
      cause: error,
    });
  }
  if (code === "ENOSPC" || code === "EDQUOT") {
    return new UnavailableError(`No space left to write ${path} (${code}).`, { code: "DISK_FULL", hint: "Free disk space on the target.", cause: error });
  }
  if (code === "ELOCKED") {
    return new TransientError(`Another writer holds the lock on ${path}.`, { code: "LOCKED", cause: error });
  }
  return new UnavailableError(`Cannot append to ${path}: ${error instanceof Error ? error.message : String(error)}`, {
    code: code ?? "FS_ERROR",
    cause: error,
  });
}

/**
 * What this process knows of a note: the ids in it up to `size`, and the bytes just before `size`,
 * to notice when the note was rewritten rather than appended to. Appends then read only what other
 * writers added since, instead of the whole note every time. `written`: recorded right after this
 * process's own synced write, under the note's lock.
 */
interface NoteState {
  readonly ino: number;
  readonly size: number;
  readonly tail: Buffer;
  readonly ids: Set<string>;
  readonly written?: true;
}

const TAIL_BYTES = 64;
const noteStates = new Map<string, NoteState>();

async function readRange(handle: FileHandle, start: number, end: number): Promise<Buffer> {
  const buffer = Buffer.alloc(end - start);
  let offset = 0;
  while (offset < buffer.length) {
    const { bytesRead } = await handle.read(buffer, offset, buffer.length - offset, start + offset);
    if (bytesRead === 0) break;
    offset += bytesRead;
  }
  return buffer.subarray(0, offset);
}

const lastBytes = (bytes: Buffer) => Buffer.from(bytes.subarray(Math.max(0, bytes.length - TAIL_BYTES)));

interface ScannedNote {
  readonly ino: number;
  readonly ids: Set<string>;
  readonly size: number;
  readonly tornTail: { readonly at: number; readonly id: string } | undefined;
  /** Nothing changed since this process's own last write: no other writer can have left a write to cut. */
  readonly asWritten: boolean;
}

/** Brings the cached state of a note up to date with the file; call with the note's lock held. */
async function scanNote(path: string, handle: FileHandle): Promise<ScannedNote> {
  const { ino, size } = await handle.stat();
  const cached = noteStates.get(path);
  let from = 0;
  let ids = new Set<string>();
  let before: Buffer = Buffer.alloc(0);
  if (cached && cached.ino === ino && size >= cached.size) {
    const tailStart = Math.max(0, cached.size - cached.tail.length);
    if ((await readRange(handle, tailStart, cached.size)).equals(cached.tail)) {
      if (size === cached.size) return { ino, ids: cached.ids, size, tornTail: undefined, asWritten: cached.written === true };
      from = cached.size;
      ids = cached.ids;
      before = cached.tail;
    }
  }
  const fresh = await readRange(handle, from, size);
  const parsed = parseEntries(fresh);
  for (const entry of parsed.entries) ids.add(entry.id);
  const tornTail = parsed.tornTail && { at: from + parsed.tornTail.at, id: parsed.tornTail.id };
  // Remember up to a torn tail (not past it), with the bytes just before that from what was read.
  const known = tornTail ? tornTail.at - from : fresh.length;
  noteStates.set(path, { ino, size: from + known, tail: lastBytes(Buffer.concat([before, fresh.subarray(0, known)])), ids });
  return { ino, ids, size: from + fresh.length, tornTail, asWritten: false };
}

/** Records the note as this process's write left it: `chunk` appended to what the scan found. */
async function rememberWrite(path: string, handle: FileHandle, note: ScannedNote, chunk: Buffer): Promise<void> {
  const { ino, size } = await handle.stat();
  const tail =
    ino === note.ino && size === note.size + chunk.length && chunk.length >= TAIL_BYTES
      ? lastBytes(chunk)
      : await readRange(handle, Math.max(0, size - TAIL_BYTES), size);
  noteStates.set(path, { ino, size, tail, ids: note.ids, written: true });
}

/** The ids in a note other than the one being written (the other day a retry may be in); none when it does not exist. */
async function idsInNote(path: string): Promise<ReadonlySet<string>> {
  let handle: FileHandle;
  try {
    handle = await open(path, "r");
  } catch (error) {
    if (errnoOf(error) === "ENOENT") return new Set();
    throw error;
  }
  try {
    return (await scanNote(path, handle)).ids;
  } finally {
    await handle.close();
  }
}

/** The days whose notes a retry of the same envelope may already be in. */
function candidateDates(createdAt: Date, now: ZonedStamp, timeZone: string): string[] {
  return [...new Set([zonedStamp(createdAt, timeZone).date, now.date])];
}

type LockFunction = typeof import("proper-lockfile")["lock"];
let lockFunction: Promise<LockFunction> | undefined;

/** The cross-process lock next to the note. proper-lockfile loads on the first append, not with the library. */
async function lockNote(path: string): Promise<() => Promise<void>> {
  lockFunction ??= import("proper-lockfile").then(
    (module) => module.lock,
    (error: unknown) => {
      lockFunction = undefined;
      throw error;
    },
  );
  const lock = await lockFunction;
  return lock(path, {
    realpath: false,
    lockfilePath: `${path}.lock`,
    stale: 15_000,
    update: 5_000,
    retries: { retries: 200, factor: 1.3, minTimeout: 5, maxTimeout: 100, randomize: true },
  });
}

export interface AppendOptions {
  readonly workspace: string;
  readonly timeZone: string;
  readonly signal?: AbortSignal;
  readonly now?: Date;
}

/** At most this many entries, or this many bytes of them, go out in one write (one entry larger than that goes alone). */
export const MAX_BATCH_ENTRIES = 256;
export const MAX_BATCH_BYTES = 1024 * 1024;

/**
 * One append waiting for its batch. `queued` in its workspace's queue; `batched` in a batch that
 * has not started writing (its signal still stops it); `writing` once its batch's bytes are
 * composed (from then on it shares the batch's fate); `settled` once its promise is.
 */
interface PendingAppend {
  readonly envelope: Envelope;
  readonly options: AppendOptions;
  state: "queued" | "batched" | "writing" | "settled";
  readonly settle: (outcome: { readonly result: AppendResult } | { readonly error: unknown }) => void;
}

/** A batch: appends to one note (same workspace, zoned date and time zone), each with its entry formatted. */
interface Batch {
  readonly workspace: string;
  readonly path: string;
  readonly members: readonly { readonly append: PendingAppend; readonly entry: Buffer; readonly otherNotes: readonly string[] }[];
}

/**
 * Appends in this process queue per workspace, so only one batch at a time competes for the file
 * lock with other processes. While a batch is being written the next appends collect here; the next
 * batch then takes all of them that go to the same note: one lock, one scan, one write, one fsync.
 */
interface WorkspaceQueue {
  readonly appends: PendingAppend[];
}
const localQueues = new Map<string, WorkspaceQueue>();

export function workspaceMissingError(workspace: string, cause?: unknown): UnavailableError {
  return new UnavailableError(`Workspace ${workspace} does not exist.`, {
    code: "WORKSPACE_MISSING",
    hint: "Set workspace of this instance to the target agent's workspace (by default <state dir>/workspace).",
    cause,
  });
}

const failureOf = (error: unknown, path: string): unknown =>
  error instanceof UnavailableError || error instanceof TransientError ? error : classifyFsError(error, path);

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Appends the envelope to today's daily note of the workspace, at most once per envelope id.
 * Concurrent appends in this process go out together (group commit): writers in this and other
 * processes serialize on a lock next to the note; a batch of entries goes out in one write and is
 * fsynced before any of its appends resolves; on a failed write the file is cut back to its previous
 * length and every append in that write fails; an entry torn by a crash is cut away by the next
 * writer (or sealed, when it cannot prove the torn bytes are its own), so the note never keeps a
 * partial entry that parses.
 */
export function appendEntry(envelope: Envelope, options: AppendOptions): Promise<AppendResult> {
  return new Promise<AppendResult>((resolve, reject) => {
    const { signal } = options;
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    let queue = localQueues.get(options.workspace);
    const onAbort = () => {
      if (append.state === "queued") queue?.appends.splice(queue.appends.indexOf(append), 1);
      if (append.state === "queued" || append.state === "batched") append.settle({ error: signal?.reason });
    };
    const append: PendingAppend = {
      envelope,
      options,
      state: "queued",
      settle: (outcome) => {
        if (append.state === "settled") return;
        append.state = "settled";
        signal?.removeEventListener("abort", onAbort);
        if ("result" in outcome) resolve(outcome.result);
        else reject(outcome.error);
      },
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    if (queue) {
      queue.appends.push(append);
      return;
    }
    queue = { appends: [append] };
    localQueues.set(options.workspace, queue);
    void drain(options.workspace, queue);
  });
}

/** Writes batches from the queue until it is empty, then drops it. */
async function drain(workspace: string, queue: WorkspaceQueue): Promise<void> {
  // Appends started in the same turn (a Promise.all of writers) go into the first batch together.
  await nextTurn();
  try {
    while (queue.appends.length > 0) {
      const batch = takeBatch(workspace, queue);
      if (batch) await commit(batch);
      // Let the writers whose appends just resolved queue their next ones before the next batch forms.
      await nextTurn();
    }
  } catch (error) {
    // Not expected (commit settles its own failures); never leave an append waiting for ever.
    for (const append of queue.appends.splice(0)) append.settle({ error });
  } finally {
    localQueues.delete(workspace);
  }
}

/**
 * Takes from the queue the first append and every later one that goes to the same note (same
 * zoned date and time zone; appends without `now` are stamped with this moment), up to the caps.
 * Appends to other notes keep their place for a later batch.
 */
function takeBatch(workspace: string, queue: WorkspaceQueue): Batch | undefined {
  const at = new Date();
  const stamps = new Map<string, ZonedStamp>();
  const stampOf = (now: Date | undefined, timeZone: string): ZonedStamp => {
    if (now) return zonedStamp(now, timeZone);
    let stamp = stamps.get(timeZone);
    if (!stamp) stamps.set(timeZone, (stamp = zonedStamp(at, timeZone)));
    return stamp;
  };
  let target: { readonly path: string; readonly timeZone: string } | undefined;
  const members: Batch["members"][number][] = [];
  let bytes = 0;
  const left: PendingAppend[] = [];
  for (const [index, append] of queue.appends.entries()) {
    if (members.length >= MAX_BATCH_ENTRIES || bytes >= MAX_BATCH_BYTES) {
      left.push(...queue.appends.slice(index));
      break;
    }
    const { timeZone } = append.options;
    let stamp: ZonedStamp;
    try {
      stamp = stampOf(append.options.now, timeZone);
    } catch (error) {
      // A time zone or instant that does not format: this append cannot be written at all.
      append.state = "batched";
      append.settle({ error });
      continue;
    }
    const path = dailyNotePath(workspace, stamp.date);
    target ??= { path, timeZone };
    if (path !== target.path || timeZone !== target.timeZone) {
      left.push(append);
      continue;
    }
    let entry: Buffer;
    let otherNotes: string[];
    try {
      entry = formatEntry(append.envelope, stamp.time);
      otherNotes = candidateDates(new Date(append.envelope.createdAt), stamp, timeZone)
        .map((date) => dailyNotePath(workspace, date))
        .filter((other) => other !== path);
    } catch (error) {
      append.state = "batched";
      append.settle({ error: failureOf(error, path) });
      continue;
    }
    if (members.length > 0 && bytes + entry.length > MAX_BATCH_BYTES) {
      left.push(...queue.appends.slice(index));
      break;
    }
    append.state = "batched";
    members.push({ append, entry, otherNotes });
    bytes += entry.length;
  }
  queue.appends.splice(0, queue.appends.length, ...left);
  return target && members.length > 0 ? { workspace, path: target.path, members } : undefined;
}

/**
 * Checks that the memory dir is there and writable, creating it in an existing workspace. The lock
 * retries every failure to create its directory, EACCES included: checking first makes a directory
 * this user may not write fail at once instead of at the transport's timeout.
 */
async function memoryDirReady(workspace: string, memoryDir: string): Promise<void> {
  // The common case in one call: a writable memory dir means the workspace is there too (the
  // trailing slash: a file where the dir should be is not one).
  const writable = () => access(`${memoryDir}/`, constants.W_OK);
  if (
    await writable().then(
      () => true,
      () => false,
    )
  )
    return;
  try {
    const stats = await stat(workspace);
    if (!stats.isDirectory()) throw new Error("not a directory");
  } catch (cause) {
    throw workspaceMissingError(workspace, cause);
  }
  await mkdir(memoryDir, { recursive: true });
  await writable();
}

/** Writes one batch and settles every append in it; never throws. */
async function commit(batch: Batch): Promise<void> {
  const { path } = batch;
  const live = () => batch.members.filter((member) => member.append.state === "batched");
  const results = new Map<PendingAppend, AppendResult>();
  try {
    await memoryDirReady(batch.workspace, dirname(path));
    if (live().length === 0) return;
    const release = await lockNote(path);
    try {
      await writeBatch(batch, live, results);
    } finally {
      await release().catch(() => undefined);
    }
  } catch (error) {
    const failure = failureOf(error, path);
    for (const { append } of batch.members) if (!results.has(append)) append.settle({ error: failure });
  } finally {
    for (const [append, result] of results) append.settle({ result });
  }
}

/**
 * With the note's lock held: finds the appends already in a note (this one, or the other day's a
 * retry may be in), writes the rest in one write and syncs it, and records each one's result.
 * A duplicate within the batch shares the fate of the first append with its id.
 */
async function writeBatch(batch: Batch, live: () => Batch["members"], results: Map<PendingAppend, AppendResult>): Promise<void> {
  const { path } = batch;
  const otherIds = new Map<string, ReadonlySet<string>>();
  for (const { append, otherNotes } of live()) {
    for (const other of otherNotes) {
      let ids = otherIds.get(other);
      if (!ids) otherIds.set(other, (ids = await idsInNote(other)));
      if (ids.has(append.envelope.id)) {
        results.set(append, { path: other, duplicate: true });
        append.state = "writing";
        break;
      }
    }
  }
  if (live().length === 0) return;
  const handle = await open(path, "a+");
  try {
    let note = await scanNote(path, handle);
    const cutTo = note.asWritten ? undefined : await provenUnfinished(path, handle, note.size);
    if (cutTo !== undefined) {
      await handle.truncate(cutTo);
      await removePending(path);
      // What the scan knew of the cut bytes no longer holds: read the note again.
      noteStates.delete(path);
      note = await scanNote(path, handle);
    }
    // From here on the batch is written: a signal that fires now no longer stops its append.
    const written: { readonly append: PendingAppend; readonly entry: Buffer }[] = [];
    const firstWith = new Set<string>();
    const sameAs: PendingAppend[] = [];
    for (const { append, entry } of live()) {
      append.state = "writing";
      const { id } = append.envelope;
      if (note.ids.has(id)) results.set(append, { path, duplicate: true });
      else if (firstWith.has(id)) sameAs.push(append);
      else {
        firstWith.add(id);
        written.push({ append, entry });
      }
    }
    if (written.length === 0) return;
    const chunk = await writeEntries(
      path,
      handle,
      note,
      written.map(({ entry }) => entry),
    );
    for (const { append } of written) {
      note.ids.add(append.envelope.id);
      results.set(append, { path, duplicate: false });
    }
    for (const append of sameAs) results.set(append, { path, duplicate: true });
    await rememberWrite(path, handle, note, chunk);
  } finally {
    await handle.close();
  }
}

/**
 * What a batch is about to write, kept beside the note until the write is synced: the proof that
 * a torn tail is this library's own unfinished write. Not synced itself: it only has to outlive a
 * killed process, and without it a torn tail is sealed instead of cut.
 */
const pendingPath = (note: string) => `${note}.pending`;

/**
 * Where to cut the note back to, when it ends inside the write the pending record describes: after
 * the last of that write's entries that landed whole (they parse, and a retry finds them there), or
 * where the write began.
 */
async function provenUnfinished(note: string, handle: FileHandle, size: number): Promise<number | undefined> {
  const record = await readFile(pendingPath(note)).catch(() => undefined);
  if (!record) return undefined;
  const newline = record.indexOf(0x0a);
  const offset = Number(record.subarray(0, newline).toString("latin1"));
  const intended = record.subarray(newline + 1);
  if (!Number.isSafeInteger(offset) || offset < 0 || size <= offset || size - offset >= intended.length) return undefined;
  if (!(await readRange(handle, offset, size)).equals(intended.subarray(0, size - offset))) return undefined;
  const landed = parseEntries(intended).entries.filter((entry) => entry.end <= size - offset);
  return offset + (landed.at(-1)?.end ?? 0);
}

async function writeAll(handle: FileHandle, chunk: Buffer): Promise<void> {
  let offset = 0;
  while (offset < chunk.length) {
    const { bytesWritten } = await handle.write(chunk, offset, chunk.length - offset);
    if (bytesWritten <= 0) throw new Error("wrote nothing");
    offset += bytesWritten;
  }
}

/**
 * Appends the entries in one write, each after a newline as one append at a time would, and syncs
 * it. A torn entry at the end of the note (not cut: not proven ours) is sealed with its end marker
 * first, so nothing anyone else wrote is ever cut.
 */
async function writeEntries(path: string, handle: FileHandle, note: ScannedNote, entries: readonly Buffer[]): Promise<Buffer> {
  const length = note.size;
  const parts: Buffer[] = note.tornTail ? [sealFor(note.tornTail.id)] : [];
  for (const [index, entry] of entries.entries()) {
    if (length > 0 || index > 0) parts.push(NEWLINE);
    parts.push(entry);
  }
  const chunk = Buffer.concat(parts);
  await writeFile(pendingPath(path), Buffer.concat([Buffer.from(`${length}\n`, "latin1"), chunk]));
  let cutBack = true;
  try {
    await writeAll(handle, chunk);
    await handle.sync();
  } catch (error) {
    // When even the cut fails, the record stays: it lets the next writer cut what this write left.
    cutBack = await handle.truncate(length).then(
      () => true,
      () => false,
    );
    throw error;
  } finally {
    if (cutBack) await removePending(path);
  }
  return chunk;
}

/**
 * Best effort: a record left behind proves nothing once the note holds all of its write, and the
 * next write to the note replaces it first. A failure here must not fail appends already synced.
 */
const removePending = (path: string) => unlink(pendingPath(path)).catch(() => undefined);

const NEWLINE = Buffer.from("\n");
