import { relative } from "node:path";
import type { FileMeta } from "../core/attachments/file-list.js";
import { checkIncomingFile } from "../core/attachments/incoming-files.js";
import { incomingFilesDir } from "../transports/nodes/incoming.js";
import { filesForAgent } from "../trust/files-frame.js";

/**
 * A message's listed files, each checked as it lies in the workspace's incoming folder, as the frame
 * lists them. `notFetched` (by SHA-256) says why a transport that fetches the bytes itself (nats)
 * did not write a file; that reason replaces the plain "it has not arrived".
 */
export async function incomingFilesText(
  files: readonly FileMeta[] | undefined,
  signedList: boolean,
  workspace: string,
  notFetched?: ReadonlyMap<string, string>,
): Promise<string | undefined> {
  if (!files) return undefined;
  const folder = incomingFilesDir(workspace);
  const checked = await Promise.all(
    files.map(async (file) => {
      const found = await checkIncomingFile(folder, file);
      const why = found.verified ? undefined : notFetched?.get(file.sha256);
      return { file, where: relative(workspace, found.path), verdict: why ? { verified: false as const, path: found.path, reason: why } : found };
    }),
  );
  return filesForAgent(checked, signedList);
}
