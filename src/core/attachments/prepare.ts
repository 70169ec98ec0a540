import { open } from "node:fs/promises";
import { basename } from "node:path";
import { ValidationError } from "../errors.js";
import { type FileWithBytes, MAX_FILES_PER_MESSAGE, sha256Hex } from "./file-list.js";
import { mimeForName } from "./mime.js";
import { uniqueFileNames } from "./safe-name.js";

/** A file to send: its bytes, or a path on this machine to read them from, and the name the receiver sees. */
export type FileInput =
  | { readonly path: string; readonly name?: string | undefined; readonly mime?: string | undefined }
  | { readonly bytes: Uint8Array; readonly name: string; readonly mime?: string | undefined };

/** Bounds on a message's files (the config's `attachments` block). */
export interface AttachmentBounds {
  readonly maxFileBytes: number;
  readonly maxTotalBytes: number;
  readonly maxFiles: number;
}

export interface PreparedFile extends FileWithBytes {
  /** The name as given, when `name` is a changed, safe version of it; and what was changed. */
  readonly givenName?: string;
  readonly nameChanges?: readonly string[];
}

const MIB = 1024 * 1024;
const inMiB = (bytes: number) => `${(bytes / MIB).toFixed(bytes % MIB === 0 ? 0 : 1)} MiB (${bytes.toLocaleString("en-US")} bytes)`;

function invalid(field: string, message: string, hint: string): ValidationError {
  return new ValidationError(`Invalid message: ${field}: ${message}`, [{ path: field, message }], { hint });
}

/**
 * Reads, names, types and digests the files of a message, within the bounds: names made safe and
 * kept apart (see `safeFileName`), sizes checked before a path's bytes are read. Nothing is sent yet.
 */
export async function prepareFiles(inputs: readonly FileInput[], bounds: AttachmentBounds): Promise<PreparedFile[]> {
  const maxFiles = Math.min(bounds.maxFiles, MAX_FILES_PER_MESSAGE);
  if (inputs.length > maxFiles)
    throw invalid(
      "files",
      `${inputs.length} files, at most ${maxFiles} may go in one message`,
      "Send the rest in another message, or raise attachments.maxFiles.",
    );
  const loaded: { bytes: Uint8Array; name: string; mime: string | undefined }[] = [];
  let total = 0;
  for (const [index, input] of inputs.entries()) {
    const bytes = "bytes" in input ? input.bytes : await readBounded(input.path, bounds.maxFileBytes, `files.${index}.path`);
    if (bytes.byteLength > bounds.maxFileBytes)
      throw invalid(
        `files.${index}`,
        `${inMiB(bytes.byteLength)}, larger than attachments.maxFileBytes ${inMiB(bounds.maxFileBytes)}`,
        "Send a smaller file (compress or split it), or raise attachments.maxFileBytes.",
      );
    total += bytes.byteLength;
    if (total > bounds.maxTotalBytes)
      throw invalid(
        "files",
        `together more than attachments.maxTotalBytes ${inMiB(bounds.maxTotalBytes)}`,
        "Send the files in several messages, or raise attachments.maxTotalBytes.",
      );
    const name = input.name ?? ("path" in input ? basename(input.path) : "");
    if (name.trim() === "") throw invalid(`files.${index}.name`, "must not be empty", "Give each file a name.");
    loaded.push({ bytes, name, mime: input.mime });
  }
  const names = uniqueFileNames(loaded.map((file) => file.name));
  return loaded.map((file, index) => {
    const safe = names[index]!;
    return {
      name: safe.name,
      size: file.bytes.byteLength,
      sha256: sha256Hex(file.bytes),
      mime: file.mime?.toLowerCase().split(";")[0]?.trim() || mimeForName(safe.name),
      bytes: file.bytes,
      ...(safe.changes.length > 0 ? { givenName: file.name, nameChanges: safe.changes } : {}),
    };
  });
}

/** A regular file's bytes, refused before reading when larger than the bound (and never a FIFO or device that would block). */
async function readBounded(path: string, maxBytes: number, field: string): Promise<Uint8Array> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, "r");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? "unreadable";
    throw invalid(field, `cannot be read (${code})`, "Check the path and that this user may read it.");
  }
  try {
    const stat = await handle.stat();
    if (!stat.isFile()) throw invalid(field, "is not a regular file", "Give the path of a file (not a folder, FIFO or device).");
    if (stat.size > maxBytes)
      throw invalid(
        field,
        `${inMiB(stat.size)}, larger than attachments.maxFileBytes ${inMiB(maxBytes)}`,
        "Send a smaller file (compress or split it), or raise attachments.maxFileBytes.",
      );
    return await handle.readFile();
  } finally {
    await handle.close();
  }
}
