import type { DeliveryState } from "../core/delivery-status.js";
import type { DeliveryReport } from "../core/dispatcher.js";
import type { AskResult } from "../use-cases/ask.js";
import type { DoctorCheck } from "../use-cases/doctor/index.js";
import type { ExecResult } from "../use-cases/exec.js";
import type { GroupReport } from "../use-cases/groups.js";
import type { SyncFilesResult, SyncRepoResult } from "../use-cases/sync.js";
import type { TrackedMessage } from "../use-cases/track.js";

const redeliveries = (report: DeliveryReport) => report.followUp?.filter((step) => step.action === "redelivered").length ?? 0;

/**
 * One line for a person (or an agent) about a delivery, saying only what the evidence shows:
 * "Delivered" only when the message is in the target agent's session.
 */
export function describeReport(report: DeliveryReport): string {
  const again = redeliveries(report);
  const resent = again > 0 ? ` Its Gateway lost it after accepting it; sent again ${again === 1 ? "once" : `${again} times`}.` : "";
  switch (report.status) {
    case "delivered":
      return `Delivered to ${report.to} via ${report.via}: it is in its agent's session.${resent}`;
    case "accepted":
      return `Accepted by ${report.to}'s Gateway via ${report.via} (not yet seen by its agent). It is followed up and sent again if that Gateway loses it; do not send it again.${resent}`;
    case "written":
      return `Written into ${report.to}'s memory file via ${report.via} (not yet seen by its agent; \`status ${report.id}\` tells when it is).`;
    case "held":
    case "refused": {
      const why = report.followUp?.at(-1)?.reason;
      return report.status === "held"
        ? `Held by ${report.to}'s inbound policy for its owner${why ? ` (${why})` : ""}: its agent gets it once the owner approves it there.`
        : `Refused by ${report.to}'s inbound policy${why ? ` (${why})` : ""}: its agent will not get it. Ask ${report.to}'s owner to allow this instance.`;
    }
    case "lost":
      return `Lost: ${report.to}'s Gateway accepted it and then dropped it (${report.followUp?.at(-1)?.reason ?? "no reason given"}). Its agent did not get it; send it again if it still matters, and look at ${report.to}'s Gateway log.`;
    default:
      break;
  }
  const reasons = report.attempts
    .filter((a) => a.error || a.skippedBecause)
    .map((a) => `${a.transport}: ${a.error ? `${a.error.code}${a.error.hint ? ` (${a.error.hint})` : ""}` : `skipped, ${a.skippedBecause}`}`)
    .join("; ");
  return report.status === "queued"
    ? `Not delivered to ${report.to} yet; queued in the outbox and retried automatically (do not send it again). ${reasons}`
    : `Not delivered to ${report.to}. ${reasons}`;
}

/** A group send: one line per member. */
export function describeGroupReport(report: GroupReport): string {
  const queued = report.members.filter((member) => member.status === "queued").length;
  const head = `Group ${report.group} (${report.members.length} member${report.members.length === 1 ? "" : "s"}, id ${report.id}): ${report.ok ? "every member has it" : `${queued} queued, ${report.members.length - queued - report.members.filter((m) => m.ok).length} failed`}.`;
  return [head, ...report.members.map((member) => `- ${describeReport(member)}`)].join("\n");
}

const STATE_WORDS: Record<DeliveryState, string> = {
  queued: "queued in the outbox (no transport could deliver it yet; retried later)",
  accepted: "accepted by the target (not yet seen in its agent's session)",
  delivered: "delivered into the target agent's session",
  seen: "seen: a turn of the target agent was prepared with it",
  answered: "answered by the target agent",
  held: "held by the target's inbound policy for its owner",
  refused: "refused by the target's inbound policy or owner",
  expired: "expired: no answer by its deadline",
  lost: "lost: the target will not run it",
};

/** Where a message stands, per target, for a person. */
export function describeStatus(id: string, statuses: readonly TrackedMessage[]): string {
  if (statuses.length === 0) return `Nothing is known here of ${id}: it was not sent from this instance (or its outbox was cleared).`;
  return statuses
    .map((status) => {
      const last = status.evidence.at(-1);
      const detail = last?.detail
        ? Object.entries(last.detail)
            .filter(([, value]) => value !== "")
            .map(([key, value]) => `${key} ${String(value).slice(0, 200)}`)
            .join(", ")
        : "";
      return `${id} to ${status.to}: ${STATE_WORDS[status.state]} (since ${status.since}; ${last?.source ?? "?"}${detail ? `: ${detail}` : ""}).`;
    })
    .join("\n");
}

export function describeAsk(result: AskResult): string {
  if (result.ok) return result.reply ?? "";
  if (result.status === "not delivered") return describeReport(result.report);
  return `Delivered to ${result.report.to} via ${result.report.via}, but no answer: ${result.error?.message ?? "unknown"}${result.error?.hint ? ` ${result.error.hint}` : ""}`;
}

/** A remote command's outcome: the exit, then its output as it came. */
export function describeExec(result: ExecResult): string {
  const status = result.timedOut
    ? "timed out"
    : result.exitCode === undefined
      ? `did not start: ${result.error ?? "unknown error"}`
      : `exit ${result.exitCode}`;
  const parts = [`${result.argv.join(" ")} on ${result.to}: ${status}${result.truncated ? " (output truncated by the node)" : ""}`];
  if (result.stdout) parts.push(result.stdout.replace(/\n$/u, ""));
  if (result.stderr) parts.push(`stderr:\n${result.stderr.replace(/\n$/u, "")}`);
  return parts.join("\n");
}

export function describeSyncRepo(result: SyncRepoResult): string {
  if (!result.ok)
    return `Sync to ${result.to}:${result.dir} failed: ${result.error ?? "unknown"}${result.link?.rolledBack ? ` (${result.link.path} restored to ${result.link.previous})` : ""}`;
  const link = result.link ? `; ${result.link.path} -> ${result.link.target} (readlink checked)` : "";
  return `${result.action === "cloned" ? "Checked out" : "Already had"} ${result.commit} in ${result.to}:${result.dir}${link}.`;
}

export function describeSyncFiles(result: SyncFilesResult): string {
  return result.files.map((file) => `${file.from} -> ${result.to}:${file.to} (${file.size} bytes, sha256 ${file.sha256.slice(0, 12)}…)`).join("\n");
}

const MARK = { pass: "ok  ", warn: "WARN", fail: "FAIL", skip: "--  " } as const;

/** The doctor's checklist, one line per check and the fix under what is not right. */
export function describeChecks(checks: readonly DoctorCheck[]): string[] {
  return checks.map(
    (check) => `  ${MARK[check.status]}  ${check.check}: ${check.summary}${check.fix && check.status !== "pass" ? `\n        fix: ${check.fix}` : ""}`,
  );
}
