import type { AskResult } from "./ask.js";
import type { DeliveryReport, ProbeResult } from "./dispatcher.js";

/** One line for a person (or an agent) about a delivery. */
export function describeReport(report: DeliveryReport): string {
  if (report.ok) return `Delivered to ${report.to} via ${report.via} (${report.status}).`;
  const reasons = report.attempts
    .filter((a) => a.error || a.skippedBecause)
    .map((a) => `${a.transport}: ${a.error ? `${a.error.code}${a.error.hint ? ` (${a.error.hint})` : ""}` : `skipped, ${a.skippedBecause}`}`)
    .join("; ");
  return report.status === "queued"
    ? `Not delivered to ${report.to} yet; queued in the outbox and retried later. ${reasons}`
    : `Not delivered to ${report.to}. ${reasons}`;
}

export function describeAsk(result: AskResult): string {
  if (result.ok) return result.reply ?? "";
  if (result.status === "not delivered") return describeReport(result.report);
  return `Delivered to ${result.report.to} via ${result.report.via}, but no answer: ${result.error?.message ?? "unknown"}${result.error?.hint ? ` ${result.error.hint}` : ""}`;
}

export function describeProbe(results: readonly ProbeResult[]): string[] {
  return results.map((r) => {
    if (r.ok) return `  ok    ${r.transport}: ${r.detail ?? ""}`;
    if (r.skippedBecause) return `  --    ${r.transport}: ${r.skippedBecause}`;
    return `  FAIL  ${r.transport}: ${r.error?.message ?? ""}${r.error?.hint ? `\n        fix: ${r.error.hint}` : ""}`;
  });
}
