import { randomUUID } from "node:crypto";
import type { AttachmentBounds, FileInput } from "../../core/attachments/prepare.js";
import { ValidationError } from "../../core/errors.js";

/**
 * Files the Instances page sends, held here while the browser uploads them in parts: OpenClaw takes
 * at most 256 KiB of JSON per plugin action (each string at most 64 Ki characters), so a file's
 * bytes come in several `upload.part` calls before `send` names the upload. Held in memory, within
 * the config's `attachments` bounds, and dropped when sent, discarded, or left idle.
 */

/** A file the page announces: its name as chosen (data: made safe when the message is built), size and media type. */
export interface AnnouncedFile {
  readonly name: string;
  readonly size: number;
  readonly mime?: string | undefined;
}

interface Upload {
  readonly files: readonly AnnouncedFile[];
  /** Per file, the bytes received so far, in order. */
  readonly chunks: Uint8Array[][];
  readonly received: number[];
  touchedAt: number;
}

/** An upload that got no part for this long was given up by its page. */
export const UPLOAD_IDLE_MS = 120_000;
/** Uploads open at once (every open tab of the page may have one). */
export const MAX_OPEN_UPLOADS = 8;

const MIB = 1024 * 1024;
const sized = (bytes: number) => `${(bytes / MIB).toFixed(1)} MiB (${bytes.toLocaleString("en-US")} bytes)`;

function invalid(what: string, field: string, message: string, hint: string): ValidationError {
  return new ValidationError(`Invalid ${what}: ${field}: ${message}`, [{ path: field, message }], { hint });
}

export class UploadStaging {
  readonly #uploads = new Map<string, Upload>();
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  /** How many uploads are open now (after dropping idle ones). */
  get open(): number {
    this.#sweep();
    return this.#uploads.size;
  }

  /**
   * Opens an upload for a message's files, refused (naming the field) when they pass the config's
   * bounds, or when the uploads already open here would together hold more than one message may.
   */
  begin(files: readonly AnnouncedFile[], bounds: AttachmentBounds): string {
    const what = "upload.begin input";
    if (files.length > bounds.maxFiles)
      throw invalid(
        what,
        "files",
        `${files.length} files, at most ${bounds.maxFiles} may go in one message`,
        "Send the rest in another message, or raise attachments.maxFiles.",
      );
    let total = 0;
    for (const [index, file] of files.entries()) {
      if (file.size > bounds.maxFileBytes)
        throw invalid(
          what,
          `files.${index}.size`,
          `${JSON.stringify(file.name)} is ${sized(file.size)}, larger than attachments.maxFileBytes ${sized(bounds.maxFileBytes)}`,
          "Send a smaller file (compress or split it), or raise attachments.maxFileBytes.",
        );
      total += file.size;
    }
    if (total > bounds.maxTotalBytes)
      throw invalid(
        what,
        "files",
        `${sized(total)} together, more than attachments.maxTotalBytes ${sized(bounds.maxTotalBytes)}`,
        "Send the files in several messages, or raise attachments.maxTotalBytes.",
      );
    this.#sweep();
    const staged = [...this.#uploads.values()].reduce((sum, upload) => sum + upload.files.reduce((s, file) => s + file.size, 0), 0);
    if (this.#uploads.size >= MAX_OPEN_UPLOADS || staged + total > bounds.maxTotalBytes)
      throw invalid(
        what,
        "files",
        `files of other messages (${sized(staged)} in ${this.#uploads.size} upload(s)) are being uploaded to this Gateway now`,
        "Send again once they are sent, or in two minutes, when an abandoned upload is dropped.",
      );
    const id = randomUUID();
    this.#uploads.set(id, { files, chunks: files.map(() => []), received: files.map(() => 0), touchedAt: this.#now() });
    return id;
  }

  /** Adds the next bytes of one file (parts come in order, never past the announced size); returns how many it has now. */
  append(id: string, fileIndex: number, offset: number, bytes: readonly Uint8Array[]): number {
    const what = "upload.part input";
    const upload = this.#open(id, what);
    const file = upload.files[fileIndex];
    if (!file) throw invalid(what, "file", `upload ${id} has no file ${fileIndex} (it has ${upload.files.length})`, "Number the files from 0, as announced.");
    const received = upload.received[fileIndex]!;
    if (offset !== received)
      throw invalid(what, "offset", `is ${offset}, but ${received} bytes of file ${fileIndex} are here`, "Send the parts of a file in order, each once.");
    const size = bytes.reduce((sum, chunk) => sum + chunk.byteLength, 0);
    if (received + size > file.size)
      throw invalid(
        what,
        "data",
        `would make file ${fileIndex} ${received + size} bytes, more than its announced ${file.size}`,
        "Announce each file's true size.",
      );
    upload.chunks[fileIndex]!.push(...bytes);
    upload.received[fileIndex] = received + size;
    upload.touchedAt = this.#now();
    return received + size;
  }

  /** The upload's files, whole, for `send`; the upload is closed either way. */
  take(id: string, what: string): FileInput[] {
    const upload = this.#open(id, what);
    this.#uploads.delete(id);
    const short = upload.files.findIndex((file, index) => upload.received[index] !== file.size);
    if (short >= 0)
      throw invalid(
        what,
        "upload",
        `file ${short} (${JSON.stringify(upload.files[short]!.name)}) has ${upload.received[short]} of its ${upload.files[short]!.size} bytes`,
        "Upload every part of each file before sending; nothing was sent.",
      );
    return upload.files.map((file, index) => ({
      bytes: Buffer.concat(upload.chunks[index]!, file.size),
      name: file.name,
      ...(file.mime ? { mime: file.mime } : {}),
    }));
  }

  /** Drops an upload (the page gave up on it); false when none is open by that id. */
  discard(id: string): boolean {
    return this.#uploads.delete(id);
  }

  #open(id: string, what: string): Upload {
    this.#sweep();
    const upload = this.#uploads.get(id);
    if (!upload)
      throw invalid(
        what,
        "upload",
        `no upload ${id} is open here (sent, discarded, or idle for ${UPLOAD_IDLE_MS / 1000} s)`,
        "Choose the files and send again.",
      );
    return upload;
  }

  #sweep(): void {
    const now = this.#now();
    for (const [id, upload] of this.#uploads) if (now - upload.touchedAt > UPLOAD_IDLE_MS) this.#uploads.delete(id);
  }
}
