import { createHash, randomUUID } from "node:crypto";
import { join } from "node:path";
import type { DatabaseSync } from "node:sqlite";
import { openDatabaseSync } from "../util/sqlite.js";
import type { SenderVerdict } from "./frame.js";

/**
 * What the receiving side remembers of every envelope id it decided on, so that a signature proves
 * a message once: `<stateDir>/envelopes.sqlite`, shared by every registry the plugin runs in (a
 * Gateway loads it more than once) and kept across restarts.
 *
 * - An *arrival* (`ticket`) is one copy of a text reaching this Gateway: a chat message by its
 *   Gateway idempotency key (the same key in `before_message_write`, as `<key>:user`, and in the
 *   turn hooks, as the run id), a memory-file entry or broker message by its id. Every hook that
 *   looks at the same arrival reads the same decision.
 * - An *envelope* row is the first copy of an id this instance decided on: its content hash and the
 *   session it was for. A later copy with the same id is a repeat (same content, same session), a
 *   replay (same content, another session) or a changed copy (other content).
 */
export interface LedgerDecision {
  readonly action: "allow" | "hold" | "refuse" | "suppress";
  readonly reason?: string;
  readonly conversation: string;
  readonly hop: number;
  readonly budgetReached?: true;
  /** The verdict it was decided with: after the receiver, freshness and once checks. */
  readonly verdict: SenderVerdict;
  /** `new`: the first copy of its id here; `repeat`, `replay`, `changed`: a later one (see above). */
  readonly kind: "new" | "repeat" | "replay" | "changed";
}

