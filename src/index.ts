export { createMessenger, outboxPath, type FleetView, type Messenger, type MessengerOptions } from "./client.js";
export type { PresenceEntry } from "./nats/presence.js";
export type { DeadLetter } from "./nats/receiver.js";
export { Outbox, type QueuedEnvelope } from "./core/outbox.js";
export { Dispatcher, type FlushOptions, type Attempt, type AttemptError, type AttemptOutcome, type DeliveryReport, type DispatcherOptions,
  type ProbeOptions,
  type ProbeResult, type SendInput, type SendOptions, type Waiting } from "./core/dispatcher.js";
export { CircuitBreaker, type CircuitState } from "./core/circuit-breaker.js";
export { parseConfig, loadConfigFile } from "./config/parse.js";
export { InstanceRegistry, normalizeName, type A2aTarget, type Instance, type GatewayTarget, type MessageToolTarget, type NodeTarget } from "./config/registry.js";
export { configSchema, DEFAULT_TIMEOUTS_MS, DEFAULT_TRANSPORT_ORDER, TRANSPORT_IDS, type Config, type ConfigInput, type NatsConfig, type SecretRef, type TransportId } from "./config/schema.js";
export { createEnvelope, envelopeSchema, MAX_BODY_BYTES, type Envelope, type EnvelopeInput } from "./core/envelope.js";
export {
  FatalError,
  InterInstanceError,
  TransientError,
  TransportError,
  TransportTimeoutError,
  UnavailableError,
  UnknownInstanceError,
  ValidationError,
  failureClassOf,
  type FailureClass,
} from "./core/errors.js";
export { APPLIES, notApplicable, type Applicability, type Confirmation, type DeliveryContext, type FollowUp, type Receipt, type ReceiptStatus, type Transport } from "./core/transport.js";
export { GatewayConnection, GatewayPool, type GatewayConnectionOptions, type RequestOptions } from "./gateway/connection.js";
export { DeviceIdentityStore, defaultStateDir, type DeviceIdentity } from "./gateway/device-identity.js";
export { decodeSetupCode, pairWithSetupCode, type PairOptions, type PairResult, type SetupCode } from "./gateway/pairing.js";
export { classifyGatewayError } from "./gateway/classify.js";
export { SessionsSendTransport } from "./transports/sessions-send.js";
export { formatSessionMessage } from "./session-message.js";
export { MemoryFileTransport } from "./transports/memory-file.js";
export { appendEntry, dailyNotePath, type AppendResult } from "./memory/append.js";
export { formatEntry, parseEntries, type MemoryEntry } from "./memory/entry.js";
export { createLogger, REDACT_PATHS, type Logger } from "./logger.js";
export { SecretSet, scrubSecrets } from "./redact.js";
export { parsePhrase, splitCommand, type Intent } from "./phrase.js";
export { AgentCliTransport, AGENT_CLI_MAX_MESSAGE_BYTES, type AgentCliOptions } from "./transports/agent-cli.js";
export { locateOpenclaw, type OpenclawCommand } from "./cli-runner/locate.js";
export { A2aTransport, A2A_MAX_TEXT_BYTES, a2aCall, a2aContextId, a2aTaskText, type A2aTask, type A2aTaskState } from "./transports/a2a.js";
export { MessageToolTransport } from "./transports/message-tool.js";
export { DEFAULT_ASK_TIMEOUT_MS, type AskOptions, type AskResult } from "./use-cases/ask.js";
export { PASSIVE_DELIVERY_NOTE, type FileReceipt } from "./receipts.js";
export { InboxWatcher, type InboxWatcherOptions } from "./inbox/watcher.js";
export { InboxLedger, readReceipts, readPresence, type InboxRecord, type InboxState, type InboxPresence } from "./inbox/ledger.js";
export { MemoryScanner } from "./inbox/scanner.js";
export { NodesTransport, NODE_RECEIVER_NOTE } from "./transports/nodes.js";
export { NodeHost, type NodeInfo, type RunOptions, type RunOutput, type WriteFileOptions, type WriteFileOutcome } from "./nodes/node-host.js";
export { incomingDir, incomingPath } from "./nodes/incoming.js";
export { PROXY_VARIABLES, withoutProxy, type ExecInput, type ExecResult, type ExecStepsInput, type ExecStepsResult } from "./use-cases/exec.js";
export { httpsAlternative, syncFiles, syncRepo, type SyncProgress, type SyncFilesInput, type SyncFilesResult, type SyncRepoInput, type SyncRepoResult, type SyncStep } from "./use-cases/sync.js";
export { doctor, MIN_TIMEOUTS_MS, type CheckStatus, type DoctorCheck, type DoctorReport } from "./use-cases/doctor.js";
export { DEFAULT_TASK_DEADLINE_MS, type DelegateInput, type DelegateResult, type SettledTask } from "./use-cases/delegate.js";
export { GROUP_CONCURRENCY, memberId, type GroupDelegateResult, type GroupInput, type GroupReport } from "./use-cases/groups.js";
export type { TrackedMessage, TrackOptions } from "./use-cases/track.js";
export { canMove, deliveryStatus, DELIVERY_STATES, reached, type DeliveryState, type DeliveryStatus, type Evidence } from "./core/delivery-status.js";
export type { Task, TaskState } from "./core/task-book.js";
export type { InboundAction } from "./config/schema.js";
