import { join } from "node:path";
import { inboxDir } from "../../inbox/ledger.js";

/**
 * Where a sender without direct file access (a node's `file.write`) drops envelopes for the
 * receiving plugin, one JSON file per envelope id: no append, so no lock shared across machines,
 * and the file name makes a second write of the same envelope a no-op.
 */
export function incomingDir(workspace: string): string {
  return join(inboxDir(workspace), "incoming");
}

/** Where the files of messages land (`<sha256>/<safe name>`, see `incomingFilePath`). */
export function incomingFilesDir(workspace: string): string {
  return join(incomingDir(workspace), "files");
}

export function incomingPath(workspace: string, envelopeId: string): string {
  return join(incomingDir(workspace), `${envelopeId}.json`);
}
