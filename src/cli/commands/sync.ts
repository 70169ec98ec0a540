import { resolve } from "node:path";
import { Command } from "commander";
import { describeSyncFiles, describeSyncRepo } from "../../present/report-text.js";
import type { CliContext } from "../context.js";

/** `sync repo | files`: a git checkout or a file brought to the instance's machine. */
export function syncCommand(context: CliContext): Command {
  const sync = new Command("sync").description("bring a git checkout or files to the instance's machine");
  sync
    .command("repo")
    .description("check a commit out over HTTPS into <dir>/<commit> there; --link repoints a symlink (ln -sfn), checked with readlink, put back on failure")
    .argument("<to>", "instance name or alias")
    .argument("<url>", "the repository's https:// URL")
    .argument("<dir>", "absolute path there under which each commit gets its own checkout")
    .option("--ref <branch>", "branch or tag")
    .option("--link <path>", "symlink to point at the checkout")
    .option("--expect <file...>", "files that must exist in the checkout before the link moves")
    .action(async (to: string, repo: string, dir: string, options: { ref?: string; link?: string; expect?: string[] }) => {
      const result = await (await context.open()).sync.repo({
        to,
        repo,
        dir,
        ...(options.ref ? { ref: options.ref } : {}),
        ...(options.link ? { link: options.link } : {}),
        ...(options.expect ? { expect: options.expect } : {}),
      });
      context.print(result, describeSyncRepo(result));
      context.conclude(result.ok ? "ok" : "notDelivered");
    });
  sync
    .command("files")
    .description("copy a local file there through the node (file.write, SHA-256 checked)")
    .argument("<to>", "instance name or alias")
    .argument("<local>", "local file")
    .argument("<remote>", "absolute path there")
    .action(async (to: string, local: string, remote: string) => {
      const result = await (await context.open()).sync.files({ to, files: [{ from: resolve(local), to: remote }] });
      context.print(result, describeSyncFiles(result));
    });
  return sync;
}
