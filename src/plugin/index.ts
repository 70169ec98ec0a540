import { definePluginEntry } from "openclaw/plugin-sdk/plugin-entry";
import { createMessenger, type Messenger } from "../client.js";
import { parseConfig } from "../config/parse.js";
import { InboxLedger } from "../inbox/ledger.js";
import { PLUGIN_ID } from "./id.js";
import { createInboxService } from "./inbox-service.js";
import { createOutboxService } from "./outbox-service.js";
import { ASK_PARAMETERS, EXEC_PARAMETERS, instanceAsk, instanceExec, instanceSend, instanceStatus, instanceSync, SEND_PARAMETERS, STATUS_PARAMETERS, SYNC_PARAMETERS } from "./tools.js";

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
    let link: Messenger | undefined;
    const getLink = () => (link ??= createMessenger({ config: parseConfig(api.pluginConfig ?? {}) }));
    api.registerService(createInboxService(api));
    api.registerService(
      createOutboxService(getLink, () => {
        const config = parseConfig(api.pluginConfig ?? {});
        return config.outbox.enabled && Object.keys(config.instances).length > 0 ? config.outbox.retryMs : 0;
      }),
    );
    // A turn prepared with our injection carries it to the model: that is the "seen" receipt.
    // register() may run in several registries; the hook keeps no state of its own and reads the
    // ledger of the workspace the turn runs in.
    api.on("agent_turn_prepare", async (event, ctx) => {
      const ids = event.queuedInjections.flatMap((injection) => {
        const metadata = injection.metadata;
        if (injection.pluginId !== PLUGIN_ID || !metadata || typeof metadata !== "object" || Array.isArray(metadata)) return [];
        return typeof metadata.envelopeId === "string" ? [metadata.envelopeId] : [];
      });
      if (ids.length === 0 || !ctx.workspaceDir) return;
      const ledger = new InboxLedger(ctx.workspaceDir);
      await ledger.load();
      for (const id of ids) await ledger.record(id, "seen");
      api.logger.info(`inter-instance inbox: ${ids.length} message(s) in the prompt of ${ctx.sessionKey ?? "a turn"}`);
    });
    api.registerTool({
      name: "instance_send",
      label: "Message another OpenClaw instance",
      description:
        "Send a message to an agent on another machine's OpenClaw Gateway (by instance name or alias, e.g. 小m). Tries sessions_send, then the fallbacks; returns the delivery report.",
      parameters: SEND_PARAMETERS,
      execute: (_toolCallId: string, params: unknown) => instanceSend(getLink, params),
    });
    api.registerTool({
      name: "instance_ask",
      label: "Ask another OpenClaw instance",
      description:
        "Send a question to an agent on another machine's Gateway and wait for its answer (sessions_send, a2a or agent_cli). Returns the answer text and the delivery report.",
      parameters: ASK_PARAMETERS,
      execute: (_toolCallId: string, params: unknown) => instanceAsk(getLink, params),
    });
    api.registerTool({
      name: "instance_status",
      label: "Inter-instance status",
      description: "List the configured OpenClaw instances, their transports and messages waiting in the outbox; with check=true also probe every transport (doctor).",
      parameters: STATUS_PARAMETERS,
      execute: (_toolCallId: string, params: unknown) => instanceStatus(getLink, params),
    });
    // Commands and file writes on another machine: optional, so an operator opts in with tools.allow.
    api.registerTool(
      {
        name: "instance_exec",
        label: "Run a command on another instance's machine",
        description:
          "Run a program (argv array, no shell) on another OpenClaw instance's machine through the node host paired there; returns exit code, stdout and stderr. Proxy variables are unset unless keepProxy.",
        parameters: EXEC_PARAMETERS,
        execute: (_toolCallId: string, params: unknown) => instanceExec(getLink, params),
      },
      { optional: true },
    );
    api.registerTool(
      {
        name: "instance_sync",
        label: "Sync to another instance's machine",
        description:
          "Bring a git repository (https URL; cloned or fast-forwarded, optional symlink repointed and checked with readlink) or local files (SHA-256 checked) to another OpenClaw instance's machine.",
        parameters: SYNC_PARAMETERS,
        execute: (_toolCallId: string, params: unknown) => instanceSync(getLink, params),
      },
      { optional: true },
    );
  },
});
