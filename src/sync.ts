import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { isAbsolute, posix } from "node:path";
import { z } from "zod";
import { toValidationError } from "./config/parse.js";
import { InterInstanceError } from "./errors.js";
import type { ExecInput, ExecResult } from "./exec.js";
import type { NodeHost } from "./nodes/node-host.js";

const LOOPBACK_HOSTS = new Set(["127.0.0.1", "localhost", "[::1]"]);
const noNul = z.string().min(1).refine((value) => !value.includes("\0"), "cannot contain NUL bytes");
const remotePath = noNul.refine((value) => value.startsWith("/"), "must be an absolute path on the target").refine((value) => !value.split("/").includes(".."), "cannot contain ..");

const repoUrl = z.string().superRefine((value, ctx) => {
  if (/^[\w.-]+@[\w.-]+:/u.test(value) || value.startsWith("ssh://") || value.startsWith("git://")) {
    ctx.addIssue({ code: "custom", message: "use the HTTPS URL of the repository: the node host has no SSH key or agent of yours, and git:// is unauthenticated" });
    return;
  }
  if (!URL.canParse(value)) {
    ctx.addIssue({ code: "custom", message: "must be an https:// URL" });
    return;
  }
  const url = new URL(value);
  if (url.username || url.password) ctx.addIssue({ code: "custom", message: "put no credentials in the URL (they would show in the node's process list); use a credential helper on the target" });
  if (url.protocol !== "https:" && !(url.protocol === "http:" && LOOPBACK_HOSTS.has(url.hostname))) ctx.addIssue({ code: "custom", message: "must be an https:// URL (http:// only on loopback)" });
});

const syncRepoSchema = z
  .object({
    to: z.string().trim().min(1),
    /** The repository's HTTPS URL. */
    repo: repoUrl,
    /** Where the checkout lives on the target (cloned when absent, fast-forwarded when present). */
    dir: remotePath,
    /** Branch or tag; default the remote's HEAD. */
    ref: z.string().regex(/^[A-Za-z0-9._/-]+$/u, "a branch or tag name").refine((value) => !value.startsWith("-") && !value.includes(".."), "not a valid ref").optional(),
    /** Point this symlink at `dir` (`ln -sfn`), then check it with `readlink`; restored when the check fails. */
    link: remotePath.optional(),
    /** Budget per git step (default 120 s). */
    timeoutMs: z.number().int().positive().max(3_600_000).default(120_000),
  })
  .strict();

const syncFilesSchema = z
  .object({
    to: z.string().trim().min(1),
    files: z
      .array(z.object({ from: noNul.refine(isAbsolute, "must be an absolute local path"), to: remotePath }).strict())
      .min(1)
      .max(1000),
    /** Replace files that exist (default true). */
    overwrite: z.boolean().default(true),
  })
  .strict();

export type SyncRepoInput = z.input<typeof syncRepoSchema>;
export type SyncFilesInput = z.input<typeof syncFilesSchema>;

export interface SyncStep {
  readonly argv: readonly string[];
  readonly exitCode: number | undefined;
  readonly ok: boolean;
  readonly stdout: string;
  readonly stderr: string;
  readonly ms: number;
}

export interface SyncRepoResult {
  readonly ok: boolean;
  readonly to: string;
  readonly dir: string;
  /** The commit checked out on the target. */
  readonly commit?: string;
  readonly action?: "cloned" | "updated";
  readonly link?: { readonly path: string; readonly target: string; readonly previous?: string; readonly rolledBack?: boolean };
  readonly steps: readonly SyncStep[];
  readonly error?: string;
}

export interface SyncFilesResult {
  readonly ok: true;
  readonly to: string;
  readonly files: readonly { readonly from: string; readonly to: string; readonly sha256: string; readonly size: number }[];
}

export interface SyncDependencies {
  readonly exec: (input: ExecInput) => Promise<ExecResult>;
  readonly nodeOf: (instanceName: string) => NodeHost | undefined;
  readonly resolveName: (target: string) => string;
}

/** git must never stop to ask for a password on a machine nobody watches. */
const GIT_ENV = { GIT_TERMINAL_PROMPT: "0", GCM_INTERACTIVE: "never" };

/**
 * Brings a git checkout on the target machine to the remote's state over HTTPS (proxy variables
 * unset, no prompts), then optionally repoints a symlink at it and verifies the link with
 * `readlink`; a link that does not point where it should is put back as it was.
 */
