import { FatalError } from "../errors.js";
import type { FileMeta, FileWithBytes } from "./file-list.js";
import { bytesMatch } from "./file-list.js";

/** Where a transport gets the bytes of a file the envelope lists (checked against its size and digest). */
export type FileSource = (file: FileMeta) => Promise<Uint8Array>;

/**
 * The bytes of files being sent by this process, by digest, while their message is in flight; a
 * message sent again later (from the outbox) finds them in the outbox's store instead (`fallback`).
 */
export class HeldFiles {
  readonly #held = new Map<string, { bytes: Uint8Array; holders: number }>();

  /** Holds these files' bytes; the returned function lets them go. */
  hold(files: readonly FileWithBytes[]): () => void {
    for (const file of files) {
      const held = this.#held.get(file.sha256);
      if (held) held.holders += 1;
      else this.#held.set(file.sha256, { bytes: file.bytes, holders: 1 });
    }
    let released = false;
    return () => {
      if (released) return;
      released = true;
      for (const file of files) {
        const held = this.#held.get(file.sha256);
        if (held && --held.holders === 0) this.#held.delete(file.sha256);
      }
    };
  }

  /** The held bytes of these files, for the outbox to keep (files it does not hold are left out). */
  withBytes(files: readonly FileMeta[]): FileWithBytes[] {
    return files.flatMap((file) => {
      const held = this.#held.get(file.sha256);
      return held ? [{ ...file, bytes: held.bytes }] : [];
    });
  }

  /** A source that looks here first, then in `fallback` (the outbox's store); throws when neither has the file whole. */
  source(fallback: (file: FileMeta) => Promise<Uint8Array | undefined>): FileSource {
    return async (file) => {
      const bytes = this.#held.get(file.sha256)?.bytes ?? (await fallback(file));
      if (!bytes || !bytesMatch(file, bytes))
        throw new FatalError(
          `The bytes of ${JSON.stringify(file.name)} (${file.size} bytes, SHA-256 ${file.sha256.slice(0, 12)}…) are not on this machine any more.`,
          {
            code: "INTEGRITY_FAILURE",
            hint: "Send the message again with the file; its queued copy was removed or damaged.",
          },
        );
      return bytes;
    };
  }
}
