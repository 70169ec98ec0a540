import { definePluginEntry } from "openclaw/plugin-sdk/plugin-entry";
import { INTER_INSTANCE_CLI, registerInterInstanceCli } from "./cli-command.js";
import { findGateways } from "./control-ui/discovery-view.js";
import { instancesFeatureDeps, registerInstancesFeature } from "./control-ui/feature.js";
import { pluginHooks } from "./hooks/list.js";
import { PLUGIN_ID } from "./id.js";
import { createPluginParts } from "./parts.js";
import { registerDiscoverRoute } from "./routes/discover.js";
import { registerMetricsRoute } from "./routes/metrics.js";
import { pluginServices } from "./services/list.js";
import { TOOLS } from "./tools/list.js";
import { registerTool } from "./tools/register.js";

export { PLUGIN_ID };

/**
 * The OpenClaw plugin: agent tools over the library. `register()` runs more than once (discovery
 * and full mode), so it only registers; the link (connections, outbox) is built on first use.
 */
export default definePluginEntry({
  id: PLUGIN_ID,
  name: "Inter-instance messaging",
  description: "Send messages to OpenClaw instances on other machines, with fallback and a durable outbox.",
  register(api) {
    // `openclaw inter-instance …` runs in the CLI's own process, which loads plugins for their
    // commands only ("cli-metadata"); nothing else is needed there.
    api.registerCli(registerInterInstanceCli(api), { descriptors: [INTER_INSTANCE_CLI] });
    if (api.registrationMode === "cli-metadata") return;
    const parts = createPluginParts(api);
    for (const service of pluginServices(parts)) api.registerService(service);
    // ClawHub's Plugin Inspector captures the registrations with an api that names no plugin, which the
    // SDK's feature helper refuses ("Feature contract must belong to the registering plugin"): there the
    // Instances page is left out rather than failing the whole plugin. A Gateway always names it.
    if (api.id !== undefined) registerInstancesFeature(api, instancesFeatureDeps(parts));
    registerMetricsRoute(api, parts);
    registerDiscoverRoute(api, (timeoutMs) => findGateways(parts.config(), timeoutMs));
    for (const hook of pluginHooks(parts)) api.on(hook.name, hook.handler);
    for (const tool of TOOLS) registerTool(api, tool, parts);
  },
});
