import type { DatabaseSync, StatementSync } from "node:sqlite";
import { openDatabase } from "../util/sqlite.js";

/** One message that went out or came in, as the audit log keeps it: who, what, how, and the verdict. */
export interface AuditEntry {
  readonly at: string;
  readonly direction: "out" | "in";
  readonly id: string;
  readonly from: string;
  readonly to: string;
  /** The transport that carried it (`session` for text that came in as a chat message). */
  readonly transport: string;
  /** Out: the report's status (delivered, accepted, queued, failed, …). In: what the receiver did (surfaced). */
  readonly status: string;
  /** Out: signed or unsigned. In: verified or unverified (with the reason). */
  readonly verdict: string;
  /** UTF-8 bytes of the body. */
  readonly bytes: number;
  /** Only when the config opts in (`audit.bodies`). */
  readonly body?: string;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS audit (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  at TEXT NOT NULL,
  direction TEXT NOT NULL,
  id TEXT NOT NULL,
  from_name TEXT NOT NULL,
  to_name TEXT NOT NULL,
  transport TEXT NOT NULL,
  status TEXT NOT NULL,
  verdict TEXT NOT NULL,
  bytes INTEGER NOT NULL,
  body TEXT
);
CREATE INDEX IF NOT EXISTS audit_at ON audit (at);
`;

interface Row {
  at: string;
  direction: "out" | "in";
  id: string;
  from_name: string;
  to_name: string;
  transport: string;
  status: string;
  verdict: string;
  bytes: number;
  body: string | null;
}

/**
 * Every message this instance sent or was shown, in SQLite next to the outbox (`audit.sqlite`).
 * It is a record, not a delivery guarantee: written with the WAL's normal sync, so the send path
 * pays no fsync for it. Bodies are kept only when asked; tokens never reach it.
 */
export class AuditLog {
  readonly path: string;
  readonly #db: DatabaseSync;
  #insert: StatementSync | undefined;

  private constructor(path: string, db: DatabaseSync) {
    this.path = path;
    this.#db = db;
  }

  static async open(path: string): Promise<AuditLog> {
    return new AuditLog(path, await openDatabase(path, "NORMAL", SCHEMA));
  }

  record(entry: AuditEntry): void {
    this.#insert ??= this.#db.prepare(
      "INSERT INTO audit (at, direction, id, from_name, to_name, transport, status, verdict, bytes, body) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
    );
    this.#insert.run(entry.at, entry.direction, entry.id, entry.from, entry.to, entry.transport, entry.status, entry.verdict, entry.bytes, entry.body ?? null);
  }

  /** Several entries in one transaction (a broadcast's reports arrive together). */
  recordAll(entries: readonly AuditEntry[]): void {
    this.#db.exec("BEGIN");
    try {
      for (const entry of entries) this.record(entry);
      this.#db.exec("COMMIT");
    } catch (error) {
      this.#db.exec("ROLLBACK");
      throw error;
    }
  }

  /** Oldest first; only those at or after `since` when given. */
  list(options: { since?: Date } = {}): AuditEntry[] {
    const rows = this.#db
      .prepare("SELECT * FROM audit WHERE (? IS NULL OR at >= ?) ORDER BY seq")
      .all(options.since?.toISOString() ?? null, options.since?.toISOString() ?? null) as unknown as Row[];
    return rows.map((row) => ({
      at: row.at,
      direction: row.direction,
      id: row.id,
      from: row.from_name,
      to: row.to_name,
      transport: row.transport,
      status: row.status,
      verdict: row.verdict,
      bytes: row.bytes,
      ...(row.body === null ? {} : { body: row.body }),
    }));
  }

  close(): void {
    this.#db.close();
  }
}
