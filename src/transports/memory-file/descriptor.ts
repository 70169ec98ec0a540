import type { TransportDescriptor } from "../descriptor.js";
import { MemoryFileTransport } from "./transport.js";

/** An entry appended to the target's daily memory note on a shared or synced folder: passive, read at its next turn. */
export const memoryFile: TransportDescriptor<"memory_file"> = {
  id: "memory_file",
  defaultTimeoutMs: 10_000,
  minTimeoutMs: 2_000,
  inDefaultOrder: true,
  create: () => new MemoryFileTransport(),
};
