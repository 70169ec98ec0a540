import { mkdir, open, readFile, stat } from "node:fs/promises";
import { dirname, join } from "node:path";
import lockfile from "proper-lockfile";
import type { Envelope } from "../envelope.js";
import { TransientError, UnavailableError } from "../errors.js";
import { zonedStamp } from "../time-zone.js";
import { formatEntry, parseEntries } from "./entry.js";

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

async function readIfExists(path: string): Promise<Buffer> {
  try {
    return await readFile(path);
  } catch (error) {
    if (errnoOf(error) === "ENOENT") return Buffer.alloc(0);
    throw error;
  }
}

/** The days whose notes a retry of the same envelope may already be in. */
function candidateDates(createdAt: Date, now: Date, timeZone: string): string[] {
  return [...new Set([zonedStamp(createdAt, timeZone).date, zonedStamp(now, timeZone).date])];
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
 * entry torn by a crash is cut away by the next writer, so the note never keeps a partial entry.
 */
export async function appendEntry(envelope: Envelope, options: AppendOptions): Promise<AppendResult> {
  const now = options.now ?? new Date();
  const stamp = zonedStamp(now, options.timeZone);
  const path = dailyNotePath(options.workspace, stamp.date);
  try {
    const workspace = await stat(options.workspace);
    if (!workspace.isDirectory()) throw new Error("not a directory");
  } catch (cause) {
    throw new UnavailableError(`Workspace ${options.workspace} does not exist.`, {
      code: "WORKSPACE_MISSING",
      hint: "Set workspace of this instance to the target agent's workspace (by default <state dir>/workspace).",
      cause,
    });
  }
  options.signal?.throwIfAborted();
  let release: (() => Promise<void>) | undefined;
  try {
    await mkdir(dirname(path), { recursive: true });
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
      const text = notePath === path ? undefined : await readIfExists(notePath);
      if (text && parseEntries(text).entries.some((entry) => entry.id === envelope.id)) return { path: notePath, duplicate: true };
    }
    const current = await readIfExists(path);
    const parsed = parseEntries(current);
    if (parsed.entries.some((entry) => entry.id === envelope.id)) return { path, duplicate: true };
    await writeEntry(path, current.length, parsed.tornTailAt, formatEntry(envelope, stamp.time));
    return { path, duplicate: false };
  } catch (error) {
    if (options.signal?.aborted && error === options.signal.reason) throw error;
    throw error instanceof UnavailableError || error instanceof TransientError ? error : classifyFsError(error, path);
  } finally {
    await release?.().catch(() => undefined);
  }
}

async function writeEntry(path: string, length: number, tornTailAt: number | undefined, entry: Buffer): Promise<void> {
  const handle = await open(path, "a+");
  try {
    if (tornTailAt !== undefined) {
      await handle.truncate(tornTailAt);
      length = tornTailAt;
    }
    const separator = length > 0 ? Buffer.from("\n") : Buffer.alloc(0);
    try {
      await handle.write(Buffer.concat([separator, entry]));
      await handle.sync();
    } catch (error) {
      await handle.truncate(length).catch(() => undefined);
      throw error;
    }
  } finally {
    await handle.close();
  }
}
