import type { TransportDescriptor } from "../descriptor.js";
import { MessageToolTransport } from "./transport.js";

/** A chat channel message (Telegram, Slack, …) sent by this side's Gateway: a person's channel, last resort. */
export const messageTool: TransportDescriptor<"message_tool"> = {
  id: "message_tool",
  defaultTimeoutMs: 30_000,
  minTimeoutMs: 10_000,
  inDefaultOrder: true,
  create: ({ pool }) => new MessageToolTransport(pool),
};
