import { type FSWatcher, watch } from "node:fs";
import { writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import type { DatabaseSync } from "node:sqlite";
import type { SenderVerdict } from "../trust/frame.js";
import { openDatabase } from "../util/sqlite.js";

/** A message the inbound policy kept from the agent until its owner decides. */
export interface HeldMessage {
  readonly id: string;
  readonly from: string;
  /** How it came in: `session` (a chat message), `memory_file`, `nats`. */
  readonly transport: string;
  /** `verified: from …` or `UNVERIFIED: claims to be … (why)`. */
  readonly verdict: string;
  /** Why the policy held it. */
  readonly reason: string;
  readonly body: string;
  /** The session it was for: approving it delivers it there. */
  readonly sessionKey: string;
  readonly conversation?: string;
  readonly hop?: number;
  readonly receivedAt: string;
  /** Absent while the owner has not decided. */
  readonly decision?: "approved" | "refused";
  readonly decidedAt?: string;
  /** When the plugin carried the decision out: an approved message queued into the agent's next turn, a refusal receipted. */
  readonly settledAt?: string;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS held (
  id TEXT PRIMARY KEY,
  from_name TEXT NOT NULL,
  transport TEXT NOT NULL,
  verdict TEXT NOT NULL,
  reason TEXT NOT NULL,
  body TEXT NOT NULL,
  session_key TEXT NOT NULL,
  conversation TEXT,
  hop INTEGER,
  received_at TEXT NOT NULL,
  decision TEXT,
  decided_at TEXT,
  settled_at TEXT
);
`;

interface Row {
  id: string;
  from_name: string;
  transport: string;
  verdict: string;
  reason: string;
  body: string;
  session_key: string;
  conversation: string | null;
  hop: number | null;
  received_at: string;
  decision: "approved" | "refused" | null;
  decided_at: string | null;
  settled_at: string | null;
}

function fromRow(row: Row): HeldMessage {
  return {
    id: row.id,
    from: row.from_name,
    transport: row.transport,
    verdict: row.verdict,
    reason: row.reason,
    body: row.body,
    sessionKey: row.session_key,
    receivedAt: row.received_at,
    ...(row.conversation ? { conversation: row.conversation, hop: row.hop ?? 1 } : {}),
    ...(row.decision ? { decision: row.decision, decidedAt: row.decided_at ?? "" } : {}),
    ...(row.settled_at ? { settledAt: row.settled_at } : {}),
  };
}

/** Where the receiving side keeps held messages: `<stateDir>/held.sqlite`, shared by the plugin and the CLI. */
/** Who a held message is from, in words: its verdict ("from xiaoa (verified)", "claims to be … (UNVERIFIED: why)"). */
export function describeSender(message: Pick<HeldMessage, "from" | "verdict">): string {
  try {
    const verdict = JSON.parse(message.verdict) as SenderVerdict;
    return verdict.verified ? `from ${verdict.from} (verified)` : `claims to be ${verdict.claimedFrom} (UNVERIFIED: ${verdict.reason})`;
  } catch {
    return `from ${message.from}`;
  }
}

export function heldPath(stateDir: string): string {
  return join(stateDir, "held.sqlite");
}

/** Touched after each decision, so the plugin in the Gateway hears of it at once. */
const signalPath = (path: string) => `${path}.decided`;

export type Decision =
  | { readonly ok: true; readonly message: HeldMessage }
  | { readonly ok: false; readonly reason: "unknown" | "decided"; readonly message?: HeldMessage };

/**
 * The held messages of this instance. The plugin writes them as the policy holds them and
 * delivers the approved ones; the owner decides with `openclaw-inter-instance inbox approve|refuse`.
 */
export class HeldInbox {
  readonly path: string;
  readonly #db: DatabaseSync;

  private constructor(path: string, db: DatabaseSync) {
    this.path = path;
    this.#db = db;
  }

  static async open(path: string): Promise<HeldInbox> {
    return new HeldInbox(path, await openDatabase(path, "FULL", SCHEMA));
  }

  /** Keeps a message once (by id); false when it was held before. */
  hold(message: Omit<HeldMessage, "receivedAt" | "decision" | "decidedAt" | "settledAt">, now: Date = new Date()): boolean {
    const result = this.#db
      .prepare(
        "INSERT OR IGNORE INTO held (id, from_name, transport, verdict, reason, body, session_key, conversation, hop, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
      )
      .run(
        message.id,
        message.from,
        message.transport,
        message.verdict,
        message.reason,
        message.body,
        message.sessionKey,
        message.conversation ?? null,
        message.hop ?? null,
        now.toISOString(),
      );
    return result.changes > 0;
  }

  get(id: string): HeldMessage | undefined {
    const row = this.#db.prepare("SELECT * FROM held WHERE id = ?").get(id) as Row | undefined;
    return row && fromRow(row);
  }

  /** Newest first; `pending`: only those the owner has not decided. */
  list(options: { pending?: boolean } = {}): HeldMessage[] {
    const where = options.pending ? "WHERE decision IS NULL" : "";
    return (this.#db.prepare(`SELECT * FROM held ${where} ORDER BY received_at DESC`).all() as unknown as Row[]).map(fromRow);
  }

  /** The owner's decision; a message is decided once. */
  async decide(id: string, decision: "approved" | "refused", now: Date = new Date()): Promise<Decision> {
    const result = this.#db.prepare("UPDATE held SET decision = ?, decided_at = ? WHERE id = ? AND decision IS NULL").run(decision, now.toISOString(), id);
    const message = this.get(id);
    if (result.changes === 0) return message ? { ok: false, reason: "decided", message } : { ok: false, reason: "unknown" };
    await writeFile(signalPath(this.path), now.toISOString(), { mode: 0o600 });
    return { ok: true, message: message! };
  }

  /** Decided and not yet carried out: what the plugin delivers (approved) or receipts (refused). */
  decidedUnsettled(): HeldMessage[] {
    return (this.#db.prepare("SELECT * FROM held WHERE decision IS NOT NULL AND settled_at IS NULL ORDER BY decided_at").all() as unknown as Row[]).map(
      fromRow,
    );
  }

  markSettled(id: string, now: Date = new Date()): void {
    this.#db.prepare("UPDATE held SET settled_at = ? WHERE id = ? AND settled_at IS NULL").run(now.toISOString(), id);
  }

  /** Calls back when a decision is written (by any process); close the watcher when done. */
  onDecision(listener: () => void): FSWatcher {
    const name = basename(signalPath(this.path));
    const watcher = watch(dirname(this.path), (_event, file) => {
      if (file === name) listener();
    });
    watcher.on("error", () => undefined);
    return watcher;
  }

  close(): void {
    this.#db.close();
  }
}
