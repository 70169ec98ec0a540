import { constants } from "node:fs";
import { access, mkdir, open, readFile, rm, stat, writeFile, type FileHandle } from "node:fs/promises";
import { dirname, join } from "node:path";
import lockfile from "proper-lockfile";
import type { Envelope } from "../core/envelope.js";
import { TransientError, UnavailableError } from "../core/errors.js";
import { zonedStamp } from "../time-zone.js";
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
  return new UnavailableError(`Cannot append to ${path}: ${error instanceof Error ? error.message : String(error)}`, { code: code ?? "FS_ERROR", cause: error });
}

/**
 * What this process knows of a note: the ids in it up to `size`, and the bytes just before `size`,
 * to notice when the note was rewritten rather than appended to. Appends then read only what other
 * writers added since, instead of the whole note every time.
 */
interface NoteState {
  readonly ino: number;
  readonly size: number;
  readonly tail: Buffer;
  readonly ids: Set<string>;
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

interface ScannedNote {
  readonly ids: Set<string>;
  readonly size: number;
  readonly tornTail: { readonly at: number; readonly id: string } | undefined;
}

/** Brings the cached state of a note up to date with the file; call with the note's lock held. */
async function scanNote(path: string, handle: FileHandle): Promise<ScannedNote> {
  const { ino, size } = await handle.stat();
  const cached = noteStates.get(path);
  let from = 0;
  let ids = new Set<string>();
  if (cached && cached.ino === ino && size >= cached.size) {
    const tailStart = Math.max(0, cached.size - cached.tail.length);
    if ((await readRange(handle, tailStart, cached.size)).equals(cached.tail)) {
      from = cached.size;
      ids = cached.ids;
    }
  }
  const parsed = parseEntries(await readRange(handle, from, size));
  for (const entry of parsed.entries) ids.add(entry.id);
  const tornTail = parsed.tornTail && { at: from + parsed.tornTail.at, id: parsed.tornTail.id };
  await remember(path, handle, ids, tornTail?.at ?? size);
  return { ids, size, tornTail };
}

async function remember(path: string, handle: FileHandle, ids: Set<string>, upTo?: number): Promise<void> {
  const { ino, size } = await handle.stat();
  const end = upTo ?? size;
  noteStates.set(path, { ino, size: end, tail: await readRange(handle, Math.max(0, end - TAIL_BYTES), end), ids });
}

async function noteHasId(path: string, id: string): Promise<boolean> {
  let handle: FileHandle;
  try {
    handle = await open(path, "r");
  } catch (error) {
    if (errnoOf(error) === "ENOENT") return false;
    throw error;
  }
  try {
    return (await scanNote(path, handle)).ids.has(id);
  } finally {
    await handle.close();
  }
}

/** The days whose notes a retry of the same envelope may already be in. */
function candidateDates(createdAt: Date, now: Date, timeZone: string): string[] {
  return [...new Set([zonedStamp(createdAt, timeZone).date, zonedStamp(now, timeZone).date])];
}

/**
 * Writers in this process queue here first, so only one of them at a time competes for the file
 * lock with other processes; polling a lock among sixteen local writers would waste most of the time.
 */
const localQueues = new Map<string, Promise<unknown>>();

async function serializeLocally<T>(key: string, work: () => Promise<T>): Promise<T> {
  const previous = localQueues.get(key) ?? Promise.resolve();
  const run = previous.then(work, work);
  const settled = run.then(
    () => undefined,
    () => undefined,
  );
  localQueues.set(key, settled);
  try {
    return await run;
  } finally {
    if (localQueues.get(key) === settled) localQueues.delete(key);
  }
}

export function workspaceMissingError(workspace: string, cause?: unknown): UnavailableError {
  return new UnavailableError(`Workspace ${workspace} does not exist.`, {
    code: "WORKSPACE_MISSING",
    hint: "Set workspace of this instance to the target agent's workspace (by default <state dir>/workspace).",
    cause,
  });
}

export interface AppendOptions {
  readonly workspace: string;
  readonly timeZone: string;
  readonly signal?: AbortSignal;
  readonly now?: Date;
}

/**
 * Appends the envelope to today's daily note of the workspace, at most once per envelope id.
 * Writers in this and other processes serialize on a lock next to the note; the entry goes out in
 * one write and is fsynced; on a failed write the file is cut back to its previous length, and an
 * entry torn by a crash is cut away by the next writer (or sealed, when it cannot prove the torn
 * bytes are its own), so the note never keeps a partial entry that parses.
 */
export async function appendEntry(envelope: Envelope, options: AppendOptions): Promise<AppendResult> {
  return serializeLocally(options.workspace, () => appendLocked(envelope, options));
}

async function appendLocked(envelope: Envelope, options: AppendOptions): Promise<AppendResult> {
  const now = options.now ?? new Date();
  const stamp = zonedStamp(now, options.timeZone);
  const path = dailyNotePath(options.workspace, stamp.date);
  try {
    const workspace = await stat(options.workspace);
    if (!workspace.isDirectory()) throw new Error("not a directory");
  } catch (cause) {
    throw workspaceMissingError(options.workspace, cause);
  }
  options.signal?.throwIfAborted();
  let release: (() => Promise<void>) | undefined;
  try {
    await mkdir(dirname(path), { recursive: true });
    // The lock retries every failure to create its directory, EACCES included: check first, so a
    // directory this user may not write fails at once instead of at the transport's timeout.
    await access(dirname(path), constants.W_OK);
    release = await lockfile.lock(path, {
      realpath: false,
      lockfilePath: `${path}.lock`,
      stale: 15_000,
      update: 5_000,
      retries: { retries: 200, factor: 1.3, minTimeout: 5, maxTimeout: 100, randomize: true },
    });
    options.signal?.throwIfAborted();
    for (const date of candidateDates(new Date(envelope.createdAt), now, options.timeZone)) {
      const notePath = dailyNotePath(options.workspace, date);
      if (notePath !== path && (await noteHasId(notePath, envelope.id))) return { path: notePath, duplicate: true };
    }
    const handle = await open(path, "a+");
    try {
      const note = await scanNote(path, handle);
      if (note.ids.has(envelope.id)) return { path, duplicate: true };
      await writeEntry(path, handle, note, formatEntry(envelope, stamp.time));
      note.ids.add(envelope.id);
      await remember(path, handle, note.ids);
    } finally {
      await handle.close();
    }
    return { path, duplicate: false };
  } catch (error) {
    if (options.signal?.aborted && error === options.signal.reason) throw error;
    throw error instanceof UnavailableError || error instanceof TransientError ? error : classifyFsError(error, path);
  } finally {
    await release?.().catch(() => undefined);
  }
}

/**
 * What an append is about to write, kept beside the note until the write is synced: the proof that
 * a torn tail is this library's own unfinished write. Not synced itself: it only has to outlive a
 * killed process, and without it a torn tail is sealed instead of cut.
 */
const pendingPath = (note: string) => `${note}.pending`;

/** Where to cut the note back to, when it ends inside the write the pending record describes. */
async function provenUnfinished(note: string, handle: FileHandle, size: number): Promise<number | undefined> {
  const record = await readFile(pendingPath(note)).catch(() => undefined);
  if (!record) return undefined;
  const newline = record.indexOf(0x0a);
  const offset = Number(record.subarray(0, newline).toString("latin1"));
  const intended = record.subarray(newline + 1);
  if (!Number.isSafeInteger(offset) || offset < 0 || size <= offset || size - offset >= intended.length) return undefined;
  return (await readRange(handle, offset, size)).equals(intended.subarray(0, size - offset)) ? offset : undefined;
}

/**
 * Appends one entry in one write. A torn entry at the end of the note is cut only when the pending
 * record proves this library wrote it and did not finish; otherwise (an editor, another tool) it is
 * sealed with its end marker, so nothing anyone else wrote is ever cut.
 */
async function writeEntry(path: string, handle: FileHandle, note: ScannedNote, entry: Buffer): Promise<void> {
  let length = note.size;
  let seal: Buffer = Buffer.alloc(0);
  const cutTo = await provenUnfinished(path, handle, note.size);
  if (cutTo !== undefined) {
    await handle.truncate(cutTo);
    length = cutTo;
  } else if (note.tornTail) {
    seal = sealFor(note.tornTail.id);
  }
  const separator = length > 0 ? Buffer.from("\n") : Buffer.alloc(0);
  const chunk = Buffer.concat([seal, separator, entry]);
  await writeFile(pendingPath(path), Buffer.concat([Buffer.from(`${length}\n`, "latin1"), chunk]));
  try {
    await handle.write(chunk);
    await handle.sync();
  } catch (error) {
    await handle.truncate(length).catch(() => undefined);
    throw error;
  } finally {
    await rm(pendingPath(path), { force: true });
  }
}
