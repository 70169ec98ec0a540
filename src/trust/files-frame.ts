import type { FileMeta } from "../core/attachments/file-list.js";
import type { IncomingFileVerdict } from "../core/attachments/incoming-files.js";

/** One listed file and what the receiving plugin found for it. */
export interface CheckedFile {
  readonly file: FileMeta;
  /** Where it is, relative to the agent's workspace when inside it. */
  readonly where: string;
  readonly verdict: IncomingFileVerdict;
}

/**
 * The lines the plugin draws, inside a frame, for the files of a message: each file's name, size,
 * type, place and verdict. `verified` only when the signature listed the file and the bytes on disk
 * have its size and SHA-256; anything else reads `NOT VERIFIED` with why. Names are quoted (JSON),
 * so no name can spell a verdict or a line of its own.
 */
export function filesForAgent(files: readonly CheckedFile[], signedList: boolean): string {
  if (files.length === 0) return "";
  const lines = files.map(({ file, where, verdict }) => {
    const what = `${JSON.stringify(file.name)} (${file.size.toLocaleString("en-US")} bytes, ${file.mime}) at ${JSON.stringify(where)}`;
    if (!signedList) return `- ${what}: NOT VERIFIED (the sender's signature does not vouch for this list)`;
    return verdict.verified
      ? `- ${what}: verified (SHA-256 ${file.sha256.slice(0, 16)}… matches the signed list)`
      : `- ${what}: NOT VERIFIED (${verdict.reason})`;
  });
  return [`Files with this message, checked by the plugin (${files.length}):`, ...lines].join("\n");
}
