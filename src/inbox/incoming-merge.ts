import { readdir, readFile, rename, stat, unlink } from "node:fs/promises";
import { join } from "node:path";
import { envelopeSchema } from "../core/envelope.js";
import { appendEntry } from "../transports/memory-file/append.js";
import { incomingDir } from "../transports/nodes/incoming.js";

const MAX_INCOMING_BYTES = 17 * 1024 * 1024;

export interface MergeResult {
  readonly merged: readonly string[];
  /** Files that were not a valid envelope: renamed to `*.invalid` and left for a person to look at. */
  readonly rejected: readonly string[];
}

/**
 * Moves envelopes dropped into the incoming folder (by a node's `file.write`) into today's daily
 * note, through the same locked, once-per-id append as every other writer, then removes the drop.
 * A crash between the two leaves the drop in place; the next merge finds the id already in the
 * note and only removes it.
 */
export async function mergeIncoming(workspace: string, timeZone: string): Promise<MergeResult> {
  const dir = incomingDir(workspace);
  let names: string[];
  try {
    names = (await readdir(dir)).filter((name) => name.endsWith(".json")).sort();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return { merged: [], rejected: [] };
    throw error;
  }
  const merged: string[] = [];
  const rejected: string[] = [];
  for (const name of names) {
    const path = join(dir, name);
    const parsed = (await stat(path)).size <= MAX_INCOMING_BYTES ? envelopeSchema().safeParse(parseJson(await readFile(path, "utf8"))) : undefined;
    if (!parsed?.success || `${parsed.data.id}.json` !== name) {
      await rename(path, `${path}.invalid`);
      rejected.push(name);
      continue;
    }
    await appendEntry(parsed.data, { workspace, timeZone });
    await unlink(path);
    merged.push(parsed.data.id);
  }
  return { merged, rejected };
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
