import type { OpenClawPluginService } from "openclaw/plugin-sdk/plugin-entry";
import type { PluginParts } from "../parts.js";
import { createInboxService } from "./inbox.js";
import { createNatsService } from "./nats.js";

/** The plugin's services, in the order they are registered (and started). */
export function pluginServices(parts: PluginParts): readonly OpenClawPluginService[] {
  const { api, config, resolvedConfig, gate, settleReply } = parts;
  return [
    // Nothing to start: the gate opens its stores on first use. At stop its audit entries are written and its stores
    // closed; OpenClaw stops services in reverse order, so this one, first, stops after those that use the gate.
    // A failed cleanup would make OpenClaw refuse to reload the plugin: said, not thrown.
    {
      id: "inter-instance-inbound-gate",
      start: () => {},
      stop: () => gate.close().catch((error: unknown) => api.logger.warn(`inter-instance: could not close the inbound gate's stores: ${String(error)}`)),
    },
    createInboxService(api, gate, settleReply),
    parts.outbox,
    parts.tasks,
    createNatsService(api, config, resolvedConfig, gate, settleReply),
    parts.health,
  ];
}
