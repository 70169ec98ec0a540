import { pinnedKeysOf } from "../../trust/pins.js";
import { rewrittenContent, storedText } from "../gates/session.js";
import type { PluginParts } from "../parts.js";
import type { PluginHook } from "./hook.js";

/**
 * A chat message that holds messages the policy keeps from the agent is stored with each of them
 * replaced by its receipt line: on sessions.send that stored text is the prompt, and a queued
 * turn's stored text is history the agent would read later.
 */
export function beforeMessageWriteHook({ config, gate, warnHeld }: Pick<PluginParts, "config" | "gate" | "warnHeld">): PluginHook<"before_message_write"> {
  return {
    name: "before_message_write",
    handler: (event, ctx) => {
      if (event.message.role !== "user") return undefined;
      const sessionKey = event.sessionKey ?? ctx.sessionKey ?? config().inbox.sessionKey;
      const pinned = pinnedKeysOf(config());
      // The Gateway key of this chat message (`<key>:user`): the turn hooks know it as their run id.
      const key = (event.message as { idempotencyKey?: unknown }).idempotencyKey;
      const messageKey = typeof key === "string" && key !== "" ? key.replace(/:user$/u, "") : undefined;
      let changed = false;
      const rewrite = (text: string): string => {
        const rewritten = storedText(text, { sessionKey, messageKey }, { gate, pinned }, warnHeld);
        if (rewritten !== text) changed = true;
        return rewritten;
      };
      const content = rewrittenContent(event.message.content, rewrite);
      return changed ? { message: { ...event.message, content } as typeof event.message } : undefined;
    },
  };
}
