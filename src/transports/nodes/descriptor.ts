import type { TransportDescriptor } from "../descriptor.js";
import { NodesTransport } from "./transport.js";

/** A file written through the target machine's paired node host into the agent's incoming folder. */
export const nodes: TransportDescriptor<"nodes"> = {
  id: "nodes",
  defaultTimeoutMs: 30_000,
  minTimeoutMs: 10_000,
  inDefaultOrder: true,
  create: ({ pool }) => new NodesTransport(pool),
};
