import { frameForAgent } from "../../trust/frame.js";
import { pinnedKeysOf } from "../../trust/pins.js";
import { senderName } from "../gates/inbound.js";
import { gateSessionTurn } from "../gates/session.js";
import { heartbeatWaker, queueIntoNextTurn, type TurnTarget } from "../next-turn.js";
import type { PluginParts } from "../parts.js";
import { agentWorkspace } from "../workspace.js";
import type { PluginHook } from "./hook.js";

/**
 * The inbound policy gets the last word before the model reads a turn's messages: a turn holding a
 * message it holds or refuses is blocked, and OpenClaw keeps only our receipt line in its place.
 * What the turn also carried that may reach the agent is queued into its next turn.
 */
export function beforeAgentRunHook({
  api,
  config,
  gate,
  threads,
  settleReply,
}: Pick<PluginParts, "api" | "config" | "gate" | "threads" | "settleReply">): PluginHook<"before_agent_run"> {
  return {
    name: "before_agent_run",
    handler: (event, ctx) => {
      const target = (): TurnTarget => {
        const sessionKey = ctx.sessionKey ?? config().inbox.sessionKey;
        return { sessionKey, workspace: agentWorkspace(api, { workspaceDir: ctx.workspaceDir }), wake: heartbeatWaker(api, sessionKey) };
      };
      return gateSessionTurn(
        event.prompt,
        { sessionKey: ctx.sessionKey, runId: ctx.runId },
        {
          gate,
          threads,
          settleReply,
          pinned: pinnedKeysOf(config()),
          requeue: (message, verdict) => {
            const text = frameForAgent(verdict, message.id, message.body, "sent as a chat message").text;
            return queueIntoNextTurn(api, api.logger, target(), {
              id: message.id,
              from: senderName(verdict),
              text,
              conversation: message.conversation,
              hop: message.hop,
            });
          },
          requeueFrame: (frame) => queueIntoNextTurn(api, api.logger, target(), { id: frame.id, from: "a blocked turn", text: frame.text }),
        },
      );
    },
  };
}
