import type { Instance } from "../config/registry.js";
import type { Envelope } from "../envelope.js";
import { appendEntry } from "../memory/append.js";
import { APPLIES, notApplicable, type Applicability, type DeliveryContext, type Receipt, type Transport } from "../transport.js";

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

  async deliver(envelope: Envelope, context: DeliveryContext): Promise<Receipt> {
    const workspace = context.instance.workspace;
    if (!workspace) throw new Error("memory_file used without a workspace");
    const result = await appendEntry(envelope, { workspace, timeZone: context.instance.timeZone, signal: context.signal });
    return { status: "written", detail: { path: result.path, duplicate: result.duplicate } };
  }
}