/** The first copy of an id, as a later copy is compared with it. */
export interface FirstCopy {
  readonly hash: string;
  readonly sessionKey: string;
  readonly action: LedgerDecision["action"];
  readonly at: number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS tickets (
  key TEXT PRIMARY KEY,
  session_key TEXT NOT NULL,
  run_id TEXT,
  raw_hash TEXT,
  stored_hash TEXT,
  prompt_length INTEGER,
  prompt_hash TEXT,
  at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS tickets_session ON tickets (session_key, at);
CREATE INDEX IF NOT EXISTS tickets_run ON tickets (session_key, run_id);
CREATE TABLE IF NOT EXISTS envelopes (
  id TEXT PRIMARY KEY,
  hash TEXT NOT NULL,
  session_key TEXT NOT NULL,
  ticket TEXT NOT NULL,
  action TEXT NOT NULL,
  at INTEGER NOT NULL,
  copies INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX IF NOT EXISTS envelopes_at ON envelopes (at);
CREATE TABLE IF NOT EXISTS decisions (
  ticket TEXT NOT NULL,
  slot TEXT NOT NULL,
  id TEXT NOT NULL,
  hash TEXT NOT NULL,
  decision TEXT NOT NULL,
  shown INTEGER NOT NULL DEFAULT 0,
  at INTEGER NOT NULL,
  PRIMARY KEY (ticket, slot)
);
CREATE INDEX IF NOT EXISTS decisions_at ON decisions (at);
`;

/** A turn adopts a copy stored without its run's key (a path whose stored row carries none) this recently. */
const ADOPT_WITHIN_MS = 15 * 60_000;
const PRUNE_EVERY = 200;

export const sha256 = (text: string) => createHash("sha256").update(text, "utf8").digest("hex");

/** The content a copy is compared by: who it claims to be from and its body. */
export function contentHash(from: string, body: string): string {
  return sha256(JSON.stringify([from, body]));
}

export function ledgerPath(stateDir: string): string {
  return join(stateDir, "envelopes.sqlite");
}

interface TicketRow {
  key: string;
  prompt_length: number | null;
  prompt_hash: string | null;
}

export class EnvelopeLedger {
  readonly path: string;
  readonly #db: DatabaseSync;
  /** Envelope ids and arrivals older than this are forgotten (longer than any message still verifies). */
  readonly #retentionMs: () => number;
  readonly #now: () => number;
  #writes = 0;

  private constructor(path: string, db: DatabaseSync, retentionMs: () => number, now: () => number) {
    this.path = path;
    this.#db = db;
    this.#retentionMs = retentionMs;
    this.#now = now;
  }

  static open(path: string, options: { retentionMs: () => number; now?: () => number }): EnvelopeLedger {
    const ledger = new EnvelopeLedger(path, openDatabaseSync(path, "NORMAL", SCHEMA), options.retentionMs, options.now ?? Date.now);
    ledger.prune();
    return ledger;
  }

  /** The arrival of a stored chat message: by its Gateway key when it has one, else a new one. */
  storedTicket(sessionKey: string, messageKey: string | undefined, rawText: string): string {
    const key = `${sessionKey}|${messageKey ?? `unkeyed:${randomUUID()}`}`;
    this.#db
      .prepare("INSERT OR IGNORE INTO tickets (key, session_key, run_id, raw_hash, at) VALUES (?, ?, ?, ?, ?)")
      .run(key, sessionKey, messageKey ?? null, sha256(rawText), this.#now());
    return key;
  }

  /** What the stored row says after the plugin replaced held messages in it (what a turn then reads). */
  storedAs(ticket: string, storedText: string): void {
    this.#db.prepare("UPDATE tickets SET stored_hash = ? WHERE key = ?").run(sha256(storedText), ticket);
  }

  /**
   * The arrival a turn (run) belongs to: its own, by run id; else a stored copy of the same text in
   * the same session that no turn took yet (paths whose stored row carries another key); else a new one.
   */
  turnTicket(sessionKey: string, runId: string | undefined, promptText: string): string {
    const now = this.#now();
    if (runId) {
      const own = this.#db.prepare("SELECT key FROM tickets WHERE key = ?").get(`${sessionKey}|${runId}`) as { key: string } | undefined;
      if (own) return own.key;
      const byRun = this.#db.prepare("SELECT key FROM tickets WHERE session_key = ? AND run_id = ? ORDER BY at DESC LIMIT 1").get(sessionKey, runId) as
        | { key: string }
        | undefined;
      if (byRun) return byRun.key;
    }
    const hash = sha256(promptText);
    // Not taken by a turn yet; one stored without a key first (its turn cannot find it by its run id).
    const stored = this.#db
      .prepare(
        "SELECT key FROM tickets WHERE session_key = ? AND prompt_hash IS NULL AND (raw_hash = ? OR stored_hash = ?) AND at > ? ORDER BY (key LIKE '%|unkeyed:%') DESC, at DESC LIMIT 1",
      )
      .get(sessionKey, hash, hash, now - ADOPT_WITHIN_MS) as { key: string } | undefined;
    if (stored && runId) {
      this.#db.prepare("UPDATE tickets SET run_id = ? WHERE key = ?").run(runId, stored.key);
      return stored.key;
    }
    if (stored) return stored.key;
    const key = `${sessionKey}|${runId ?? `turn:${randomUUID()}`}`;
    this.#db
      .prepare("INSERT OR IGNORE INTO tickets (key, session_key, run_id, raw_hash, at) VALUES (?, ?, ?, ?, ?)")
      .run(key, sessionKey, runId ?? null, hash, now);
    return key;
  }

  /** The user text of a turn, as `before_prompt_build` saw it (later hooks see it behind injected context). */
  turnPrompt(ticket: string, promptText: string): void {
    this.#db.prepare("UPDATE tickets SET prompt_length = ?, prompt_hash = ? WHERE key = ?").run(promptText.length, sha256(promptText), ticket);
  }

  /** The user text at the end of a longer prompt, when `turnPrompt` recorded it for this run. */
  userTextOf(sessionKey: string, runId: string | undefined, prompt: string): string | undefined {
    if (!runId) return undefined;
    const rows = this.#db
      .prepare("SELECT key, prompt_length, prompt_hash FROM tickets WHERE session_key = ? AND run_id = ? AND prompt_hash IS NOT NULL ORDER BY at DESC")
      .all(sessionKey, runId) as unknown as TicketRow[];
    for (const row of rows) {
      const text = prompt.slice(prompt.length - row.prompt_length!);
      if (row.prompt_length! <= prompt.length && sha256(text) === row.prompt_hash) return text;
    }
    return undefined;
  }

  /** The ticket a turn's run took (after `turnTicket`). */
  ticketOfRun(sessionKey: string, runId: string | undefined): string | undefined {
    if (!runId) return undefined;
    return (
      this.#db.prepare("SELECT key FROM tickets WHERE session_key = ? AND run_id = ? ORDER BY prompt_hash IS NULL, at DESC LIMIT 1").get(sessionKey, runId) as
        | { key: string }
        | undefined
    )?.key;
  }

  /** An arrival by a path that has no Gateway key (a memory-file entry, a broker message): one per id and path. */
  pathTicket(sessionKey: string, path: string, id: string): string {
    const key = `${sessionKey}|${path}:${id}`;
    this.#db.prepare("INSERT OR IGNORE INTO tickets (key, session_key, at) VALUES (?, ?, ?)").run(key, sessionKey, this.#now());
    return key;
  }

  /**
   * The decision for one message (`slot`) of an arrival: read when made before (by any hook, in any
   * registry, before a restart), else made now by `make` from the first copy of its id (if any) and
   * recorded together with it. `fresh`: made by this call.
   */
  decide(
    ticket: string,
    slot: string,
    message: { id: string; hash: string; sessionKey: string },
    make: (first: FirstCopy | undefined) => LedgerDecision,
  ): { decision: LedgerDecision; fresh: boolean } {
    this.#db.exec("BEGIN IMMEDIATE");
    try {
      const known = this.#db.prepare("SELECT decision FROM decisions WHERE ticket = ? AND slot = ?").get(ticket, slot) as { decision: string } | undefined;
      if (known) {
        this.#db.exec("COMMIT");
        return { decision: JSON.parse(known.decision) as LedgerDecision, fresh: false };
      }
      const row = this.#db.prepare("SELECT hash, session_key, action, at FROM envelopes WHERE id = ?").get(message.id) as
        | { hash: string; session_key: string; action: LedgerDecision["action"]; at: number }
        | undefined;
      const first = row && { hash: row.hash, sessionKey: row.session_key, action: row.action, at: row.at };
      const decision = make(first);
      const now = this.#now();
      this.#db
        .prepare("INSERT INTO decisions (ticket, slot, id, hash, decision, at) VALUES (?, ?, ?, ?, ?, ?)")
        .run(ticket, slot, message.id, message.hash, JSON.stringify(decision), now);
      if (first) this.#db.prepare("UPDATE envelopes SET copies = copies + 1 WHERE id = ?").run(message.id);
      else
        this.#db
          .prepare("INSERT INTO envelopes (id, hash, session_key, ticket, action, at) VALUES (?, ?, ?, ?, ?, ?)")
          .run(message.id, message.hash, message.sessionKey, ticket, decision.action, now);
      this.#db.exec("COMMIT");
      if (++this.#writes % PRUNE_EVERY === 0) this.prune();
      return { decision, fresh: true };
    } catch (error) {
      if (this.#db.isTransaction) this.#db.exec("ROLLBACK");
      throw error;
    }
  }

  /** Forgets the first copy of an id that this arrival made (it never reached the agent after all). */
  forget(id: string, ticket: string): void {
    this.#db.prepare("DELETE FROM envelopes WHERE id = ? AND ticket = ?").run(id, ticket);
  }

  /** Marks a message of an arrival as shown to the agent; true the first time (so it is recorded once). */
  markShown(ticket: string, slot: string): boolean {
    return this.#db.prepare("UPDATE decisions SET shown = 1 WHERE ticket = ? AND slot = ? AND shown = 0").run(ticket, slot).changes > 0;
  }

  /** The first copy of an id, if this instance decided on it within the retention. */
  first(id: string): FirstCopy | undefined {
    const row = this.#db.prepare("SELECT hash, session_key, action, at FROM envelopes WHERE id = ?").get(id) as
      | { hash: string; session_key: string; action: LedgerDecision["action"]; at: number }
      | undefined;
    return row && { hash: row.hash, sessionKey: row.session_key, action: row.action, at: row.at };
  }

  /** How many later copies of an id came (repeats, replays, changed copies). */
  copies(id: string): number {
    return (this.#db.prepare("SELECT copies FROM envelopes WHERE id = ?").get(id) as { copies: number } | undefined)?.copies ?? 0;
  }

  /** Forgets what is older than the retention (a copy that old no longer verifies anyway). */
  prune(): void {
    const before = this.#now() - this.#retentionMs();
    this.#db.prepare("DELETE FROM envelopes WHERE at < ?").run(before);
    this.#db.prepare("DELETE FROM decisions WHERE at < ?").run(before);
    this.#db.prepare("DELETE FROM tickets WHERE at < ?").run(before);
  }

  close(): void {
    this.#db.close();
  }
}
