import type { PluginParts } from "../parts.js";
import { seenReceiptsAllowed } from "../services/inbox.js";
import { createReplyRecorder } from "../services/nats-replies.js";
import { agentEndHook } from "./agent-end.js";
import { agentTurnPrepareHook } from "./agent-turn-prepare.js";
import { beforeAgentRunHook } from "./before-agent-run.js";
import { beforeMessageWriteHook } from "./before-message-write.js";
import { beforePromptBuildHook } from "./before-prompt-build.js";
import type { PluginHook } from "./hook.js";

/**
 * The plugin's hooks. OpenClaw blocks (with a warning) agent_turn_prepare for plugins without
 * conversation access, so they are only registered when the operator granted it; without them,
 * file deliveries stay "surfaced".
 */
export function pluginHooks(parts: PluginParts): readonly PluginHook[] {
  if (!seenReceiptsAllowed(parts.api.config)) return [];
  const replies = createReplyRecorder(parts.resolvedConfig, (line) => parts.api.logger.warn(line));
  return [agentTurnPrepareHook(parts, replies), agentEndHook(replies), beforePromptBuildHook(parts), beforeMessageWriteHook(parts), beforeAgentRunHook(parts)];
}
