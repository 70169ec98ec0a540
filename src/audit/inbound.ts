import type { Config } from "../config/schema.js";
import { auditPath } from "../config/state-paths.js";
import type { SenderVerdict } from "../trust/frame.js";
import { type AuditEntry, AuditLog } from "./audit-log.js";
import { inboundEntry } from "./entries.js";

/**
 * Writes entries into the audit log of the registry's state dir, opened on first use. A record, not
 * a delivery: when it cannot be written, what it records goes on without it, and `warn` is told once.
 */
export function auditWriter(config: Config, env: NodeJS.ProcessEnv, warn: (path: string, error: unknown) => void): AuditWriter {
  let log: Promise<AuditLog> | undefined;
  let failed = false;
  let pending: AuditEntry[] = [];
  let written: Promise<void> = Promise.resolve();
  // Entries of one turn of the event loop go in one transaction: a broadcast's reports arrive together.
  const writePending = async () => {
    const batch = pending;
    pending = [];
    try {
      (await (log ??= AuditLog.open(auditPath(config, env)))).recordAll(batch);
    } catch (error) {
      failed = true;
      warn(auditPath(config, env), error);
    }
  };
  return {
    write(entry) {
      if (!config.audit.enabled || failed) return;
      pending.push(entry);
      if (pending.length === 1) written = written.then(() => new Promise((resolve) => setImmediate(resolve))).then(writePending);
    },
    async close() {
      await written;
      (await log?.catch(() => undefined))?.close();
    },
  };
}

export interface AuditWriter {
  write(entry: AuditEntry): void;
  close(): Promise<void>;
}

export interface InboundRecorder {
  record(message: { id: string; body: string; transport: string; status: string }, verdict: SenderVerdict): void;
  /** Once the entries recorded so far are written. */
  close(): Promise<void>;
}

/** Records what this instance's agent was shown. */
export function inboundRecorder(config: Config, warn: (line: string) => void, env: NodeJS.ProcessEnv = process.env): InboundRecorder {
  const writer = auditWriter(config, env, (path, error) =>
    warn(`inter-instance audit: cannot write ${path}: ${error instanceof Error ? error.message : String(error)}`),
  );
  return {
    record: (message, verdict) => writer.write(inboundEntry({ ...message, to: config.self.name }, verdict, config.audit.bodies)),
    close: () => writer.close(),
  };
}
