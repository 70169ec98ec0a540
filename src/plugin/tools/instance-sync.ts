import { toValidationError } from "../../config/parse.js";
import type { Messenger } from "../../messenger/create.js";
import { describeSyncFiles, describeSyncRepo } from "../../present/report-text.js";
import { zod } from "../../util/zod.js";
import { errorResult, parametersOf, TARGET_ARG, type ToolDefinition, type ToolResult } from "./definition.js";

const z = zod();

const syncArgs = z
  .object({
    to: TARGET_ARG,
    repo: z.string().optional().describe("https:// URL of a git repository to clone or fast-forward there"),
    dir: z.string().optional().describe("With repo: absolute path there under which each commit gets its own checkout"),
    expect: z.array(z.string()).optional().describe("With repo: files that must exist in the checkout before the link moves"),
    ref: z.string().optional().describe("With repo: branch or tag"),
    link: z.string().optional().describe("With repo: symlink to point at the checkout (ln -sfn, checked with readlink)"),
    files: z
      .array(z.object({ from: z.string(), to: z.string() }).strict())
      .optional()
      .describe("Local files to copy there: absolute local path -> absolute remote path"),
  })
  .strict()
  .refine((value) => (value.repo !== undefined) !== (value.files !== undefined), { message: "give either repo (with dir) or files", path: ["repo"] })
  .refine((value) => value.repo === undefined || value.dir !== undefined, { message: "repo needs dir", path: ["dir"] });

/** `instance_sync` (optional tool): a git checkout (with a verified symlink) or files to another instance's machine. */
export async function instanceSync(link: () => Promise<Messenger>, params: unknown): Promise<ToolResult> {
  const parsed = syncArgs.safeParse(params);
  if (!parsed.success) return errorResult(toValidationError("instance_sync arguments", parsed.error));
  const { to, repo, dir, ref, link: symlink, files, expect } = parsed.data;
  try {
    if (repo !== undefined && dir !== undefined) {
      const result = await (await link()).sync.repo({
        to,
        repo,
        dir,
        ...(ref ? { ref } : {}),
        ...(symlink ? { link: symlink } : {}),
        ...(expect ? { expect } : {}),
      });
      return { content: [{ type: "text", text: describeSyncRepo(result) }], details: { ...result } };
    }
    const result = await (await link()).sync.files({ to, files: files ?? [] });
    return { content: [{ type: "text", text: describeSyncFiles(result) }], details: { ...result } };
  } catch (error) {
    return errorResult(error);
  }
}

export const instanceSyncTool: ToolDefinition = {
  name: "instance_sync",
  label: "Sync to another instance's machine",
  description:
    "Bring a git repository (https URL; cloned or fast-forwarded, optional symlink repointed and checked with readlink) or local files (SHA-256 checked) to another OpenClaw instance's machine.",
  parameters: parametersOf(syncArgs),
  // File writes on another machine: an operator opts in with tools.allow.
  optional: true,
  execute: (params, { link }) => instanceSync(link, params),
};
