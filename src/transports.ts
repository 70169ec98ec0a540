// `openclaw-inter-instance/transports`: each built-in transport, for a dispatcher of your own or to
// wrap one (`createMessenger({ transports })`), and the receiving side's memory-file and node parts.
export { SessionsSendTransport } from "./transports/sessions-send.js";
export { formatSessionMessage } from "./session-message.js";
export { MemoryFileTransport } from "./transports/memory-file.js";
export { appendEntry, dailyNotePath, type AppendResult } from "./memory/append.js";
export { formatEntry, parseEntries, type MemoryEntry } from "./memory/entry.js";
export { AgentCliTransport, AGENT_CLI_MAX_MESSAGE_BYTES, type AgentCliOptions } from "./transports/agent-cli.js";
export { locateOpenclaw, type OpenclawCommand } from "./cli-runner/locate.js";
export { A2aTransport, A2A_MAX_TEXT_BYTES, a2aCall, a2aContextId, a2aTaskText, type A2aTask, type A2aTaskState } from "./transports/a2a.js";
export { MessageToolTransport } from "./transports/message-tool.js";
export { PASSIVE_DELIVERY_NOTE } from "./receipts.js";
export { InboxWatcher, type InboxWatcherOptions } from "./inbox/watcher.js";
export { InboxLedger, readReceipts, readPresence, type InboxRecord, type InboxState, type InboxPresence } from "./inbox/ledger.js";
export { MemoryScanner } from "./inbox/scanner.js";
export { NodesTransport, NODE_RECEIVER_NOTE } from "./transports/nodes.js";
export { NodeHost, type NodeInfo, type RunOptions, type RunOutput, type WriteFileOptions, type WriteFileOutcome } from "./nodes/node-host.js";
export { incomingDir, incomingPath } from "./nodes/incoming.js";
