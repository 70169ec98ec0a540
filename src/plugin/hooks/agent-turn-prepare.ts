import { InboxLedger } from "../../inbox/ledger.js";
import { PLUGIN_ID } from "../id.js";
import type { PluginParts } from "../parts.js";
import type { ReplyRecorder } from "../services/nats-replies.js";
import type { PluginHook } from "./hook.js";

/**
 * A turn prepared with our injection carries it to the model: that is the "seen" receipt.
 * register() may run in several registries; the hook keeps no state of its own and reads the
 * ledger of the workspace the turn runs in. It also notes the conversation the turn continues and,
 * for fleet messages, the run whose answer goes back.
 */
export function agentTurnPrepareHook({ api, threads }: Pick<PluginParts, "api" | "threads">, replies: ReplyRecorder): PluginHook<"agent_turn_prepare"> {
  return {
    name: "agent_turn_prepare",
    handler: async (event, ctx) => {
      const ours = event.queuedInjections.flatMap((injection) => {
        const metadata = injection.metadata;
        if (injection.pluginId !== PLUGIN_ID || !metadata || typeof metadata !== "object" || Array.isArray(metadata)) return [];
        if (typeof metadata.envelopeId !== "string") return [];
        const thread =
          typeof metadata.conversation === "string" && typeof metadata.hop === "number"
            ? { conversation: metadata.conversation, hop: metadata.hop, peer: String(metadata.from) }
            : undefined;
        return [{ id: metadata.envelopeId, viaNats: metadata.via === "nats", thread }];
      });
      threads.turnStarted(
        ctx.sessionKey,
        ours.flatMap((injection) => (injection.thread ? [injection.thread] : [])),
      );
      const ids = ours.map((injection) => injection.id);
      replies.turnPrepared(
        ctx.runId,
        ours.filter((injection) => injection.viaNats).map((injection) => injection.id),
      );
      if (ids.length === 0 || !ctx.workspaceDir) return;
      const ledger = new InboxLedger(ctx.workspaceDir);
      await ledger.load();
      for (const id of ids) await ledger.record(id, "seen");
      api.logger.info(`inter-instance inbox: ${ids.length} message(s) in the prompt of ${ctx.sessionKey ?? "a turn"}`);
    },
  };
}
