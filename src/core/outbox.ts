import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { dirname, join } from "node:path";
import type { DatabaseSync, StatementSync } from "node:sqlite";
import { openDatabase } from "../util/sqlite.js";
import { BlobStore } from "./attachments/blob-store.js";
import type { FileWithBytes } from "./attachments/file-list.js";
import { type Envelope, envelopeSchema } from "./envelope.js";
import { TASKS_SCHEMA, TaskBook } from "./task-book.js";
import type { Receipt } from "./transport.js";

/** An envelope that no transport could deliver yet. */
export interface QueuedEnvelope {
  /** Order of arrival; flushing keeps it per target. */
  readonly seq: number;
  readonly envelope: Envelope;
  readonly target: string;
  readonly queuedAt: string;
  readonly attempts: number;
  readonly lastError: string;
  readonly nextAttemptAt: string;
  /** Transports that cannot carry this envelope (a turn ran with it there and failed because of it). */
  readonly avoid: readonly string[];
  /**
   * The transport that sent it without an answer that could be checked: it may have landed there,
   * so only that transport (whose idempotency key makes a repeat safe) carries it, until the target
   * says it does not have it.
   */
  readonly pinnedTo: string | undefined;
}

interface Row {
  seq: number;
  id: string;
  target: string;
  envelope: string;
  queued_at: string;
  attempts: number;
  last_error: string;
  next_attempt_at: string;
  avoid: string | null;
  pinned_to: string | null;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS outbox (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  target TEXT NOT NULL,
  envelope TEXT NOT NULL,
  queued_at TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  last_error TEXT NOT NULL DEFAULT '',
  next_attempt_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS delivered (
  id TEXT NOT NULL,
  target TEXT NOT NULL,
  via TEXT NOT NULL,
  status TEXT NOT NULL,
  delivered_at TEXT NOT NULL,
  receipt TEXT,
  PRIMARY KEY (id, target)
);
-- The few rows still open (accepted, awaiting evidence) or lost, among every delivery ever recorded.
CREATE INDEX IF NOT EXISTS delivered_open ON delivered (target, status) WHERE status IN ('accepted', 'lost');
CREATE TABLE IF NOT EXISTS leases (
  target TEXT PRIMARY KEY,
  owner TEXT NOT NULL,
  until TEXT NOT NULL
);
`;

/** Outboxes made before receipts were kept keyed deliveries by id alone; move their rows over. */
const MIGRATE_DELIVERED = `
ALTER TABLE delivered RENAME TO delivered_v1;
CREATE TABLE delivered (id TEXT NOT NULL, target TEXT NOT NULL, via TEXT NOT NULL, status TEXT NOT NULL, delivered_at TEXT NOT NULL, receipt TEXT, PRIMARY KEY (id, target));
INSERT INTO delivered (id, target, via, status, delivered_at) SELECT id, target, via, status, delivered_at FROM delivered_v1;
DROP TABLE delivered_v1;
`;

/** One target's share of the outbox, in counts (what the metrics' gauges read). */
export interface TargetDepth {
  readonly target: string;
  readonly waiting: number;
  readonly oldestQueuedAt: string | undefined;
  readonly awaitingEvidence: number;
  readonly lost: number;
}

/** What this sender recorded about an envelope it delivered. */
export interface DeliveryRecord {
  readonly target: string;
  readonly via: string;
  readonly status: string;
  readonly deliveredAt: string;
  /** The transport's receipt (absent in records written before receipts were kept). */
  readonly receipt?: Receipt;
  /** Why it ended as it did, when that is not the receipt (`lost`: what the target's evidence showed). */
  readonly note?: string;
}

/** An envelope a target accepted and nobody has seen run yet. */
export interface AwaitingFollowUp {
  readonly envelope: Envelope;
  readonly via: string;
  /** When the target acknowledged it (its latest delivery). */
  readonly acceptedAt: Date;
}

/** The longest a delivery's record waits for others still in flight, to be committed with them. */
const COMMIT_WAIT_MS = 5;

/** A new lease owner, `<host> <pid> <random>` (one per flush, so two in one process exclude each other too): a lease of a process gone from this host is free. */
export const leaseOwner = (): string => `${hostname()} ${process.pid} ${randomUUID()}`;

function ownerAlive(owner: string): boolean {
  const [host, pid] = owner.split(" ");
  if (host !== hostname() || !pid) return true;
  try {
    process.kill(Number(pid), 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

interface DeliveredRow {
  target: string;
  via: string;
  status: string;
  delivered_at: string;
  receipt: string | null;
  note: string | null;
}

function toRecord(row: DeliveredRow): DeliveryRecord {
  return {
    target: row.target,
    via: row.via,
    status: row.status,
    deliveredAt: row.delivered_at,
    ...(row.receipt ? { receipt: JSON.parse(row.receipt) as Receipt } : {}),
    ...(row.note ? { note: row.note } : {}),
  };
}

/** A little longer than a send takes from keeping a file to writing its row, in another process sharing the outbox. */
const FILE_SWEEP_GRACE_MS = 10 * 60_000;

function digestsIn(envelopeJson: string): string[] {
  if (!envelopeJson.includes('"files":[')) return [];
  const files = (JSON.parse(envelopeJson) as { files?: { sha256?: unknown }[] }).files ?? [];
  return files.flatMap((file) => (typeof file.sha256 === "string" ? [file.sha256] : []));
}

function toQueued(row: Row): QueuedEnvelope {
  return {
    seq: row.seq,
    envelope: envelopeSchema().parse(JSON.parse(row.envelope)),
    target: row.target,
    queuedAt: row.queued_at,
    attempts: row.attempts,
    lastError: row.last_error,
    nextAttemptAt: row.next_attempt_at,
    avoid: row.avoid ? (JSON.parse(row.avoid) as string[]) : [],
    pinnedTo: row.pinned_to ?? undefined,
  };
}

/**
 * A durable queue of undelivered envelopes in SQLite (`node:sqlite`, as OpenClaw itself uses):
 * write-ahead log, full fsync, one transaction per change, so a crash at any point leaves it
 * readable and every envelope either queued or recorded as delivered.
 */
export class Outbox {
  readonly path: string;
  /** The bytes of files that waiting envelopes list, by SHA-256, in `outbox-files/` beside the database. */
  readonly files: BlobStore;
  /** Delegated tasks, in the same database. */
  readonly tasks: TaskBook;
  readonly #db: DatabaseSync;
  readonly #statements = new Map<string, StatementSync>();
  /** Deliveries waiting for the next group commit (`commitDelivery`). */
  #pending: { readonly record: () => void; readonly resolve: () => void; readonly reject: (error: unknown) => void }[] = [];
  /** Deliveries in flight whose record the next group commit waits for (`expectDelivery`). */
  #expected = 0;
  #commitSoon = false;
  #commitTimer: NodeJS.Timeout | undefined;

  private constructor(path: string, db: DatabaseSync) {
    this.path = path;
    this.files = new BlobStore(join(dirname(path), "outbox-files"));
    this.#db = db;
    this.tasks = new TaskBook(db);
  }

  /** Opens (creating if needed) the outbox at `path`. */
  static async open(path: string): Promise<Outbox> {
    const db = await openDatabase(path, "FULL", `${SCHEMA}${TASKS_SCHEMA}`);
    const hasColumn = (name: string) => (db.prepare("PRAGMA table_info(delivered)").all() as { name: string }[]).some((column) => column.name === name);
    if (!hasColumn("receipt")) db.exec(`BEGIN IMMEDIATE; ${MIGRATE_DELIVERED} COMMIT;`);
    if (!hasColumn("envelope")) db.exec("ALTER TABLE delivered ADD COLUMN envelope TEXT");
    if (!hasColumn("note")) db.exec("ALTER TABLE delivered ADD COLUMN note TEXT");
    const outboxColumns = new Set((db.prepare("PRAGMA table_info(outbox)").all() as { name: string }[]).map((column) => column.name));
    if (!outboxColumns.has("avoid")) db.exec("ALTER TABLE outbox ADD COLUMN avoid TEXT");
    if (!outboxColumns.has("pinned_to")) db.exec("ALTER TABLE outbox ADD COLUMN pinned_to TEXT");
    return new Outbox(path, db);
  }

  /**
   * Queues an envelope; a second enqueue of the same id keeps the first (and its place). `avoid`:
   * transports not to try for it; `pinnedTo`: the only transport that may carry it (see `QueuedEnvelope`).
   */
  enqueue(envelope: Envelope, lastError: string, now: Date = new Date(), route: { avoid?: readonly string[]; pinnedTo?: string | undefined } = {}): boolean {
    const avoid = route.avoid ?? [];
    const result = this.#prepare(
      "INSERT OR IGNORE INTO outbox (id, target, envelope, queued_at, last_error, next_attempt_at, avoid, pinned_to) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
    ).run(
      envelope.id,
      envelope.to,
      JSON.stringify(envelope),
      now.toISOString(),
      lastError,
      now.toISOString(),
      avoid.length > 0 ? JSON.stringify(avoid) : null,
      route.pinnedTo ?? null,
    );
    return Number(result.changes) > 0;
  }

  /**
   * Per target: envelopes waiting to be sent, the oldest one's queue time, accepted ones still
   * waiting for the target's evidence, and those lost for good. Aggregates only (for metrics).
   */
  depths(): TargetDepth[] {
    const depths = new Map<string, TargetDepth>();
    const of = (target: string): TargetDepth => {
      let depth = depths.get(target);
      if (!depth) depths.set(target, (depth = { target, waiting: 0, oldestQueuedAt: undefined, awaitingEvidence: 0, lost: 0 }));
      return depth;
    };
    for (const row of this.#prepare("SELECT target, COUNT(*) AS n, MIN(queued_at) AS oldest FROM outbox GROUP BY target").all() as {
      target: string;
      n: number;
      oldest: string;
    }[])
      Object.assign(of(row.target), { waiting: row.n, oldestQueuedAt: row.oldest });
    for (const row of this.#prepare(
      "SELECT target, status, COUNT(*) AS n FROM delivered WHERE status IN ('accepted', 'lost') GROUP BY target, status",
    ).all() as { target: string; status: "accepted" | "lost"; n: number }[])
      Object.assign(of(row.target), row.status === "accepted" ? { awaitingEvidence: row.n } : { lost: row.n });
    return [...depths.values()];
  }

  /** Queued envelopes in arrival order; only those due by `dueBy` when given. */
  list(options: { target?: string; dueBy?: Date } = {}): QueuedEnvelope[] {
    const rows = this.#prepare("SELECT * FROM outbox WHERE (? IS NULL OR target = ?) AND (? IS NULL OR next_attempt_at <= ?) ORDER BY seq").all(
      options.target ?? null,
      options.target ?? null,
      options.dueBy?.toISOString() ?? null,
      options.dueBy?.toISOString() ?? null,
    ) as unknown as Row[];
    return rows.map(toQueued);
  }

  /** Removes the envelope from the queue and records where it went, in one transaction. */
  markDelivered(id: string, via: string, status: string, receipt?: Receipt, now: Date = new Date()): void {
    const letGo: string[] = [];
    this.#transaction(() => {
      const row = this.#prepare("SELECT target, envelope FROM outbox WHERE id = ?").get(id) as { target: string; envelope: string } | undefined;
      this.#prepare("DELETE FROM outbox WHERE id = ?").run(id);
      if (row) this.recordDelivery(id, row.target, via, status, receipt, now, JSON.parse(row.envelope) as Envelope);
      if (row && status !== "accepted") letGo.push(row.envelope);
    });
    this.#letFilesGo(letGo);
  }

  /**
   * Records a delivery, so a resend of the same id is answered from here instead of sent again. An
   * `accepted` one keeps its envelope, for `awaitingFollowUp` and a redelivery if the target loses it.
   */
  recordDelivery(id: string, target: string, via: string, status: string, receipt?: Receipt, now: Date = new Date(), envelope?: Envelope): void {
    this.#prepare("INSERT OR REPLACE INTO delivered (id, target, via, status, delivered_at, receipt, envelope) VALUES (?, ?, ?, ?, ?, ?, ?)").run(
      id,
      target,
      via,
      status,
      now.toISOString(),
      receipt ? JSON.stringify(receipt) : null,
      status === "accepted" && envelope ? JSON.stringify(envelope) : null,
    );
  }

  /**
   * A delivery is starting whose record `commitDelivery` will take: the group commit waits for it
   * (at most `COMMIT_WAIT_MS`). The returned function says it ended without one; calling it again does nothing.
   */
  expectDelivery(): () => void {
    this.#expected += 1;
    let ended = false;
    return () => {
      if (ended) return;
      ended = true;
      this.#expected -= 1;
      this.#scheduleCommit();
    };
  }

  /**
   * `recordDelivery`, committed in one transaction with every other delivery recorded meanwhile:
   * the acks of a broadcast, which arrive together, cost one fsync instead of one each. The commit
   * runs once no expected delivery is still in flight (`expectDelivery`, whose end `expected` is),
   * or `COMMIT_WAIT_MS` after the first record waiting. Resolves once the record is durable.
   */
  commitDelivery(
    id: string,
    target: string,
    via: string,
    status: string,
    receipt?: Receipt,
    now: Date = new Date(),
    envelope?: Envelope,
    expected?: () => void,
  ): Promise<void> {
    const committed = new Promise<void>((resolve, reject) => {
      this.#pending.push({ record: () => this.recordDelivery(id, target, via, status, receipt, now, envelope), resolve, reject });
    });
    if (expected) expected();
    else this.#scheduleCommit();
    return committed;
  }

  #scheduleCommit(): void {
    if (this.#pending.length === 0) return;
    if (this.#expected === 0) {
      if (this.#commitSoon) return;
      this.#commitSoon = true;
      // After the current I/O callbacks: every ack read in this turn joins the batch.
      setImmediate(() => this.#commitPending());
    } else this.#commitTimer ??= setTimeout(() => this.#commitPending(), COMMIT_WAIT_MS);
  }

  #commitPending(): void {
    clearTimeout(this.#commitTimer);
    this.#commitTimer = undefined;
    this.#commitSoon = false;
    const batch = this.#pending;
    this.#pending = [];
    if (batch.length === 0) return;
    try {
      this.#transaction(() => {
        for (const entry of batch) entry.record();
      });
    } catch (error) {
      for (const entry of batch) entry.reject(error);
      return;
    }
    for (const entry of batch) entry.resolve();
  }

  /**
   * Envelopes a target accepted since `since` and that nobody has seen run yet, oldest first. Older
   * ones are no longer followed up, so their bodies are let go here.
   */
  awaitingFollowUp(since: Date, options: { readonly ids?: ReadonlySet<string> } = {}): AwaitingFollowUp[] {
    this.#prepare("UPDATE delivered SET envelope = NULL WHERE envelope IS NOT NULL AND delivered_at < ?").run(since.toISOString());
    const rows = this.#prepare(
      "SELECT via, envelope, delivered_at FROM delivered WHERE status = 'accepted' AND envelope IS NOT NULL AND delivered_at >= ? ORDER BY delivered_at",
    ).all(since.toISOString()) as { via: string; envelope: string; delivered_at: string }[];
    return rows
      .map((row) => ({ via: row.via, envelope: envelopeSchema().parse(JSON.parse(row.envelope)), acceptedAt: new Date(row.delivered_at) }))
      .filter((row) => !options.ids || options.ids.has(row.envelope.id));
  }

  /**
   * The target lost it and it will not be sent again (its redeliveries used up): the record says
   * `lost`, with why, for `track` and the audit log.
   */
  markLost(id: string, target: string, reason: string): void {
    const letGo = this.#keptEnvelopeWithFiles(id, target);
    this.#prepare("UPDATE delivered SET status = 'lost', envelope = NULL, note = ? WHERE id = ? AND target = ?").run(reason, id, target);
    this.#letFilesGo(letGo);
  }

  /**
   * Takes the right to send to `target` (flush its queue, follow up its accepted envelopes) for
   * `ms`, unless another live owner holds it: two flushers on one outbox never send one envelope
   * twice, and a target's envelopes leave in order. A lease of a process that died on this host is
   * taken over at once; another host's lease when it runs out. False when someone else holds it.
   */
  claimTarget(target: string, owner: string, ms: number, now: Date = new Date()): boolean {
    let claimed = false;
    this.#withoutFsync(() =>
      this.#transaction(() => {
        const row = this.#prepare("SELECT owner, until FROM leases WHERE target = ?").get(target) as { owner: string; until: string } | undefined;
        if (row && row.owner !== owner && row.until > now.toISOString() && ownerAlive(row.owner)) return;
        this.#prepare("INSERT OR REPLACE INTO leases (target, owner, until) VALUES (?, ?, ?)").run(target, owner, new Date(now.getTime() + ms).toISOString());
        claimed = true;
      }),
    );
    return claimed;
  }

  /** Gives a lease back (only its owner's). */
  releaseTarget(target: string, owner: string): void {
    this.#withoutFsync(() => this.#prepare("DELETE FROM leases WHERE target = ? AND owner = ?").run(target, owner));
  }

  /**
   * A lease needs no fsync: the write-ahead log still orders it and survives a crash of the process;
   * only a crash of the machine can lose it, and that ends its owner too. A follow-up of a broadcast
   * claims, renews and gives back a lease per member: three fsyncs each were most of its time.
   */
  #withoutFsync(work: () => void): void {
    this.#db.exec("PRAGMA synchronous = NORMAL");
    try {
      work();
    } finally {
      this.#db.exec("PRAGMA synchronous = FULL");
    }
  }

  /** The target ran it (or its policy held or refused it): the record says so and lets the envelope go. */
  markFollowedUp(id: string, target: string, status: "delivered" | "held" | "refused" = "delivered"): void {
    const letGo = this.#keptEnvelopeWithFiles(id, target);
    this.#prepare("UPDATE delivered SET status = ?, envelope = NULL WHERE id = ? AND target = ?").run(status, id, target);
    this.#letFilesGo(letGo);
  }

  /**
   * The target lost an envelope it had accepted, or could not use it: it goes back in the queue, in
   * one transaction, with the transports that must not carry it again (`avoid`).
   */
  requeue(envelope: Envelope, reason: string, now: Date = new Date(), avoid: readonly string[] = []): void {
    this.#transaction(() => {
      this.#prepare("DELETE FROM delivered WHERE id = ? AND target = ?").run(envelope.id, envelope.to);
      this.enqueue(envelope, reason, now, { avoid });
    });
  }

  /** The record of an earlier delivery of this envelope id to this target, if this sender made one. */
  delivery(id: string, target: string): DeliveryRecord | undefined {
    const row = this.#prepare("SELECT target, via, status, delivered_at, receipt, note FROM delivered WHERE id = ? AND target = ?").get(id, target) as
      | DeliveredRow
      | undefined;
    return row && toRecord(row);
  }

  /** Every target's record of an earlier delivery of this envelope id (a group sends one id to several). */
  deliveries(id: string): DeliveryRecord[] {
    const rows = this.#prepare("SELECT target, via, status, delivered_at, receipt, note FROM delivered WHERE id = ?").all(id) as unknown as DeliveredRow[];
    return rows.map(toRecord);
  }

  /** Deliveries that ended as `written` (in a memory file): the ones whose "seen" receipt is worth checking. */
  written(): { id: string; target: string; deliveredAt: string }[] {
    const rows = this.#prepare("SELECT id, target, delivered_at FROM delivered WHERE status = 'written' ORDER BY delivered_at").all() as {
      id: string;
      target: string;
      delivered_at: string;
    }[];
    return rows.map((row) => ({ id: row.id, target: row.target, deliveredAt: row.delivered_at }));
  }

  /** Records a failed flush attempt and when to try again. */
  markFailed(id: string, error: string, nextAttemptAt: Date): void {
    this.#prepare("UPDATE outbox SET attempts = attempts + 1, last_error = ?, next_attempt_at = ? WHERE id = ?").run(error, nextAttemptAt.toISOString(), id);
  }

  /** The queued entry of this envelope, if it still waits. */
  queued(id: string): QueuedEnvelope | undefined {
    const row = this.#prepare("SELECT * FROM outbox WHERE id = ?").get(id) as Row | undefined;
    return row && toQueued(row);
  }

  /** Only this transport may carry it (it may have landed there unseen). */
  pin(id: string, transport: string): void {
    this.#prepare("UPDATE outbox SET pinned_to = ? WHERE id = ?").run(transport, id);
  }

  /** The target said it does not have it: any transport may carry it again. */
  unpin(id: string): void {
    this.#prepare("UPDATE outbox SET pinned_to = NULL WHERE id = ?").run(id);
  }

  /** Drops an envelope that can never be delivered (e.g. its target was removed from the config); false when none waited. */
  remove(id: string): boolean {
    const row = this.#prepare("SELECT envelope FROM outbox WHERE id = ?").get(id) as { envelope: string } | undefined;
    const removed = Number(this.#prepare("DELETE FROM outbox WHERE id = ?").run(id).changes) > 0;
    if (row) this.#letFilesGo([row.envelope]);
    return removed;
  }

  /**
   * Keeps the bytes of an envelope's files before the row that needs them (`enqueue`, an accepted
   * `commitDelivery`) is written: a crash in between leaves a blob without a row (swept later),
   * never a row without its bytes.
   */
  keepFiles(files: readonly FileWithBytes[]): void {
    for (const file of files) this.files.put(file.bytes, file.sha256);
  }

  /** Removes kept files no waiting envelope lists any more, older than `graceMs` (a crash's leftovers). */
  sweepFiles(graceMs: number = FILE_SWEEP_GRACE_MS): string[] {
    return this.files.sweep(this.#listedDigests(), graceMs);
  }

  /** Digests that queued envelopes, and accepted ones kept for a redelivery, list. */
  #listedDigests(): Set<string> {
    const rows = this.#prepare(
      `SELECT envelope FROM outbox WHERE envelope LIKE '%"files":[%' UNION ALL SELECT envelope FROM delivered WHERE envelope LIKE '%"files":[%'`,
    ).all() as { envelope: string }[];
    return new Set(rows.flatMap((row) => digestsIn(row.envelope)));
  }

  #keptEnvelopeWithFiles(id: string, target: string): string[] {
    const row = this.#prepare(`SELECT envelope FROM delivered WHERE id = ? AND target = ? AND envelope LIKE '%"files":[%'`).get(id, target) as
      | { envelope: string }
      | undefined;
    return row ? [row.envelope] : [];
  }

  /** An envelope left the outbox (delivered, dropped, lost): its files go too, unless another waiting envelope lists them. */
  #letFilesGo(envelopes: readonly string[]): void {
    const digests = envelopes.flatMap(digestsIn);
    if (digests.length === 0) return;
    const listed = this.#listedDigests();
    const gone = new Set(digests.filter((digest) => !listed.has(digest)));
    this.files.sweep(listed, 0, Date.now(), gone);
  }

  close(): void {
    if (this.#db.isOpen) this.#commitPending();
    if (this.#db.isOpen) this.#db.close();
  }

  /** A prepared statement, kept: the send path runs the same few for every message. */
  #prepare(sql: string): StatementSync {
    let statement = this.#statements.get(sql);
    if (!statement) this.#statements.set(sql, (statement = this.#db.prepare(sql)));
    return statement;
  }

  #transaction(work: () => void): void {
    this.#db.exec("BEGIN IMMEDIATE");
    try {
      work();
      this.#db.exec("COMMIT");
    } catch (error) {
      this.#db.exec("ROLLBACK");
      throw error;
    }
  }
}
