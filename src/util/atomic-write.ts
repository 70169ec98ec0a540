import { randomBytes } from "node:crypto";
import { renameSync, rmSync, writeFileSync } from "node:fs";
import { lazyRequire } from "./lazy.js";

/** write-file-atomic, required on the first write rather than at import (it patches in an exit handler). */
export const writeFileAtomic = lazyRequire<typeof import("write-file-atomic")>("write-file-atomic");

/**
 * Replaces a file with a temporary one written beside it and renamed over it: a reader sees the old
 * or the new text, never part of one. No fsync, and none of write-file-atomic's load (~10 ms, on a
 * one-shot send's path between the Gateway's hello and the message): for records whose loss in a
 * crash costs nothing.
 */
export function replaceFileSync(path: string, text: string, mode: number): void {
  const temporary = `${path}.${process.pid}.${randomBytes(4).toString("hex")}`;
  try {
    writeFileSync(temporary, text, { mode });
    renameSync(temporary, path);
  } catch (error) {
    rmSync(temporary, { force: true });
    throw error;
  }
}
