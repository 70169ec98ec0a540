import type { DatabaseSync } from "node:sqlite";
import type { Envelope } from "./envelope.js";

/**
 * - `open`: sent (or queued), no answer yet;
 * - `answered`: the target agent's answer came back;
 * - `expired`: the deadline passed first;
 * - `refused`: the target's inbound policy refused the task (it will never be answered).
 */
export type TaskState = "open" | "answered" | "expired" | "refused";

/** A delegated task, as the sender keeps it (in the outbox database, so a restart loses none). */
export interface Task {
  readonly id: string;
  readonly target: string;
  readonly envelope: Envelope;
  /** The session that delegated it: where the result is brought. Absent for a library or CLI caller. */
  readonly sessionKey?: string;
  readonly deadline: string;
  readonly createdAt: string;
  readonly state: TaskState;
  /** The answer (answered) or what happened (expired, refused). */
  readonly result?: string;
  readonly settledAt?: string;
  /** When the result was put into the delegating session's next turn. */
  readonly broughtAt?: string;
  /** Set when the task went to a group: the id all its members' tasks share. */
  readonly group?: string;
}

export const TASKS_SCHEMA = `
CREATE TABLE IF NOT EXISTS tasks (
  id TEXT NOT NULL,
  target TEXT NOT NULL,
  envelope TEXT NOT NULL,
  session_key TEXT,
  deadline TEXT NOT NULL,
  created_at TEXT NOT NULL,
  state TEXT NOT NULL DEFAULT 'open',
  result TEXT,
  settled_at TEXT,
  brought_at TEXT,
  group_id TEXT,
  PRIMARY KEY (id, target)
);
`;

interface Row {
  id: string;
  target: string;
  envelope: string;
  session_key: string | null;
  deadline: string;
  created_at: string;
  state: TaskState;
  result: string | null;
  settled_at: string | null;
  brought_at: string | null;
  group_id: string | null;
}

function fromRow(row: Row): Task {
  return {
    id: row.id,
    target: row.target,
    envelope: JSON.parse(row.envelope) as Envelope,
    deadline: row.deadline,
    createdAt: row.created_at,
    state: row.state,
    ...(row.session_key ? { sessionKey: row.session_key } : {}),
    ...(row.result !== null ? { result: row.result } : {}),
    ...(row.settled_at ? { settledAt: row.settled_at } : {}),
    ...(row.brought_at ? { broughtAt: row.brought_at } : {}),
    ...(row.group_id ? { group: row.group_id } : {}),
  };
}

/** The delegated tasks of this sender, next to its outbox. */
export class TaskBook {
  readonly #db: DatabaseSync;

  constructor(db: DatabaseSync) {
    this.#db = db;
  }

  /** Records a task once (by id and target); the first record wins. */
  add(task: { envelope: Envelope; deadline: string; sessionKey?: string | undefined; group?: string | undefined }, now: Date = new Date()): void {
    this.#db
      .prepare("INSERT OR IGNORE INTO tasks (id, target, envelope, session_key, deadline, created_at, group_id) VALUES (?, ?, ?, ?, ?, ?, ?)")
      .run(task.envelope.id, task.envelope.to, JSON.stringify(task.envelope), task.sessionKey ?? null, task.deadline, now.toISOString(), task.group ?? null);
  }

  get(id: string, target?: string): Task | undefined {
    const row = (
      target === undefined
        ? this.#db.prepare("SELECT * FROM tasks WHERE id = ?").get(id)
        : this.#db.prepare("SELECT * FROM tasks WHERE id = ? AND target = ?").get(id, target)
    ) as Row | undefined;
    return row && fromRow(row);
  }

  open(): Task[] {
    return (this.#db.prepare("SELECT * FROM tasks WHERE state = 'open' ORDER BY deadline").all() as unknown as Row[]).map(fromRow);
  }

  /** Settles an open task once; false when it was settled before. */
  settle(id: string, target: string, state: Exclude<TaskState, "open">, result: string, now: Date = new Date()): boolean {
    return (
      this.#db
        .prepare("UPDATE tasks SET state = ?, result = ?, settled_at = ? WHERE id = ? AND target = ? AND state = 'open'")
        .run(state, result, now.toISOString(), id, target).changes > 0
    );
  }

  /** Settled tasks whose result has not been brought to the session that delegated them. */
  toBring(): Task[] {
    return (
      this.#db
        .prepare("SELECT * FROM tasks WHERE state != 'open' AND brought_at IS NULL AND session_key IS NOT NULL ORDER BY settled_at")
        .all() as unknown as Row[]
    ).map(fromRow);
  }

  markBrought(id: string, target: string, now: Date = new Date()): void {
    this.#db.prepare("UPDATE tasks SET brought_at = ? WHERE id = ? AND target = ? AND brought_at IS NULL").run(now.toISOString(), id, target);
  }

  /** The nearest deadline of an open task. */
  nextDeadline(): Date | undefined {
    const row = this.#db.prepare("SELECT MIN(deadline) AS at FROM tasks WHERE state = 'open'").get() as { at: string | null } | undefined;
    return row?.at ? new Date(row.at) : undefined;
  }
}
