import { existsSync } from "node:fs";
import { Command } from "commander";
import { type AuditEntry, AuditLog } from "../../audit/audit-log.js";
import { auditPath } from "../../config/state-paths.js";
import type { CliContext } from "../context.js";
import { durationOption } from "../duration.js";

function describeAuditEntry(entry: AuditEntry): string {
  const arrow = entry.direction === "out" ? "sent" : "shown";
  return `${entry.at}  ${arrow}  ${entry.from} → ${entry.to}  id ${entry.id}  via ${entry.transport}  ${entry.status}  ${entry.verdict}  ${entry.bytes} bytes`;
}

/** `log`: the audit log of what was sent from here or shown to this instance's agent. */
export function logCommand(context: CliContext): Command {
  return new Command("log")
    .description("every message sent from here or shown to this instance's agent: when, who, id, how, the verdict and the size")
    .addOption(durationOption("--since <when>", "an ISO time, or how long ago: 30m, 2h, 7d", { ago: true }))
    .action(async (options: { since?: Date }) => {
      const config = await context.loadConfig();
      const since = options.since;
      const path = auditPath(config, context.env);
      if (!existsSync(path)) return context.print([], `No messages are logged yet (${path} does not exist).`);
      const log = await AuditLog.open(path);
      try {
        const entries = log.list(since ? { since } : {});
        context.print(
          entries,
          entries.length === 0 ? `No messages logged${since ? ` since ${since.toISOString()}` : ""}.` : entries.map(describeAuditEntry).join("\n"),
        );
      } finally {
        log.close();
      }
    });
}
