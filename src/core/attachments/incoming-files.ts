import { randomUUID } from "node:crypto";
import { lstat, mkdir, open, readFile, realpath, rename, unlink } from "node:fs/promises";
import { join, relative, sep } from "node:path";
import { UnavailableError } from "../errors.js";
import { type FileMeta, sha256Hex } from "./file-list.js";
import { isSafeFileName } from "./safe-name.js";

/**
 * A message's files in a receiver's incoming folder: `<folder>/<sha256>/<safe name>`. The digest
 * folder makes the place content-addressed (a second copy of the same bytes is the same file);
 * the name keeps the file's own name and type for the agent that opens it.
 */
export function incomingFilePath(folder: string, file: FileMeta): string {
  if (!isSafeFileName(file.name) || !/^[0-9a-f]{64}$/u.test(file.sha256)) throw new TypeError("not a safe listed file");
  return join(folder, file.sha256, file.name);
}

/** Throws unless `path` (resolved, links followed) lies inside `folder`: nothing is ever written or read elsewhere. */
async function assertInside(folder: string, path: string): Promise<void> {
  const root = await realpath(folder);
  const inside = relative(root, await realpath(path));
  if (inside.startsWith(`..${sep}`) || inside === ".." || inside.startsWith(sep))
    throw new UnavailableError(`${path} leads outside ${folder} (a symbolic link?); nothing was written there.`, {
      code: "NOT_WRITABLE",
      hint: `Remove the link in ${folder}; the incoming folder holds plain folders and files only.`,
    });
}

/**
 * Writes one file into the incoming folder: into a temporary name, synced, its SHA-256 checked
 * against the list, then renamed into place. A file already there with the listed digest is kept.
 * Returns its path.
 */
export async function writeIncomingFile(folder: string, file: FileMeta, bytes: Uint8Array): Promise<string> {
  if (bytes.byteLength !== file.size || sha256Hex(bytes) !== file.sha256)
    throw new UnavailableError(`The bytes of ${JSON.stringify(file.name)} are not the listed file (size or SHA-256 differ); nothing was written.`, {
      code: "INTEGRITY_FAILURE",
      hint: "Send the message again; its queued copy was damaged.",
    });
  const path = incomingFilePath(folder, file);
  const digestDir = join(folder, file.sha256);
  await mkdir(digestDir, { recursive: true, mode: 0o700 });
  await assertInside(folder, digestDir);
  if ((await checkIncomingFile(folder, file)).verified) return path;
  const temporary = join(digestDir, `.${randomUUID()}.partial`);
  const handle = await open(temporary, "wx", 0o600);
  try {
    await handle.writeFile(bytes);
    await handle.sync();
  } finally {
    await handle.close();
  }
  // Checked as it lies on disk, not as it was handed over.
  if (sha256Hex(await readFile(temporary)) !== file.sha256) {
    await unlink(temporary).catch(() => {});
    throw new UnavailableError(`${JSON.stringify(file.name)} did not arrive intact in ${digestDir} (its SHA-256 differs after writing).`, {
      code: "INTEGRITY_FAILURE",
      hint: "Check the disk and the mount of the target's workspace; the next transport tries.",
    });
  }
  await rename(temporary, path);
  return path;
}

/** What the receiver found for one listed file. */
export type IncomingFileVerdict =
  | { readonly verified: true; readonly path: string }
  | { readonly verified: false; readonly path: string; readonly reason: string };

/** Whether the listed file lies in the incoming folder, a plain file (no link) of the listed size and SHA-256. */
export async function checkIncomingFile(folder: string, file: FileMeta): Promise<IncomingFileVerdict> {
  let path: string;
  try {
    path = incomingFilePath(folder, file);
  } catch {
    return { verified: false, path: folder, reason: "its listed name or digest is not a safe one" };
  }
  const stat = await lstat(path).catch(() => undefined);
  if (!stat) return { verified: false, path, reason: "it has not arrived" };
  if (!stat.isFile()) return { verified: false, path, reason: "it is not a plain file (a link or a folder)" };
  try {
    await assertInside(folder, path);
  } catch {
    return { verified: false, path, reason: "it leads outside the incoming folder" };
  }
  if (stat.size !== file.size) return { verified: false, path, reason: `it has ${stat.size} bytes, the list says ${file.size}` };
  const digest = sha256Hex(await readFile(path));
  return digest === file.sha256 ? { verified: true, path } : { verified: false, path, reason: "its SHA-256 differs from the listed one" };
}
