import { pinnedKeysOf } from "../../trust/pins.js";
import { turnVerdicts } from "../gates/session.js";
import type { PluginParts } from "../parts.js";
import { sessionFilesText } from "../session-files.js";
import { agentWorkspace } from "../workspace.js";
import type { PluginHook } from "./hook.js";

/**
 * Text that came in as a chat message (sessions_send, agent_cli, a2a) cannot be rewritten by a
 * plugin; the agent is told before it reads the turn which of its inter-instance headers are
 * signed by the key pinned for the sender they name. The decisions are the gate's, per copy (see
 * gates/session.ts); this hook also notes the turn's own text.
 */
export function beforePromptBuildHook({
  api,
  config,
  gate,
  warnHeld,
}: Pick<PluginParts, "api" | "config" | "gate" | "warnHeld">): PluginHook<"before_prompt_build"> {
  return {
    name: "before_prompt_build",
    handler: (event, ctx) => {
      const list = turnVerdicts(
        event.prompt,
        { sessionKey: ctx.sessionKey ?? config().inbox.sessionKey, runId: ctx.runId },
        { gate, pinned: pinnedKeysOf(config()) },
        warnHeld,
        (message) => sessionFilesText(event.prompt, message, agentWorkspace(api, { workspaceDir: ctx.workspaceDir })),
      );
      return list === undefined ? undefined : { prependContext: list };
    },
  };
}
