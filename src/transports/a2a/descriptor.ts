import type { TransportDescriptor } from "../descriptor.js";
import { A2aTransport } from "./transport.js";

/** The target Gateway's A2A channel: a task per message, one at a time per conversation. Opt-in. */
export const a2a: TransportDescriptor<"a2a"> = {
  id: "a2a",
  defaultTimeoutMs: 120_000,
  minTimeoutMs: 30_000,
  inDefaultOrder: false,
  create: ({ registry, env, stateDir }) => new A2aTransport(registry.self, env, { stateDir }),
};
