import { type FileMeta, fileListSchema, signedFileTuples } from "./file-list.js";

/** A file list as one token for a text line (session signature lines, memory entry comments): base64url of `[[name, size, sha256, mime], …]`. */
export function encodeFileList(files: readonly FileMeta[]): string {
  return Buffer.from(JSON.stringify(signedFileTuples(files)), "utf8").toString("base64url");
}

/** The list a token spells, or undefined when it is not a valid one (then nothing it claims is believed). */
export function decodeFileList(token: string): FileMeta[] | undefined {
  let tuples: unknown;
  try {
    tuples = JSON.parse(Buffer.from(token, "base64url").toString("utf8"));
  } catch {
    return undefined;
  }
  if (!Array.isArray(tuples)) return undefined;
  const candidate = tuples.map((tuple: unknown) =>
    Array.isArray(tuple) && tuple.length === 4 ? { name: tuple[0], size: tuple[1], sha256: tuple[2], mime: tuple[3] } : undefined,
  );
  const parsed = fileListSchema().safeParse(candidate);
  return parsed.success ? parsed.data : undefined;
}
