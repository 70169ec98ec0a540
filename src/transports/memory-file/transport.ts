import { stat, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Instance } from "../../config/registry.js";
import { writeIncomingFile } from "../../core/attachments/incoming-files.js";
import type { Envelope } from "../../core/envelope.js";
import { UnavailableError } from "../../core/errors.js";
import { APPLIES, type Applicability, type DeliveryContext, notApplicable, type Receipt, type Transport } from "../../core/transport.js";
import { PASSIVE_DELIVERY_NOTE, receiverOf } from "../../inbox/receipts.js";
import { incomingFilesDir } from "../nodes/incoming.js";

// The locked, group-committed append loads with the first delivery or probe of this transport.
const appendModule = () => import("./append.js");

/**
 * Appends the message to `<workspace>/memory/YYYY-MM-DD.md` of the target (date in the target's
 * time zone), once per envelope id. Works on a workspace path this host can reach (same machine,
 * a mounted share); writing on another machine goes through its node.
 *
 * On OpenClaw 2026.9.x a daily note is indexed for `memory_search` but not put in the agent's
 * prompt, so the receipt is `written`, not `delivered`: the receiving side's plugin surfaces it.
 */
export class MemoryFileTransport implements Transport {
  readonly id = "memory_file";

  applies(instance: Instance): Applicability {
    return instance.workspace ? APPLIES : notApplicable("no workspace is configured for this instance");
  }

  /** Mirrors what an append needs: the workspace exists, and its memory dir (or the workspace, to create it) is writable. */
  async probe(instance: Instance): Promise<string> {
    const workspace = instance.workspace;
    if (!workspace) throw new UnavailableError("no workspace", { code: "NOT_CONFIGURED" });
    if (!(await stat(workspace).catch(() => undefined))?.isDirectory()) {
      throw (await appendModule()).workspaceMissingError(workspace);
    }
    const memoryDir = join(workspace, "memory");
    const existing = await stat(memoryDir).catch(() => undefined);
    if (existing && !existing.isDirectory()) {
      throw new UnavailableError(`${memoryDir} is not a directory.`, {
        code: "NOT_WRITABLE",
        hint: `Move the file ${memoryDir} away; the daily notes live in that directory.`,
      });
    }
    const dir = existing ? memoryDir : workspace;
    // Writing proves more than access(W_OK), which a root process always passes (read-only mounts, full disks).
    const probe = join(dir, `.openclaw-inter-instance-probe-${process.pid}`);
    try {
      await writeFile(probe, "");
      await unlink(probe);
    } catch (error) {
      throw new UnavailableError(`Cannot write to ${dir}.`, {
        code: "NOT_WRITABLE",
        cause: error,
        hint: `Make ${dir} writable by this user (or mount the target's workspace here).`,
      });
    }
    const receiver = await receiverOf(workspace);
    return `${dir} is writable; ${receiver === "plugin" ? "the receiver's plugin surfaces new entries to its agent" : `passive: ${PASSIVE_DELIVERY_NOTE}`}`;
  }

  async deliver(envelope: Envelope, context: DeliveryContext): Promise<Receipt> {
    const workspace = context.instance.workspace;
    if (!workspace) throw new Error("memory_file used without a workspace");
    // The files first: an entry is only ever written once everything it names is in place.
    for (const file of envelope.files ?? []) {
      if (!context.files) throw new UnavailableError("The bytes of this message's files are not available to memory_file.", { code: "INTEGRITY_FAILURE" });
      await writeIncomingFile(incomingFilesDir(workspace), file, await context.files(file));
    }
    const result = await (await appendModule()).appendEntry(envelope, { workspace, timeZone: context.instance.timeZone, signal: context.signal });
    const receiver = await receiverOf(workspace);
    return {
      status: "written",
      detail: { path: result.path, duplicate: result.duplicate, receiver, ...(receiver === "passive" ? { note: PASSIVE_DELIVERY_NOTE } : {}) },
    };
  }
}
