import type { TransportDescriptor } from "../descriptor.js";
import { NatsTransport } from "./transport.js";

/** The fleet's NATS JetStream: a durable per-instance stream and consumer. Opt-in (needs `nats` in the config). */
export const nats: TransportDescriptor<"nats"> = {
  id: "nats",
  defaultTimeoutMs: 10_000,
  minTimeoutMs: 2_000,
  inDefaultOrder: false,
  create: ({ natsLease }) => new NatsTransport(natsLease),
};
