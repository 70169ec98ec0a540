import type { OpenClawPluginApi, OpenClawPluginService } from "openclaw/plugin-sdk/plugin-entry";
import { parseConfig } from "../config/parse.js";
import type { Config } from "../config/schema.js";
import { InboxWatcher } from "../inbox/watcher.js";
import { PLUGIN_ID } from "./id.js";
import type { MemoryEntry } from "../memory/entry.js";

export const INBOX_SERVICE_ID = "inter-instance-inbox";

/** "Seen" receipts come from the agent_turn_prepare hook, which OpenClaw runs for this plugin only with conversation access. */
export function seenReceiptsAllowed(config: unknown): boolean {
  const entry = (config as PluginEntries | undefined)?.plugins?.entries?.[PLUGIN_ID];
  return entry?.hooks?.allowConversationAccess === true;
}

/** What the agent reads: who sent it, the envelope id, and the body as written. */
export function inboxInjectionText(entry: MemoryEntry): string {
  return `Message from ${entry.from} (openclaw-inter-instance, id ${entry.id}, written ${entry.time} into your memory notes):\n${entry.body}`;
}

/**
 * The receiving side: watches this Gateway's daily notes for entries the memory-file transport
 * wrote, queues each once into the agent's next turn through OpenClaw's durable next-turn
 * injection (de-duplicated by envelope id), and asks for a heartbeat so that turn comes now.
 */
const RETRY_WAKE_INTERVAL_MS = 5_000;

type PluginEntries = { plugins?: { entries?: Record<string, { config?: unknown; hooks?: { allowConversationAccess?: boolean } }> } };

/** This plugin's registry as the committed Gateway config has it now (a reload restarts the service with it). */
function registryFrom(config: unknown, fallback: unknown): Config {
  return parseConfig((config as PluginEntries | undefined)?.plugins?.entries?.[PLUGIN_ID]?.config ?? fallback ?? {});
}

export function createInboxService(api: OpenClawPluginApi): OpenClawPluginService {
  let watcher: InboxWatcher | undefined;
  let sessionKey = "agent:main:main";
  // A queued entry always asks for a heartbeat (the host coalesces bursts). An entry that could not
  // be queued yet (no session) asks at most every few seconds, so its retries are no heartbeat storm.
  let lastRetryWakeAt = 0;
  const wake = (reason: string, retry: boolean): void => {
    if (retry && Date.now() - lastRetryWakeAt < RETRY_WAKE_INTERVAL_MS) return;
    if (retry) lastRetryWakeAt = Date.now();
    api.runtime.system.requestHeartbeat({ source: "other", intent: "immediate", reason, sessionKey });
  };
  const service: OpenClawPluginService = {
    id: INBOX_SERVICE_ID,
    // A changed registry (e.g. inbox.wake) restarts the service with the committed config.
    reload: { configPrefixes: [`plugins.entries.${PLUGIN_ID}.config`] },
    async start(ctx) {
      const { inbox } = registryFrom(ctx.config, api.pluginConfig);
      if (!inbox.enabled) return;
      sessionKey = inbox.sessionKey;
      const workspace = ctx.workspaceDir ?? api.runtime.agent.resolveAgentWorkspaceDir(ctx.config, "main");
      watcher = new InboxWatcher({
        workspace,
        sessionKey: inbox.sessionKey,
        pollMs: inbox.pollMs,
        resurfaceUnseen: seenReceiptsAllowed(ctx.config),
        onError: (error) => ctx.logger.warn(`inter-instance inbox: ${String(error)}`),
        surface: async (entry) => {
          const queued = await api.session.workflow.enqueueNextTurnInjection({
            sessionKey: inbox.sessionKey,
            text: inboxInjectionText(entry),
            idempotencyKey: `inter-instance:${entry.id}`,
            placement: "prepend_context",
            metadata: { envelopeId: entry.id, from: entry.from },
          });
          // No id: the session does not exist yet. A heartbeat creates it; the next scan queues again.
          if (!queued.id) {
            if (inbox.wake) wake(`waiting to deliver a message from ${entry.from}`, true);
            return false;
          }
          ctx.logger.info(`inter-instance inbox: message ${entry.id} from ${entry.from} queued for ${inbox.sessionKey}`);
          if (inbox.wake) wake(`message from ${entry.from}`, false);
          return true;
        },
      });
      await watcher.start();
      ctx.logger.info(`inter-instance inbox: watching ${workspace} for ${inbox.sessionKey} (wake ${inbox.wake ? "on" : "off"})`);
    },
    async stop() {
      await watcher?.stop();
      watcher = undefined;
    },
  };
  return service;
}
