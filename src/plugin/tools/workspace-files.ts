import { realpath } from "node:fs/promises";
import { isAbsolute, relative, resolve, sep } from "node:path";
import type { FileInput } from "../../core/attachments/prepare.js";
import { ValidationError } from "../../core/errors.js";

function refused(index: number, message: string): ValidationError {
  return new ValidationError(`Invalid instance_send arguments: files.${index}: ${message}`, [{ path: `files.${index}`, message }], {
    hint: "Give paths of files inside your workspace (relative to it), e.g. reports/build.log.",
  });
}

/**
 * The agent's `files` as paths on this machine: each must resolve, symbolic links followed, to a
 * file inside its workspace; anything outside (`../`, an absolute path elsewhere, a link out) is refused.
 */
export async function filesInWorkspace(workspaceDir: string | undefined, paths: readonly string[]): Promise<FileInput[]> {
  if (paths.length === 0) return [];
  if (!workspaceDir) throw refused(0, "this session has no workspace, so no file of it can be sent");
  const root = await realpath(workspaceDir);
  return Promise.all(
    paths.map(async (given, index) => {
      let real: string;
      try {
        real = await realpath(resolve(root, given));
      } catch {
        throw refused(index, `${JSON.stringify(given)} is not a file in your workspace`);
      }
      const inside = relative(root, real);
      if (inside === "" || inside.startsWith(`..${sep}`) || inside === ".." || isAbsolute(inside))
        throw refused(index, `${JSON.stringify(given)} is outside your workspace`);
      return { path: real, name: given.split(/[/\\]/u).pop() ?? given };
    }),
  );
}
