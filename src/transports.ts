// `openclaw-inter-instance/transports`: each built-in transport, for a dispatcher of your own or to
// wrap one (`createMessenger({ transports })`), and the receiving side's memory-file and node parts.

export { InboxLedger, type InboxPresence, type InboxRecord, type InboxState, readPresence, readReceipts } from "./inbox/ledger.js";
export { PASSIVE_DELIVERY_NOTE } from "./inbox/receipts.js";
export { MemoryScanner } from "./inbox/scanner.js";
export { InboxWatcher, type InboxWatcherOptions } from "./inbox/watcher.js";
export { A2A_MAX_TEXT_BYTES, type A2aTask, type A2aTaskState, A2aTransport, a2aCall, a2aContextId, a2aTaskText } from "./transports/a2a/transport.js";
export { locateOpenclaw, type OpenclawCommand } from "./transports/agent-cli/locate-openclaw.js";
export { AGENT_CLI_MAX_MESSAGE_BYTES, type AgentCliOptions, AgentCliTransport } from "./transports/agent-cli/transport.js";
export { BUILT_IN_TRANSPORTS } from "./transports/built-in.js";
export type { TransportDescriptor, TransportParts } from "./transports/descriptor.js";
export { type AppendResult, appendEntry, dailyNotePath } from "./transports/memory-file/append.js";
export { formatEntry, type MemoryEntry, parseEntries } from "./transports/memory-file/entry.js";
export { MemoryFileTransport } from "./transports/memory-file/transport.js";
export { MessageToolTransport } from "./transports/message-tool/transport.js";
export { incomingDir, incomingPath } from "./transports/nodes/incoming.js";
export { NodeHost, type NodeInfo, type RunOptions, type RunOutput, type WriteFileOptions, type WriteFileOutcome } from "./transports/nodes/node-host.js";
export { NODE_RECEIVER_NOTE, NodesTransport } from "./transports/nodes/transport.js";
export { SessionsSendTransport } from "./transports/sessions-send/transport.js";
export { formatSessionMessage } from "./transports/shared/session-message.js";
