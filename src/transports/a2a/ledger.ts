import { randomBytes } from "node:crypto";
import { join } from "node:path";
import type { DatabaseSync } from "node:sqlite";
import { openDatabase } from "../../util/sqlite.js";

/**
 * What this sender knows of one `SendMessage`: a claim while the request is out (`SENDING`), then
 * the task state the target answered or was last seen in, or what became of the request:
 * `UNKNOWN` (it failed in a way that does not tell whether a task was made), `REFUSED` (the
 * target answered with an error, so no task exists), `NOT_FOUND` (the target no longer knows the
 * task: its channel restarted, or pruned it).
 */
export type A2aLedgerState = "SENDING" | "UNKNOWN" | "REFUSED" | "NOT_FOUND" | (string & {});

export interface A2aSent {
  readonly seq: number;
  readonly endpoint: string;
  readonly messageId: string;
  readonly contextId: string;
  readonly taskId: string | undefined;
  readonly state: A2aLedgerState;
  /** When the request went out, ms since the epoch. */
  readonly sentAt: number;
  /** When the target was last asked about the task, ms since the epoch. */
  readonly checkedAt: number | undefined;
}

/** A claim whose request never settled (its process died): no longer counted as open after this. */
export const A2A_SENDING_STALE_MS = 120_000;
/** Rows older than this are dropped; the channel itself keeps finished tasks for 24 h. */
const KEEP_MS = 3 * 24 * 3_600_000;
const A2A_CONTEXT_MAX = 128;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS a2a_context (
  endpoint TEXT NOT NULL, self TEXT NOT NULL, context_id TEXT NOT NULL, since INTEGER NOT NULL,
  PRIMARY KEY (endpoint, self));
CREATE TABLE IF NOT EXISTS a2a_sent (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  endpoint TEXT NOT NULL, message_id TEXT NOT NULL, context_id TEXT NOT NULL,
  task_id TEXT, state TEXT NOT NULL, sent_at INTEGER NOT NULL, checked_at INTEGER);
