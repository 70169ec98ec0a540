import { definePluginEntry } from "openclaw/plugin-sdk/plugin-entry";
import { createMessenger, type Messenger } from "../client.js";
import { parseConfig } from "../config/parse.js";
import { instanceSend, instanceStatus, SEND_PARAMETERS, STATUS_PARAMETERS } from "./tools.js";

export const PLUGIN_ID = "inter-instance";

/**
 * The OpenClaw plugin: agent tools over the library. `register()` runs more than once (discovery
 * and full mode), so it only registers; the link (connections, outbox) is built on first use.
 */
export default definePluginEntry({
  id: PLUGIN_ID,
  name: "Inter-instance messaging",
  description: "Send messages to OpenClaw instances on other machines, with fallback and a durable outbox.",
  register(api) {
    let link: Messenger | undefined;
    const getLink = () => (link ??= createMessenger({ config: parseConfig(api.pluginConfig ?? {}) }));
    api.registerTool({
      name: "instance_send",
      label: "Message another OpenClaw instance",
      description:
        "Send a message to an agent on another machine's OpenClaw Gateway (by instance name or alias, e.g. 小m). Tries sessions_send, then the fallbacks; returns the delivery report.",
      parameters: SEND_PARAMETERS,
      execute: (_toolCallId: string, params: unknown) => instanceSend(getLink, params),
    });
    api.registerTool({
      name: "instance_status",
      label: "Inter-instance status",
      description: "List the configured OpenClaw instances, their transports, and messages waiting in the outbox.",
      parameters: STATUS_PARAMETERS,
      execute: () => instanceStatus(getLink),
    });
  },
});
