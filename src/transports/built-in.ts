import { a2a } from "./a2a/descriptor.js";
import { agentCli } from "./agent-cli/descriptor.js";
import type { TransportDescriptor } from "./descriptor.js";
import { memoryFile } from "./memory-file/descriptor.js";
import { messageTool } from "./message-tool/descriptor.js";
import { nats } from "./nats/descriptor.js";
import { nodes } from "./nodes/descriptor.js";
import { sessionsSend } from "./sessions-send/descriptor.js";

/**
 * Every built-in transport, in the default priority order (the seed skill's: instant RPC first, the
 * passive memory file and the human channel last). The config schema, `createMessenger` and
 * `doctor` read this list; adding a transport is a folder and a line here (CONTRIBUTING.md).
 */
export const BUILT_IN_TRANSPORTS = [sessionsSend, nodes, agentCli, memoryFile, messageTool, a2a, nats] as const;

export type TransportId = (typeof BUILT_IN_TRANSPORTS)[number]["id"];

const byId = <T>(value: (descriptor: TransportDescriptor) => T) =>
  Object.fromEntries(BUILT_IN_TRANSPORTS.map((descriptor) => [descriptor.id, value(descriptor)])) as Record<TransportId, T>;

export const TRANSPORT_IDS = BUILT_IN_TRANSPORTS.map((descriptor) => descriptor.id) as unknown as readonly [TransportId, ...TransportId[]];
export const DEFAULT_TRANSPORT_ORDER: readonly TransportId[] = BUILT_IN_TRANSPORTS.filter((descriptor) => descriptor.inDefaultOrder).map(
  (descriptor) => descriptor.id,
);
export const DEFAULT_TIMEOUTS_MS: Readonly<Record<TransportId, number>> = byId((descriptor) => descriptor.defaultTimeoutMs);
export const MIN_TIMEOUTS_MS: Readonly<Record<TransportId, number>> = byId((descriptor) => descriptor.minTimeoutMs);
