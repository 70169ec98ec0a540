import { Command } from "commander";
import { fingerprintOf } from "../../trust/signature.js";
import type { CliContext } from "../context.js";

/** `list`: the configured instances, and who is present in the fleet. */
export function listCommand(context: CliContext): Command {
  return new Command("list").description("the configured instances and how each is reached").action(async () => {
    const link = await context.open();
    const instances = link.registry.list().map((instance) => ({
      name: instance.name,
      aliases: instance.aliases,
      gateway: instance.gateway && {
        url: instance.gateway.url,
        credential: instance.gateway.credential,
        pinned: instance.gateway.tlsFingerprint !== undefined,
      },
      node: instance.node?.name ?? instance.node?.id,
      workspace: instance.workspace,
      transports: instance.transports,
    }));
    const lines = instances.map(
      (i) =>
        `${i.name}${i.aliases.length ? ` (${i.aliases.join(", ")})` : ""}: ${i.gateway ? `${i.gateway.url}, ${i.gateway.credential === "device" ? "device token" : "shared token"}${i.gateway.pinned ? ", pinned" : ""}` : "no gateway"}; transports ${i.transports.join(" > ")}`,
    );
    // A fleet's presence registry names the instances reachable by nats, configured here or not.
    const fleet = link.fleet && (await link.fleet.members().catch((error: unknown) => (error instanceof Error ? error.message : String(error))));
    if (typeof fleet === "string") lines.push(`fleet ${link.fleet!.name}: cannot be read (${fleet})`);
    else if (fleet)
      lines.push(
        `fleet ${link.fleet!.name}: ${fleet.length === 0 ? "nobody present" : fleet.map((m) => `${m.name} (seen ${m.lastSeen}${m.publicKey ? `, key ${fingerprintOf(m.publicKey)}` : ""})`).join(", ")}`,
      );
    context.print(
      { instances, ...(fleet !== undefined ? { fleet } : {}) },
      lines.length ? lines.join("\n") : "No instances yet: add one with `openclaw-inter-instance pair` or `add`.",
    );
  });
}
