import type { Instance } from "../config/registry.js";
import { type InboxState, readPresence, readReceipts } from "./ledger.js";

/**
 * Where a message written into a target's memory file stands, as the receiver reports it:
 * `written` (no word yet), `surfaced` (queued into the agent's next turn), `seen` (a turn was
 * prepared with it), `held` (the receiver's policy keeps it for its owner), `refused` (never shown).
 * `receiver` says whether a plugin watches that workspace at all.
 */
export interface FileReceipt {
  readonly id: string;
  readonly target: string;
  readonly state: "written" | InboxState;
  readonly at?: string;
  readonly receiver: "plugin" | "passive" | "unknown";
}

/** Said in reports and by doctor when no plugin watches the target's workspace. */
export const PASSIVE_DELIVERY_NOTE =
  "No openclaw-inter-instance plugin watches this workspace: on OpenClaw 2026.9.x the agent finds a memory-file message only if it runs memory_search. Install the plugin on the target (openclaw plugins install openclaw-inter-instance) so it reaches the agent.";

export async function receiverOf(workspace: string | undefined): Promise<FileReceipt["receiver"]> {
  if (!workspace) return "unknown";
  return (await readPresence(workspace)) ? "plugin" : "passive";
}

export async function fileReceipts(instance: Instance, ids: readonly string[]): Promise<FileReceipt[]> {
  const receiver = await receiverOf(instance.workspace);
  const records = instance.workspace ? await readReceipts(instance.workspace) : new Map();
  return ids.map((id) => {
    const record = records.get(id);
    return { id, target: instance.name, state: record?.state ?? "written", ...(record ? { at: record.at } : {}), receiver };
  });
}
