import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, statSync, unlinkSync, utimesSync } from "node:fs";
import { join } from "node:path";
import { writeFileAtomic } from "../../util/atomic-write.js";
import { type FileMeta, sha256Hex } from "./file-list.js";

const DIGEST_NAME = /^[0-9a-f]{64}$/u;

/**
 * Files kept by their SHA-256 in one folder (the outbox's queued attachments): each written to a
 * temporary name, synced, then renamed, so a blob under its digest is always whole. Synchronous on
 * purpose: a blob and the outbox row that needs it are written in one turn of the event loop, so
 * nothing in this process can sweep the blob in between.
 */
export class BlobStore {
  readonly dir: string;

  constructor(dir: string) {
    this.dir = dir;
  }

  /** Keeps these bytes under their digest (refreshing its time when already kept, so a sweep spares it). */
  put(bytes: Uint8Array, sha256: string = sha256Hex(bytes)): void {
    const path = this.#path(sha256);
    const now = new Date();
    try {
      utimesSync(path, now, now);
      return;
    } catch {
      // Not kept yet.
    }
    mkdirSync(this.dir, { recursive: true, mode: 0o700 });
    writeFileAtomic().sync(path, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), { mode: 0o600 });
    syncDir(this.dir);
  }

  /** The kept bytes of this file, only when they are it (size and digest); undefined otherwise. */
  read(file: FileMeta): Uint8Array | undefined {
    let bytes: Buffer;
    try {
      bytes = readFileSync(this.#path(file.sha256));
    } catch {
      return undefined;
    }
    return bytes.byteLength === file.size && sha256Hex(bytes) === file.sha256 ? bytes : undefined;
  }

  has(sha256: string): boolean {
    try {
      return statSync(this.#path(sha256)).isFile();
    } catch {
      return false;
    }
  }

  /**
   * Removes every blob no longer needed (digest not in `keep`) and older than `graceMs` (another
   * process may have just kept it for a row it is about to write), and any leftover temporary file.
   * Returns the digests removed. `only`: look at these digests alone (an envelope that left).
   */
  sweep(keep: ReadonlySet<string>, graceMs: number, now: number = Date.now(), only?: ReadonlySet<string>): string[] {
    let names: string[];
    try {
      names = only ? [...only] : readdirSync(this.dir);
    } catch {
      return [];
    }
    const removed: string[] = [];
    for (const name of names) {
      const digest = DIGEST_NAME.test(name) ? name : undefined;
      if (only && !digest) continue;
      if (digest && keep.has(digest)) continue;
      const path = join(this.dir, name);
      try {
        if (now - statSync(path).mtimeMs < graceMs) continue;
        unlinkSync(path);
        if (digest) removed.push(digest);
      } catch {
        // Gone already.
      }
    }
    return removed;
  }

  #path(sha256: string): string {
    if (!DIGEST_NAME.test(sha256)) throw new TypeError("a blob is named by its SHA-256, 64 lower-case hex digits");
    return join(this.dir, sha256);
  }
}

/** Makes a rename in a folder durable (where the platform lets a folder be synced). */
function syncDir(dir: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dir, "r");
    fsyncSync(fd);
  } catch {
    // Windows cannot open a folder for syncing; its renames are durable by the journal.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
