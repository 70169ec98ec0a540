import { Command } from "commander";
import { describeChecks } from "../../present/report-text.js";
import type { CliContext } from "../context.js";

/** `doctor`: every transport of each instance (or one) checked, and what was never seen. */
export function doctorCommand(context: CliContext): Command {
  return new Command("doctor")
    .description("check every transport of each instance (or one) without sending anything")
    .argument("[instance]", "only this instance")
    .action(async (target: string | undefined) => {
      const link = await context.open();
      const report = await link.doctor(target ? { instance: target } : {});
      const names = new Set(report.checks.map((check) => check.instance));
      const unseen = (await link.outbox.unseen()).filter((r) => names.has(r.target));
      const lines = [...names].flatMap((name) => [`${name}:`, ...describeChecks(report.checks.filter((check) => check.instance === name))]);
      for (const r of unseen)
        lines.push(`  unseen: ${r.id} written to ${r.target}'s memory file, ${r.state}${r.receiver === "passive" ? " (passive: no plugin there)" : ""}`);
      context.print({ ...report, unseen }, lines.join("\n"));
      context.conclude(report.ok ? "ok" : "notDelivered");
    });
}
