import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import type { DatabaseSync } from "node:sqlite";

/**
 * Opens (creating if needed) a SQLite file in a private directory, write-ahead logged, waiting up
 * to 5 s for another writer. `node:sqlite` (as OpenClaw itself uses) is loaded only here.
 * `synchronous`: FULL where a crash must not lose a commit (the outbox), NORMAL for a record.
 */
export async function openDatabase(path: string, synchronous: "FULL" | "NORMAL", schema: string): Promise<DatabaseSync> {
  const { DatabaseSync } = await import("node:sqlite");
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const db = new DatabaseSync(path);
  db.exec(`PRAGMA journal_mode = WAL; PRAGMA synchronous = ${synchronous}; PRAGMA busy_timeout = 5000;`);
  db.exec(schema);
  return db;
}

/**
 * `openDatabase`, synchronously: for a store read and written inside a synchronous Gateway hook
 * (`before_message_write`), where no promise may be awaited.
 */
export function openDatabaseSync(path: string, synchronous: "FULL" | "NORMAL", schema: string): DatabaseSync {
  const { DatabaseSync: Database } = process.getBuiltinModule("node:sqlite");
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const db = new Database(path);
  db.exec(`PRAGMA journal_mode = WAL; PRAGMA synchronous = ${synchronous}; PRAGMA busy_timeout = 5000;`);
  db.exec(schema);
  return db;
}
