import type { OpenClawPluginApi, OpenClawPluginService } from "openclaw/plugin-sdk/plugin-entry";
import type { Config } from "../config/schema.js";
import { InboxWatcher } from "../inbox/watcher.js";
import { PLUGIN_ID } from "./id.js";
import type { MemoryEntry } from "../memory/entry.js";

export const INBOX_SERVICE_ID = "inter-instance-inbox";

/** "Seen" receipts come from the agent_turn_prepare hook, which OpenClaw runs for this plugin only with conversation access. */
export function seenReceiptsAllowed(config: unknown): boolean {
  const entry = (config as { plugins?: { entries?: Record<string, { hooks?: { allowConversationAccess?: boolean } }> } } | undefined)?.plugins?.entries?.[PLUGIN_ID];
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
export function createInboxService(api: OpenClawPluginApi, getConfig: () => Config): OpenClawPluginService {
  let watcher: InboxWatcher | undefined;
  // One heartbeat run at a time: messages that arrive during it are drained by the next one.
  let waking: Promise<void> | undefined;
  let wakeAgain = false;
  const wake = (reason: string): void => {
    if (waking) {
      wakeAgain = true;
      return;
    }
    waking = (async () => {
      do {
        wakeAgain = false;
        const result = await api.runtime.system.runHeartbeatOnce({ reason, sessionKey: getConfig().inbox.sessionKey, heartbeat: { target: "none" } });
        api.logger.info(`inter-instance inbox: heartbeat ${result.status}${"reason" in result ? ` (${result.reason})` : ""}`);
      } while (wakeAgain);
    })()
      .catch((error: unknown) => api.logger.warn(`inter-instance inbox: heartbeat failed: ${String(error)}`))
      .finally(() => {
        waking = undefined;
      });
  };
  const service: OpenClawPluginService = {
    id: INBOX_SERVICE_ID,
    async start(ctx) {
      const { inbox } = getConfig();
      if (!inbox.enabled) return;
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
          if (inbox.wake) wake(`message from ${entry.from}`);
          if (!queued.id) return false;
          ctx.logger.info(`inter-instance inbox: message ${entry.id} from ${entry.from} queued for ${inbox.sessionKey}`);
          return true;
        },
      });
      await watcher.start();
    },
    async stop() {
      await watcher?.stop();
      watcher = undefined;
    },
  };
  return service;
}
