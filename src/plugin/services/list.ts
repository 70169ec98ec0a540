import type { OpenClawPluginService } from "openclaw/plugin-sdk/plugin-entry";
import type { PluginParts } from "../parts.js";
import { createInboxService } from "./inbox.js";
import { createNatsService } from "./nats.js";

/** The plugin's services, in the order they are registered (and started). */
export function pluginServices(parts: PluginParts): readonly OpenClawPluginService[] {
  const { api, config, resolvedConfig, gate, settleReply } = parts;
  return [
    // Nothing to start: the gate opens its stores on first use. At stop its audit entries are written and its stores closed.
    { id: "inter-instance-inbound-gate", start: () => {}, stop: () => gate.close() },
    createInboxService(api, gate, settleReply),
    parts.outbox,
    parts.tasks,
    createNatsService(api, config, resolvedConfig, gate, settleReply),
    parts.health,
  ];
}
