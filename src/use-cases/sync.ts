import { createHash } from "node:crypto";
import { readFile, stat } from "node:fs/promises";
import { isAbsolute, posix } from "node:path";
import type { z } from "zod";
import { toValidationError } from "../config/parse.js";
import { InterInstanceError } from "../core/errors.js";
import type { NodeHost } from "../transports/nodes/node-host.js";
import { once } from "../util/lazy.js";
import { type ZodApi, zod } from "../util/zod.js";
import type { ExecInput, ExecResult } from "./exec.js";

const LOOPBACK_HOSTS = new Set(["127.0.0.1", "localhost", "[::1]"]);
/** The HTTPS twin of an SSH remote (`git@host:owner/repo.git` → `https://host/owner/repo.git`), when there is an obvious one. */
export function httpsAlternative(url: string): string | undefined {
  const scp = /^[\w.-]+@([\w.-]+):(?!\/)(.+)$/u.exec(url);
  if (scp) return `https://${scp[1]}/${scp[2]}`;
  const ssh = /^ssh:\/\/(?:[\w.-]+@)?([\w.-]+)(?::\d+)?\/(.+)$/u.exec(url);
  return ssh ? `https://${ssh[1]}/${ssh[2]}` : undefined;
}

function buildSyncSchemas(z: ZodApi) {
  const noNul = z
    .string()
    .min(1)
    .refine((value) => !value.includes("\0"), "cannot contain NUL bytes");
  const remotePath = noNul
    .refine((value) => value.startsWith("/"), "must be an absolute path on the target")
    .refine((value) => !value.split("/").includes(".."), "cannot contain ..");

  const repoUrl = z.string().superRefine((value, ctx) => {
    if (/^[\w.-]+@[\w.-]+:/u.test(value) || value.startsWith("ssh://") || value.startsWith("git://")) {
      const https = httpsAlternative(value);
      ctx.addIssue({
        code: "custom",
        message: `use the HTTPS URL${https ? ` (${https})` : ""}: the node host has no SSH key or agent of yours, and git:// is unauthenticated`,
      });
      return;
    }
    if (!URL.canParse(value)) {
      ctx.addIssue({ code: "custom", message: "must be an https:// URL" });
      return;
    }
    const url = new URL(value);
    if (url.username || url.password)
      ctx.addIssue({
        code: "custom",
        message: "put no credentials in the URL (they would show in the node's process list); use a credential helper on the target",
      });
    if (url.protocol !== "https:" && !(url.protocol === "http:" && LOOPBACK_HOSTS.has(url.hostname)))
      ctx.addIssue({ code: "custom", message: "must be an https:// URL (http:// only on loopback)" });
  });

  const relativeFile = z
    .string()
    .min(1)
    .refine((value) => !value.startsWith("/") && !value.split("/").includes("..") && !value.includes("\0"), "a path inside the checkout");

  const syncRepoSchema = z
    .object({
      to: z.string().trim().min(1),
      /** The repository's HTTPS URL. */
      repo: repoUrl,
      /** Where checkouts live on the target: each commit gets its own `<dir>/<commit>`, so the live one is never touched. */
      dir: remotePath,
      /** Branch or tag; default the remote's HEAD. */
      ref: z
        .string()
        .regex(/^[A-Za-z0-9._/-]+$/u, "a branch or tag name")
        .refine((value) => !value.startsWith("-") && !value.includes(".."), "not a valid ref")
        .optional(),
      /** The stable path to point at the new checkout (`ln -sfn`), verified with `readlink`; put back when verification fails. */
      link: remotePath.optional(),
      /** Files that must exist in the checkout for it to count as good (checked before the link moves back or stays). */
      expect: z.array(relativeFile).max(100).default([]),
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

  return { syncRepoSchema, syncFilesSchema };
}

/** Built on first use (see `zod()`). */
const syncSchemas = once(() => buildSyncSchemas(zod()));
type SyncSchemas = ReturnType<typeof buildSyncSchemas>;

export type SyncRepoInput = z.input<SyncSchemas["syncRepoSchema"]>;
export type SyncFilesInput = z.input<SyncSchemas["syncFilesSchema"]>;

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
  /** The checkout of this commit: `<dir>/<commit>`. */
  readonly dir: string;
  readonly commit?: string;
  /** `cloned` a new checkout, or `unchanged`: that commit was checked out already. */
  readonly action?: "cloned" | "unchanged";
  readonly link?: { readonly path: string; readonly target: string; readonly previous?: string; readonly rolledBack?: boolean };
  readonly steps: readonly SyncStep[];
  readonly error?: string;
}

export interface SyncFilesResult {
  readonly ok: true;
  readonly to: string;
  readonly files: readonly { readonly from: string; readonly to: string; readonly sha256: string; readonly size: number }[];
}

export interface SyncProgress {
  readonly file: string;
  readonly filesDone: number;
  readonly filesTotal: number;
  readonly bytesDone: number;
  readonly bytesTotal: number;
}

export interface SyncDependencies {
  readonly exec: (input: ExecInput) => Promise<ExecResult>;
  readonly nodeOf: (instanceName: string) => NodeHost | undefined;
  readonly resolveName: (target: string) => string;
}

/** git must never stop to ask for a password on a machine nobody watches. */
const GIT_ENV = { GIT_TERMINAL_PROMPT: "0", GCM_INTERACTIVE: "never" };

/**
 * Puts a commit of a repository on the target machine: resolves the ref (`git ls-remote`, over
 * HTTPS, proxy variables unset, no prompts), checks it out into its own `<dir>/<commit>`, checks
 * the expected files, then repoints `link` with `ln -sfn` and verifies it with `readlink`. When
 * any check after the link moved fails, the link is put back where it was.
 */
export async function syncRepo(deps: SyncDependencies, input: SyncRepoInput): Promise<SyncRepoResult> {
  const parsed = syncSchemas().syncRepoSchema.safeParse(input);
  if (!parsed.success) throw toValidationError("sync", parsed.error);
  const { to, repo, ref, link, expect, timeoutMs } = parsed.data;
  const steps: SyncStep[] = [];
  const run = async (argv: string[]): Promise<SyncStep> => {
    const result = await deps.exec({ to, argv, timeoutMs, env: GIT_ENV });
    const step = {
      argv,
      exitCode: result.exitCode,
      ok: result.ok,
      stdout: result.stdout,
      stderr: result.stderr || result.error || (result.timedOut ? `timed out after ${timeoutMs} ms` : ""),
      ms: result.ms,
    };
    steps.push(step);
    return step;
  };
  const name = deps.resolveName(to);
  const fail = (dir: string, error: string, extra: Partial<SyncRepoResult> = {}): SyncRepoResult => ({ ok: false, to: name, dir, steps, error, ...extra });

  const remote = await run(["git", "ls-remote", "--", repo, ref ?? "HEAD"]);
  const commit = remote.ok ? /^([0-9a-f]{40,64})\s/mu.exec(remote.stdout)?.[1] : undefined;
  if (!commit) return fail(parsed.data.dir, remote.ok ? `${repo} has no ${ref ?? "HEAD"}` : `git ls-remote failed: ${remote.stderr.trim()}`);
  const dir = posix.join(parsed.data.dir, commit);

  const existing = await run(["git", "-C", dir, "rev-parse", "HEAD"]);
  const action = existing.ok && existing.stdout.trim() === commit ? "unchanged" : "cloned";
  if (action === "cloned") {
    const cloned = (await run(["git", "clone", "--no-checkout", "--", repo, dir])).ok && (await run(["git", "-C", dir, "checkout", "--detach", commit])).ok;
    if (!cloned) return fail(dir, `git clone failed: ${steps.at(-1)?.stderr.trim() ?? ""}`, { commit });
  }
  const missing = [];
  for (const file of expect) if (!(await run(["test", "-e", posix.join(dir, file)])).ok) missing.push(file);
  if (missing.length > 0) return fail(dir, `the checkout lacks ${missing.join(", ")}; the link was not moved`, { commit, action });
  if (!link) return { ok: true, to: name, dir, commit, action, steps };

  const before = await run(["readlink", "--", link]);
  const previous = before.ok ? before.stdout.replace(/\n$/u, "") : undefined;
  const linked = await run(["ln", "-sfn", "--", dir, link]);
  const check = linked.ok ? await run(["readlink", "--", link]) : undefined;
  const target = check?.ok ? check.stdout.replace(/\n$/u, "") : "";
  if (target === dir) return { ok: true, to: name, dir, commit, action, link: { path: link, target, ...(previous ? { previous } : {}) }, steps };
  const rolledBack = previous ? (await run(["ln", "-sfn", "--", previous, link])).ok : false;
  return fail(dir, linked.ok ? `${link} points at ${target || "nothing"} after ln -sfn, not at ${dir}` : `ln -sfn failed: ${linked.stderr.trim()}`, {
    commit,
    action,
    link: { path: link, target, ...(previous ? { previous } : {}), rolledBack },
  });
}

/** Copies local files to the target through its node's `file.write`, each checked by SHA-256 on arrival. */
export async function syncFiles(
  deps: SyncDependencies,
  input: SyncFilesInput,
  options: { signal?: AbortSignal; onProgress?: (progress: SyncProgress) => void } = {},
): Promise<SyncFilesResult> {
  const parsed = syncSchemas().syncFilesSchema.safeParse(input);
  if (!parsed.success) throw toValidationError("sync files", parsed.error);
  const name = deps.resolveName(parsed.data.to);
  const host = deps.nodeOf(name);
  if (!host) throw new InterInstanceError(`${name} has no node configured: file sync needs a node host on that machine.`, { code: "NO_NODE" });
  const files = [];
  const sizes = await Promise.all(parsed.data.files.map(async (file) => (await stat(file.from)).size));
  const bytesTotal = sizes.reduce((sum, size) => sum + size, 0);
  let bytesDone = 0;
  for (const file of parsed.data.files) {
    const content = await readFile(file.from);
    const outcome = await host.writeFile(posix.normalize(file.to), content, {
      overwrite: parsed.data.overwrite,
      createParents: true,
      ...(options.signal ? { signal: options.signal } : {}),
    });
    if (!outcome.written) throw new InterInstanceError(`${file.to} exists on ${name}; pass overwrite: true to replace it.`, { code: "EXISTS" });
    const sha256 = createHash("sha256").update(content).digest("hex");
    if (outcome.sha256 !== sha256 || outcome.size !== content.length) {
      throw new InterInstanceError(`${file.to} on ${name} is ${outcome.size} bytes (sha256 ${outcome.sha256}), not ${content.length} (${sha256}).`, {
        code: "INTEGRITY_FAILURE",
      });
    }
    files.push({ from: file.from, to: outcome.path, sha256: outcome.sha256, size: outcome.size });
    bytesDone += content.length;
    options.onProgress?.({ file: file.to, filesDone: files.length, filesTotal: parsed.data.files.length, bytesDone, bytesTotal });
  }
  return { ok: true, to: name, files };
}
