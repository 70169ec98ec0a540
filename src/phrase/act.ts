import { resolve } from "node:path";
import type { DeliveryReport } from "../core/dispatcher.js";
import { InterInstanceError } from "../core/errors.js";
import type { Messenger } from "../messenger/create.js";
import { describeExec, describeGroupReport, describeReport, describeSyncFiles, describeSyncRepo } from "../present/report-text.js";
import type { ExecResult } from "../use-cases/exec.js";
import type { GroupReport } from "../use-cases/groups.js";
import type { SyncFilesResult, SyncRepoResult } from "../use-cases/sync.js";
import type { Intent } from "./parse.js";

export type ActionResult =
  | { readonly action: "send"; readonly ok: boolean; readonly report: DeliveryReport; readonly text: string }
  | { readonly action: "send to group"; readonly ok: boolean; readonly report: GroupReport; readonly text: string }
  | { readonly action: "exec"; readonly ok: boolean; readonly result: ExecResult; readonly text: string }
  | { readonly action: "sync"; readonly ok: boolean; readonly result: SyncRepoResult | SyncFilesResult; readonly text: string };

const looksLikeRepo = (source: string) => /^(?:https?:\/\/|git@|ssh:\/\/)/u.test(source);

/** Carries out a parsed phrase: send, exec, or sync (a repository URL or a local file). */
export async function act(link: Messenger, intent: Exclude<Intent, { action: "unknown" }>): Promise<ActionResult> {
  if (intent.action === "send" && link.registry.group(intent.target)) {
    const report = await link.groups.send({ to: intent.target, body: intent.body });
    return { action: "send to group", ok: report.ok, report, text: describeGroupReport(report) };
  }
  if (intent.action === "send") {
    const report = await link.send({ to: intent.target, body: intent.body });
    return { action: "send", ok: report.ok, report, text: describeReport(report) };
  }
  if (intent.action === "exec") {
    const result = await link.exec({ to: intent.target, argv: [...intent.argv] });
    return { action: "exec", ok: result.ok, result, text: describeExec(result) };
  }
  const source = intent.paths[0] ?? "";
  if (!intent.destination) {
    throw new InterInstanceError(`Say where on ${intent.target} it should go, e.g. "同步 ${source} 到 ${intent.target} 的 /srv/app".`, {
      code: "NO_DESTINATION",
    });
  }
  if (looksLikeRepo(source)) {
    const result = await link.sync.repo({ to: intent.target, repo: source, dir: intent.destination });
    return { action: "sync", ok: result.ok, result, text: describeSyncRepo(result) };
  }
  const result = await link.sync.files({ to: intent.target, files: [{ from: resolve(source), to: intent.destination }] });
  return { action: "sync", ok: true, result, text: describeSyncFiles(result) };
}
