import { open, readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { type MemoryEntry, parseEntries } from "../transports/memory-file/entry.js";

const DAILY_NOTE = /^\d{4}-\d{2}-\d{2}\.md$/u;
const ENTRY_TAIL = Buffer.from(" -->\n");

interface FileCursor {
  /** Bytes up to the end of the last complete entry read; the next read starts here. */
  consumed: number;
  /** The file's size at the last read: unchanged means nothing new (text after the last entry, such as the agent's own notes, is not read again). */
  size: number;
}

/**
 * Reads new entries from the daily notes incrementally: each file is read from the end of the
 * last entry already seen. A file that shrank or changed before that point is read again whole;
 * the receiver's ledger keeps a re-read entry from surfacing twice.
 */
export class MemoryScanner {
  readonly #memoryDir: string;
  readonly #cursors = new Map<string, FileCursor>();

  constructor(workspace: string) {
    this.#memoryDir = join(workspace, "memory");
  }

  async scan(): Promise<MemoryEntry[]> {
    const names = await readdir(this.#memoryDir).catch(() => [] as string[]);
    const found: MemoryEntry[] = [];
    for (const name of names.filter((n) => DAILY_NOTE.test(n)).sort()) found.push(...(await this.#scanFile(join(this.#memoryDir, name))));
    return found;
  }

  async #scanFile(path: string): Promise<MemoryEntry[]> {
    const cursor = this.#cursors.get(path) ?? { consumed: 0, size: 0 };
    this.#cursors.set(path, cursor);
    const size = (await stat(path).catch(() => undefined))?.size ?? 0;
    if (size === cursor.consumed || size === cursor.size) return [];
    const handle = await open(path, "r");
    try {
      if (size < cursor.consumed || !(await this.#endsAnEntry(handle, cursor.consumed))) cursor.consumed = 0;
      const length = size - cursor.consumed;
      const buffer = Buffer.alloc(length);
      const { bytesRead } = await handle.read(buffer, 0, length, cursor.consumed);
      const { entries } = parseEntries(buffer.subarray(0, bytesRead));
      cursor.size = cursor.consumed + bytesRead;
      const base = cursor.consumed;
      const last = entries.at(-1);
      if (last) cursor.consumed = base + last.end;
      return entries;
    } finally {
      await handle.close();
    }
  }

  /** Whether the bytes before `offset` close an entry (else the file was edited under the cursor). */
  async #endsAnEntry(handle: Awaited<ReturnType<typeof open>>, offset: number): Promise<boolean> {
    if (offset === 0) return true;
    const tail = Buffer.alloc(ENTRY_TAIL.length);
    await handle.read(tail, 0, tail.length, offset - tail.length);
    return tail.equals(ENTRY_TAIL);
  }
}
