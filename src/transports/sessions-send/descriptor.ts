import type { TransportDescriptor } from "../descriptor.js";
import { SessionsSendTransport } from "./transport.js";

/** `sessions.send` on the target's Gateway: instant, followed up on the target's transcript. */
export const sessionsSend: TransportDescriptor<"sessions_send"> = {
  id: "sessions_send",
  defaultTimeoutMs: 15_000,
  minTimeoutMs: 5_000,
  inDefaultOrder: true,
  create: ({ pool }) => new SessionsSendTransport(pool),
};
