// `openclaw-inter-instance/transports`: each built-in transport, for a dispatcher of your own or to
// wrap one (`createMessenger({ transports })`), and the receiving side's memory-file and node parts.
export { BUILT_IN_TRANSPORTS } from "./transports/built-in.js";
export type { TransportDescriptor, TransportParts } from "./transports/descriptor.js";
export { SessionsSendTransport } from "./transports/sessions-send/transport.js";
export { formatSessionMessage } from "./transports/shared/session-message.js";
export { MemoryFileTransport } from "./transports/memory-file/transport.js";
export { appendEntry, dailyNotePath, type AppendResult } from "./transports/memory-file/append.js";
export { formatEntry, parseEntries, type MemoryEntry } from "./transports/memory-file/entry.js";
export { AgentCliTransport, AGENT_CLI_MAX_MESSAGE_BYTES, type AgentCliOptions } from "./transports/agent-cli/transport.js";
export { locateOpenclaw, type OpenclawCommand } from "./transports/agent-cli/locate-openclaw.js";
export { A2aTransport, A2A_MAX_TEXT_BYTES, a2aCall, a2aContextId, a2aTaskText, type A2aTask, type A2aTaskState } from "./transports/a2a/transport.js";
export { MessageToolTransport } from "./transports/message-tool/transport.js";
export { PASSIVE_DELIVERY_NOTE } from "./inbox/receipts.js";
export { InboxWatcher, type InboxWatcherOptions } from "./inbox/watcher.js";
export { InboxLedger, readReceipts, readPresence, type InboxRecord, type InboxState, type InboxPresence } from "./inbox/ledger.js";
export { MemoryScanner } from "./inbox/scanner.js";
export { NodesTransport, NODE_RECEIVER_NOTE } from "./transports/nodes/transport.js";
export { NodeHost, type NodeInfo, type RunOptions, type RunOutput, type WriteFileOptions, type WriteFileOutcome } from "./transports/nodes/node-host.js";
export { incomingDir, incomingPath } from "./transports/nodes/incoming.js";