CREATE INDEX IF NOT EXISTS a2a_sent_message ON a2a_sent (endpoint, message_id);
CREATE INDEX IF NOT EXISTS a2a_sent_context ON a2a_sent (endpoint, context_id, state);
CREATE INDEX IF NOT EXISTS a2a_sent_task ON a2a_sent (task_id);
`;

interface Row {
  seq: number;
  endpoint: string;
  message_id: string;
  context_id: string;
  task_id: string | null;
  state: string;
  sent_at: number;
  checked_at: number | null;
}

const toSent = (row: Row): A2aSent => ({
  seq: row.seq,
  endpoint: row.endpoint,
  messageId: row.message_id,
  contextId: row.context_id,
  taskId: row.task_id ?? undefined,
  state: row.state,
  sentAt: row.sent_at,
  checkedAt: row.checked_at ?? undefined,
});

/** The conversation this sender starts with on a target: one session per sending instance. */
export function a2aContextId(self: string): string {
  return `openclaw-inter-instance:${self.replace(/[^A-Za-z0-9._:-]/gu, "-")}`.slice(0, A2A_CONTEXT_MAX);
}

/** A new conversation of this sender, for when its current one is wedged or for a one-off repeat. */
export function freshA2aContextId(self: string, kind: "next" | "repeat" = "next"): string {
  const suffix = `:${kind === "repeat" ? "repeat-" : ""}${randomBytes(6).toString("hex")}`;
  return `${a2aContextId(self).slice(0, A2A_CONTEXT_MAX - suffix.length)}${suffix}`;
}

/**
 * The A2A conversations of this sender and the tasks it started there, kept in a small SQLite file
 * in the state dir so that every process sending from this instance (the CLI, the plugin's
 * services) paces on the same tasks, moves to the same fresh conversation and can follow up what
 * another one sent. Without a directory it lives in memory, as long as the transport.
 */
export class A2aLedger {
  readonly #db: DatabaseSync;

  private constructor(db: DatabaseSync) {
    this.#db = db;
  }

  static async open(stateDir: string | undefined, now: number = Date.now()): Promise<A2aLedger> {
    const db = await openDatabase(stateDir === undefined ? ":memory:" : join(stateDir, "a2a.sqlite"), "NORMAL", SCHEMA);
    db.prepare("DELETE FROM a2a_sent WHERE sent_at < ?").run(now - KEEP_MS);
    return new A2aLedger(db);
  }

  /** The conversation this sender uses on the endpoint now. */
  context(endpoint: string, self: string): string {
    const row = this.#db.prepare("SELECT context_id FROM a2a_context WHERE endpoint = ? AND self = ?").get(endpoint, self) as
      | { context_id: string }
      | undefined;
    return row?.context_id ?? a2aContextId(self);
  }

  /**
   * Leaves the conversation `from` for a fresh one. Whoever moves first wins: a process that finds
   * it already moved (by another process) joins the conversation it moved to.
   */
  moveOn(endpoint: string, self: string, from: string, now: number = Date.now()): string {
    return this.#transaction(() => {
      const current = this.context(endpoint, self);
      if (current !== from) return current;
      const next = freshA2aContextId(self);
      this.#db.prepare("INSERT OR REPLACE INTO a2a_context (endpoint, self, context_id, since) VALUES (?, ?, ?, ?)").run(endpoint, self, next, now);
      return next;
    });
  }

  /** The latest request for this message id to the endpoint, if one was made. */
  last(endpoint: string, messageId: string): A2aSent | undefined {
    const row = this.#db.prepare("SELECT * FROM a2a_sent WHERE endpoint = ? AND message_id = ? ORDER BY seq DESC LIMIT 1").get(endpoint, messageId) as
      | Row
      | undefined;
    return row && toSent(row);
  }

  /** Tasks that may still hold the conversation: open when last seen, or being sent right now. */
  open(endpoint: string, contextId: string, now: number = Date.now()): A2aSent[] {
    const rows = this.#db
      .prepare(
        `SELECT * FROM a2a_sent WHERE endpoint = ? AND context_id = ?
         AND (state IN ('TASK_STATE_SUBMITTED', 'TASK_STATE_WORKING') OR (state = 'SENDING' AND sent_at >= ?)) ORDER BY seq`,
      )
      .all(endpoint, contextId, now - A2A_SENDING_STALE_MS) as unknown as Row[];
    return rows.map(toSent);
  }

  /**
   * Claims a request, in one transaction so that two processes cannot both take it. `exclusive`:
   * only while no task of the conversation is open or being sent (the next turn of it); `busy`
   * otherwise. `fresh`: only while no request for this message id was made (other than one the
   * target refused); `sent` otherwise. Returns the claim's number.
   */
  claim(
    endpoint: string,
    messageId: string,
    contextId: string,
    options: { readonly exclusive: boolean; readonly fresh?: boolean; readonly now?: number },
  ): number | "busy" | "sent" {
    const now = options.now ?? Date.now();
    return this.#transaction(() => {
      const earlier = options.fresh ? this.last(endpoint, messageId) : undefined;
      if (earlier && earlier.state !== "REFUSED") return "sent";
      if (options.exclusive && this.open(endpoint, contextId, now).length > 0) return "busy";
      const result = this.#db
        .prepare("INSERT INTO a2a_sent (endpoint, message_id, context_id, task_id, state, sent_at) VALUES (?, ?, ?, NULL, 'SENDING', ?)")
        .run(endpoint, messageId, contextId, now);
      return Number(result.lastInsertRowid);
    });
  }

  /** What the request of a claim came to: the task and its state, or why there is none. */
  settle(seq: number, taskId: string | undefined, state: A2aLedgerState, now: number = Date.now()): void {
    this.#db.prepare("UPDATE a2a_sent SET task_id = ?, state = ?, checked_at = ? WHERE seq = ?").run(taskId ?? null, state, now, seq);
  }

  /** The state a task was just seen in. */
  observe(taskId: string, state: A2aLedgerState, now: number = Date.now()): void {
    this.#db.prepare("UPDATE a2a_sent SET state = ?, checked_at = ? WHERE task_id = ?").run(state, now, taskId);
  }

  close(): void {
    this.#db.close();
  }

  #transaction<T>(work: () => T): T {
    this.#db.exec("BEGIN IMMEDIATE");
    try {
      const result = work();
      this.#db.exec("COMMIT");
      return result;
    } catch (error) {
      this.#db.exec("ROLLBACK");
      throw error;
    }
  }
}
