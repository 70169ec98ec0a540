import { auditPath } from "../client.js";
import type { Config } from "../config/schema.js";
import type { SenderVerdict } from "../trust/frame.js";
import { AuditLog } from "./audit-log.js";
import { inboundEntry } from "./entries.js";

export type InboundRecorder = (message: { id: string; body: string; transport: string; status: string }, verdict: SenderVerdict) => void;

/** Records what this instance's agent was shown, in the audit log of the registry's state dir; opened on first use. */
export function inboundRecorder(config: Config, warn: (line: string) => void, env: NodeJS.ProcessEnv = process.env): InboundRecorder {
  let log: Promise<AuditLog> | undefined;
  let failed = false;
  return (message, verdict) => {
    if (!config.audit.enabled || failed) return;
    (log ??= AuditLog.open(auditPath(config, env)))
      .then((audit) => audit.record(inboundEntry({ ...message, to: config.self.name }, verdict, config.audit.bodies)))
      .catch((error: unknown) => {
        failed = true;
        warn(`inter-instance audit: cannot write ${auditPath(config, env)}: ${error instanceof Error ? error.message : String(error)}`);
      });
  };
}
