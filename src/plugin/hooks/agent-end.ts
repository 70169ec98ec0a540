import type { ReplyRecorder } from "../services/nats-replies.js";
import type { PluginHook } from "./hook.js";

/** The answer of a turn that carried fleet messages goes back through the broker (ask over nats). */
export function agentEndHook(replies: ReplyRecorder): PluginHook<"agent_end"> {
  return { name: "agent_end", handler: (event, ctx) => replies.turnEnded(event.runId ?? ctx.runId, event.messages, event.success) };
}
