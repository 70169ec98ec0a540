import { lstatSync, mkdirSync, readFileSync, realpathSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join, relative, sep } from "node:path";
import { type FileMeta, sha256Hex } from "../core/attachments/file-list.js";
import { incomingFilePath } from "../core/attachments/incoming-files.js";
import { isImageMime } from "../core/attachments/mime.js";
import { incomingFilesDir } from "../transports/nodes/incoming.js";
import { type CheckedFile, filesForAgent } from "../trust/files-frame.js";
import type { SessionVerdict } from "../trust/session-verdicts.js";
import { writeFileAtomic } from "../util/atomic-write.js";

/**
 * What OpenClaw writes into a turn for each attachment it saved: `[media attached: media://inbound/<id>]`
 * after the message, and `[media attached 2/3: media://inbound/<id> (image/png)]` in the turn's list
 * (the only mention of an image it offloaded for a text-only model). Matched anywhere in the prompt:
 * a file is verified by its SHA-256 alone, whichever reference led to it.
 */
const MEDIA_REF = /\[media attached(?: \d{1,4}\/\d{1,4})?: media:\/\/inbound\/([A-Za-z0-9][A-Za-z0-9._-]{0,250})(?: \([^()\]\n]{1,200}\))?\]/gu;
/** Largest saved attachment read back to check (OpenClaw's own ceiling is lower). */
const MAX_CHECK_BYTES = 1024 * 1024 * 1024;

/** The Gateway's media store (`<state dir>/media`), where `sessions.send` attachments are saved, as OpenClaw resolves it. */
export function gatewayMediaDir(env: NodeJS.ProcessEnv = process.env): string {
  const state = env.OPENCLAW_STATE_DIR?.trim() || (env.OPENCLAW_CONFIG_PATH?.trim() ? dirname(env.OPENCLAW_CONFIG_PATH.trim()) : join(homedir(), ".openclaw"));
  return join(state, "media");
}

/** The bytes of the attachments the Gateway saved for this message (the refs after its header), by SHA-256. */
function savedAttachments(text: string, mediaDir: string): Map<string, Buffer> {
  const found = new Map<string, Buffer>();
  const inbound = join(mediaDir, "inbound");
  for (const [, id] of text.matchAll(MEDIA_REF)) {
    const path = join(inbound, id!);
    try {
      const stat = lstatSync(path);
      if (!stat.isFile() || stat.size > MAX_CHECK_BYTES) continue;
      const bytes = readFileSync(path);
      found.set(sha256Hex(bytes), bytes);
    } catch {
      // Not (or no longer) there: its file is listed as not checked.
    }
  }
  return found;
}

/** A copy in the agent's incoming folder, written beside and renamed, synchronously (inside a hook). */
function copyIntoWorkspace(workspace: string, file: FileMeta, bytes: Buffer): string {
  const folder = incomingFilesDir(workspace);
  const path = incomingFilePath(folder, file);
  const existing = (() => {
    try {
      return lstatSync(path);
    } catch {
      return undefined;
    }
  })();
  if (existing?.isFile() && existing.size === file.size && sha256Hex(readFileSync(path)) === file.sha256) return path;
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  const inside = relative(realpathSync(folder), realpathSync(dirname(path)));
  if (inside.startsWith(`..${sep}`) || inside === "..") throw new Error(`${dirname(path)} leads outside ${folder}`);
  writeFileAtomic().sync(path, bytes, { mode: 0o600 });
  return path;
}

/**
 * The files a session message lists, each checked against what the Gateway saved for it: one whose
 * saved bytes have the listed SHA-256 is verified and copied into the agent's incoming folder; an
 * image the Gateway passed to the model inline (nothing saved), or bytes that differ, are not.
 */
export function sessionFilesText(prompt: string, message: SessionVerdict, workspace: string, mediaDir: string = gatewayMediaDir()): string | undefined {
  const files = message.files;
  if (!files || files.length === 0) return undefined;
  const saved = savedAttachments(prompt, mediaDir);
  const checked: CheckedFile[] = files.map((file) => {
    const bytes = saved.get(file.sha256);
    if (!bytes) {
      const reason = isImageMime(file.mime)
        ? "an image the Gateway gave the model inline, or saved where this plugin cannot find it: not checked"
        : "no attachment the Gateway saved for this message has its SHA-256";
      return { file, where: "(not saved)", verdict: { verified: false, path: "", reason } };
    }
    try {
      const path = copyIntoWorkspace(workspace, file, bytes);
      return { file, where: relative(workspace, path), verdict: { verified: true, path } };
    } catch (error) {
      return { file, where: "(not copied)", verdict: { verified: false, path: "", reason: `it could not be copied into the workspace: ${String(error)}` } };
    }
  });
  return filesForAgent(checked, message.verdict.verified);
}