export async function syncRepo(deps: SyncDependencies, input: SyncRepoInput): Promise<SyncRepoResult> {
  const parsed = syncRepoSchema.safeParse(input);
  if (!parsed.success) throw toValidationError("sync", parsed.error);
  const { to, repo, dir, ref, link, timeoutMs } = parsed.data;
  const steps: SyncStep[] = [];
  const run = async (argv: string[]): Promise<SyncStep> => {
    const result = await deps.exec({ to, argv, timeoutMs, env: GIT_ENV });
    const step = { argv, exitCode: result.exitCode, ok: result.ok, stdout: result.stdout, stderr: result.stderr || result.error || (result.timedOut ? `timed out after ${timeoutMs} ms` : ""), ms: result.ms };
    steps.push(step);
    return step;
  };
  const name = deps.resolveName(to);
  const fail = (error: string, extra: Partial<SyncRepoResult> = {}): SyncRepoResult => ({ ok: false, to: name, dir, steps, error, ...extra });

  const present = (await run(["git", "-C", dir, "rev-parse", "--is-inside-work-tree"])).ok;
  steps.pop(); // a probe, not a step of the sync
  const action = present ? "updated" : "cloned";
  const fetched = present
    ? (await run(["git", "-C", dir, "fetch", "--prune", "--", repo, ...(ref ? [ref] : [])])).ok && (await run(["git", "-C", dir, "merge", "--ff-only", "FETCH_HEAD"])).ok
    : (await run(["git", "clone", ...(ref ? ["--branch", ref] : []), "--", repo, dir])).ok;
  if (!fetched) return fail(`git ${present ? "fetch/merge" : "clone"} failed: ${steps.at(-1)?.stderr.trim() ?? ""}`);
  const head = await run(["git", "-C", dir, "rev-parse", "HEAD"]);
  if (!head.ok) return fail(`git rev-parse failed: ${head.stderr.trim()}`);
  const commit = head.stdout.trim();
  if (!link) return { ok: true, to: name, dir, commit, action, steps };

  const before = await run(["readlink", "--", link]);
  const previous = before.ok ? before.stdout.replace(/\n$/u, "") : undefined;
  const linked = await run(["ln", "-sfn", "--", dir, link]);
  const check = linked.ok ? await run(["readlink", "--", link]) : undefined;
  const target = check?.ok ? check.stdout.replace(/\n$/u, "") : "";
  if (target === dir) return { ok: true, to: name, dir, commit, action, link: { path: link, target, ...(previous ? { previous } : {}) }, steps };
  const rolledBack = previous ? (await run(["ln", "-sfn", "--", previous, link])).ok : false;
  return fail(linked.ok ? `${link} points at ${target || "nothing"} after ln -sfn, not at ${dir}` : `ln -sfn failed: ${linked.stderr.trim()}`, {
    commit,
    action,
    link: { path: link, target, ...(previous ? { previous } : {}), rolledBack },
  });
}

/** Copies local files to the target through its node's `file.write`, each checked by SHA-256 on arrival. */
export async function syncFiles(deps: SyncDependencies, input: SyncFilesInput, options: { signal?: AbortSignal } = {}): Promise<SyncFilesResult> {
  const parsed = syncFilesSchema.safeParse(input);
  if (!parsed.success) throw toValidationError("sync files", parsed.error);
  const name = deps.resolveName(parsed.data.to);
  const host = deps.nodeOf(name);
  if (!host) throw new InterInstanceError(`${name} has no node configured: file sync needs a node host on that machine.`, { code: "NO_NODE" });
  const files = [];
  for (const file of parsed.data.files) {
    const content = await readFile(file.from);
    const outcome = await host.writeFile(posix.normalize(file.to), content, { overwrite: parsed.data.overwrite, createParents: true, ...(options.signal ? { signal: options.signal } : {}) });
    if (!outcome.written) throw new InterInstanceError(`${file.to} exists on ${name}; pass overwrite: true to replace it.`, { code: "EXISTS" });
    files.push({ from: file.from, to: outcome.path, sha256: outcome.sha256, size: outcome.size });
  }
  const expected = new Map(await Promise.all(parsed.data.files.map(async (file) => [file.from, createHash("sha256").update(await readFile(file.from)).digest("hex")] as const)));
  const changed = files.filter((file) => expected.get(file.from) !== file.sha256);
  if (changed.length > 0) throw new InterInstanceError(`${changed.map((file) => file.from).join(", ")} changed while being copied; copy again.`, { code: "SOURCE_CHANGED" });
  return { ok: true, to: name, files };
}
