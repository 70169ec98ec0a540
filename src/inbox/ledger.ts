import { appendFile, mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { writeFileAtomic } from "../util/atomic-write.js";

/**
 * What the receiving side did with an envelope written into its memory file:
 * - `surfaced`: queued into the agent's next turn (and a wake requested);
 * - `seen`: a turn of the agent was prepared with it in the prompt;
 * - `held`: kept from the agent by the inbound policy until the owner approves or refuses it;
 * - `refused`: never shown (by the policy or the owner).
 */
export type InboxState = "held" | "surfaced" | "refused" | "seen";

export interface InboxRecord {
  readonly id: string;
  readonly state: InboxState;
  readonly at: string;
  readonly from?: string;
}

/** The receiver's marker that a plugin watches this workspace (so file deliveries are not passive). */
export interface InboxPresence {
  readonly watching: true;
  readonly since: string;
  readonly sessionKey: string;
  readonly pid: number;
}

/** Kept inside the workspace, next to the entries, so a sender that can write them can read these. */
export function inboxDir(workspace: string): string {
  return join(workspace, ".openclaw-inter-instance");
}

const receiptsPath = (workspace: string) => join(inboxDir(workspace), "receipts.jsonl");
const presencePath = (workspace: string) => join(inboxDir(workspace), "inbox.json");

// Held comes before either outcome; an approved message goes on to surfaced and seen.
const RANK: Record<InboxState, number> = { held: 1, surfaced: 2, refused: 2, seen: 3 };

/** Reads the receipts: the furthest state per envelope id. A line cut short by a crash is skipped. */
export async function readReceipts(workspace: string): Promise<Map<string, InboxRecord>> {
  const text = await readFile(receiptsPath(workspace), "utf8").catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT") return "";
    throw error;
  });
  const records = new Map<string, InboxRecord>();
  for (const line of text.split("\n")) {
    if (!line.trim()) continue;
    let record: InboxRecord;
    try {
      record = JSON.parse(line) as InboxRecord;
    } catch {
      continue;
    }
    const known = records.get(record.id);
    if (!known || RANK[record.state] > RANK[known.state]) records.set(record.id, record);
  }
  return records;
}

export async function readPresence(workspace: string): Promise<InboxPresence | undefined> {
  try {
    return JSON.parse(await readFile(presencePath(workspace), "utf8")) as InboxPresence;
  } catch {
    return undefined;
  }
}

/** The receiver's side: one writer (the plugin's inbox service) per workspace. */
export class InboxLedger {
  readonly #workspace: string;
  #records: Map<string, InboxRecord> | undefined;

  constructor(workspace: string) {
    this.#workspace = workspace;
  }

  async load(): Promise<void> {
    this.#records = await readReceipts(this.#workspace);
  }

  state(id: string): InboxState | undefined {
    return this.#records?.get(id)?.state;
  }

  /** Appends one line per change; a single small append is atomic, and a torn last line is skipped on read. */
  async record(id: string, state: InboxState, from?: string): Promise<void> {
    const known = this.state(id);
    if (known && RANK[known] >= RANK[state]) return;
    const record: InboxRecord = { id, state, at: new Date().toISOString(), ...(from ? { from } : {}) };
    await mkdir(inboxDir(this.#workspace), { recursive: true });
    await appendFile(receiptsPath(this.#workspace), `${JSON.stringify(record)}\n`, { mode: 0o600 });
    (this.#records ??= new Map()).set(id, record);
  }

  async announce(presence: Omit<InboxPresence, "watching" | "pid">): Promise<void> {
    await mkdir(inboxDir(this.#workspace), { recursive: true });
    await writeFileAtomic()(presencePath(this.#workspace), `${JSON.stringify({ watching: true, pid: process.pid, ...presence }, null, 2)}\n`);
  }
}
