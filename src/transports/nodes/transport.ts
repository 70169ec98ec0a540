import { join } from "node:path";
import { missingCredential } from "../../config/names.js";
import type { Instance } from "../../config/registry.js";
import { incomingFilePath } from "../../core/attachments/incoming-files.js";
import type { Envelope } from "../../core/envelope.js";
import { UnavailableError } from "../../core/errors.js";
import { APPLIES, type Applicability, type DeliveryContext, notApplicable, type Receipt, type Transport } from "../../core/transport.js";
import type { GatewayPool } from "../../gateway/connection.js";
import { incomingDir, incomingFilesDir, incomingPath } from "./incoming.js";
import { NodeHost } from "./node-host.js";

/** The node's `file.write` takes at most 16 MiB. */
const MAX_ENVELOPE_BYTES = 16 * 1024 * 1024;

export const NODE_RECEIVER_NOTE =
  "dropped on the target machine for its openclaw-inter-instance plugin, which appends it to the daily note and shows it to the agent; without the plugin it waits there unread";

/** The node host on an instance's machine, when the config names one. */
export function nodeHostOf(pool: GatewayPool, instance: Instance): NodeHost | undefined {
  return instance.node && new NodeHost(pool.forTarget(instance.node.gateway), instance.node);
}

/**
 * Delivers through a node host on the target machine that is paired to a Gateway this side can
 * reach (usually its own). The envelope travels as data in the node's `file.write` (SHA-256
 * checked, no shell, no heredoc) into the target workspace's incoming folder, one file per id.
 */
export class NodesTransport implements Transport {
  readonly id = "nodes";
  readonly #pool: GatewayPool;

  constructor(pool: GatewayPool) {
    this.#pool = pool;
  }

  /** The node of an instance, or undefined when none is configured. */
  host(instance: Instance): NodeHost | undefined {
    return nodeHostOf(this.#pool, instance);
  }

  applies(instance: Instance, envelope: Envelope): Applicability {
    const node = instance.node;
    if (!node) return notApplicable("no node is configured for this instance");
    const missing = missingCredential(node.gateway);
    if (missing) return notApplicable(missing);
    if (!node.workspace) return notApplicable("the target's workspace on the node (node.workspace) is not configured");
    if (Buffer.byteLength(JSON.stringify(envelope), "utf8") > MAX_ENVELOPE_BYTES)
      return notApplicable("the message is over the 16 MiB a node's file.write takes");
    const large = envelope.files?.find((file) => 4 * Math.ceil(file.size / 3) > MAX_ENVELOPE_BYTES);
    if (large) return notApplicable(`${JSON.stringify(large.name)} is over the 16 MiB (as base64) a node's file.write takes`);
    return APPLIES;
  }

  /** Checks the node is online and may write into the incoming folder (by writing a probe file there). */
  async probe(instance: Instance, signal: AbortSignal): Promise<string> {
    const { host, workspace } = this.#hostOf(instance);
    await host.writeFile(join(incomingDir(workspace), ".probe"), Buffer.from(new Date().toISOString()), { overwrite: true, createParents: true, signal });
    return `node ${instance.node?.name ?? instance.node?.id} is online and may write to ${incomingDir(workspace)}`;
  }

  async deliver(envelope: Envelope, context: DeliveryContext): Promise<Receipt> {
    const { host, workspace } = this.#hostOf(context.instance);
    // The files first, each checked by its SHA-256 on the node: the envelope that names them lands last.
    for (const file of envelope.files ?? []) {
      if (!context.files) throw new UnavailableError("The bytes of this message's files are not available to nodes.", { code: "INTEGRITY_FAILURE" });
      const bytes = Buffer.from(await context.files(file));
      await host.writeFile(incomingFilePath(incomingFilesDir(workspace), file), bytes, { overwrite: false, createParents: true, signal: context.signal });
    }
    const path = incomingPath(workspace, envelope.id);
    const outcome = await host.writeFile(path, Buffer.from(JSON.stringify(envelope), "utf8"), {
      overwrite: false,
      createParents: true,
      signal: context.signal,
      idempotencyKey: envelope.id,
    });
    return {
      status: "accepted",
      detail: { path, duplicate: !outcome.written, ...(outcome.written ? { sha256: outcome.sha256 } : {}), receiver: NODE_RECEIVER_NOTE },
    };
  }

  #hostOf(instance: Instance): { host: NodeHost; workspace: string } {
    const host = this.host(instance);
    const workspace = instance.node?.workspace;
    if (!host || !workspace) throw new UnavailableError("nodes used without node config", { code: "NOT_CONFIGURED" });
    return { host, workspace };
  }
}
