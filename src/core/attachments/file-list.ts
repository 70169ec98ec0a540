import { createHash } from "node:crypto";
import { once } from "../../util/lazy.js";
import { type ZodApi, zod } from "../../util/zod.js";
import { isSafeFileName, MAX_NAME_BYTES } from "./safe-name.js";

/** Most files one message lists (config bounds it further). */
export const MAX_FILES_PER_MESSAGE = 64;
/** Largest single file any config may allow, in bytes (1 GiB). */
export const MAX_FILE_BYTES_CEILING = 1024 * 1024 * 1024;

const SHA256_HEX = /^[0-9a-f]{64}$/u;
/** A media type as `type/subtype`, lower case, without parameters. */
const MIME = /^[a-z0-9][a-z0-9!#$&^_.+-]{0,63}\/[a-z0-9][a-z0-9!#$&^_.+-]{0,63}$/u;

function buildFileMetaSchema(z: ZodApi) {
  return z
    .object({
      /** A safe file name (see `safeFileName`): one name, never a path. */
      name: z
        .string()
        .min(1)
        .refine((name) => Buffer.byteLength(name, "utf8") <= MAX_NAME_BYTES, `must be at most ${MAX_NAME_BYTES} bytes of UTF-8`)
        .refine(isSafeFileName, "must be a plain file name (no separators, no leading dots, no control characters, no device names, NFC)"),
      size: z.number().int().min(0).max(MAX_FILE_BYTES_CEILING),
      sha256: z.string().regex(SHA256_HEX, "must be a SHA-256 digest, 64 lower-case hex digits"),
      mime: z.string().regex(MIME, "must be a media type such as text/plain"),
    })
    .strict();
}

/** One file a message carries, as its envelope lists it (the bytes travel beside the envelope). */
export const fileMetaSchema = once(() => buildFileMetaSchema(zod()));

/** The envelope's `files`: one or more, each name once (compared as a case-insensitive file system would). */
export const fileListSchema = once(() =>
  zod()
    .array(fileMetaSchema())
    .min(1, "must list at least one file, or be left out")
    .max(MAX_FILES_PER_MESSAGE, `must list at most ${MAX_FILES_PER_MESSAGE} files`)
    .refine((files) => new Set(files.map((file) => file.name.toLowerCase())).size === files.length, "must not list two files with the same name"),
);

export interface FileMeta {
  readonly name: string;
  readonly size: number;
  readonly sha256: string;
  readonly mime: string;
}

/** One file with its bytes: what a sender hands a transport and a receiver writes. */
export interface FileWithBytes extends FileMeta {
  readonly bytes: Uint8Array;
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** The listed file these bytes are, if they are: same size and digest. */
export function bytesMatch(meta: FileMeta, bytes: Uint8Array): boolean {
  return bytes.byteLength === meta.size && sha256Hex(bytes) === meta.sha256;
}

/** The list in the order and form a signature covers: `[name, size, sha256, mime]` per file. */
export function signedFileTuples(files: readonly FileMeta[]): (string | number)[][] {
  return files.map((file) => [file.name, file.size, file.sha256, file.mime]);
}
