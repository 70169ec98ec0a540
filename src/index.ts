// The main entry: what a script that sends needs, kept cheap to import (heavy parts load on first
// use). Transports, the Gateway connection and the dispatcher's parts are on their own subpaths:
// `openclaw-inter-instance/transports`, `/gateway`, `/core`, `/schemas`.

export { loadConfigFile, parseConfig } from "./config/parse.js";
export {
  type A2aTarget,
  type GatewayTarget,
  type Instance,
  InstanceRegistry,
  type MessageToolTarget,
  type NodeTarget,
  normalizeName,
} from "./config/registry.js";
export {
  type Config,
  type ConfigInput,
  DEFAULT_TIMEOUTS_MS,
  DEFAULT_TRANSPORT_ORDER,
  type InboundAction,
  type NatsConfig,
  type SecretRef,
  TRANSPORT_IDS,
  type TransportId,
} from "./config/schema.js";
export { auditPath, outboxPath } from "./config/state-paths.js";
export type { CircuitState } from "./core/circuit-breaker.js";
export { canMove, DELIVERY_STATES, type DeliveryState, type DeliveryStatus, deliveryStatus, type Evidence, reached } from "./core/delivery-status.js";
export type {
  Attempt,
  AttemptError,
  AttemptOutcome,
  DeliveryReport,
  DispatcherOptions,
  FlushOptions,
  FollowUpStep,
  ProbeOptions,
  ProbeResult,
  Route,
  SendInput,
  SendOptions,
  Waiting,
} from "./core/dispatcher.js";
export { createEnvelope, type Envelope, type EnvelopeInput, MAX_BODY_BYTES } from "./core/envelope.js";
export { ERROR_CODES, type ErrorCode, type KnownErrorCode } from "./core/error-codes.js";
export {
  type FailureClass,
  FatalError,
  failureClassOf,
  InterInstanceError,
  TransientError,
  TransportError,
  TransportTimeoutError,
  UnavailableError,
  UnknownInstanceError,
  UnsuitableMessageError,
  ValidationError,
} from "./core/errors.js";
export type { QueuedEnvelope } from "./core/outbox.js";
export type { Task, TaskState } from "./core/task-book.js";
export {
  APPLIES,
  type Applicability,
  type Confirmation,
  type DeliveryContext,
  type FollowUp,
  notApplicable,
  type Receipt,
  type ReceiptStatus,
  type Transport,
} from "./core/transport.js";
export {
  type Beacon,
  DEFAULT_DISCOVERY_TIMEOUT_MS,
  type DiscoveredGateway,
  type DiscoverOptions,
  type DiscoveryResult,
  discoverGateways,
  type KnownGateway,
  type PinVerdict,
} from "./discovery/index.js";
export type { FileReceipt } from "./inbox/receipts.js";
export { createMessenger, type FleetView, type Messenger, type MessengerOptions } from "./messenger/create.js";
export { type InboundReason, LinkMetrics, type MetricSources } from "./metrics/link-metrics.js";
export { type Intent, parsePhrase, splitCommand } from "./phrase/parse.js";
export type { PresenceEntry } from "./transports/nats/presence.js";
export type { DeadLetter } from "./transports/nats/receiver.js";
export type { AskOptions, AskResult } from "./use-cases/ask.js";
export type { DelegateInput, DelegateResult, SettledTask } from "./use-cases/delegate.js";
export type { CheckStatus, DoctorCheck, DoctorReport } from "./use-cases/doctor/index.js";
export type { ExecInput, ExecResult, ExecStepsInput, ExecStepsResult } from "./use-cases/exec.js";
export type { GroupDelegateResult, GroupInput, GroupReport } from "./use-cases/groups.js";
export type { SyncFilesInput, SyncFilesResult, SyncProgress, SyncRepoInput, SyncRepoResult, SyncStep } from "./use-cases/sync.js";
export type { TrackedMessage, TrackOptions } from "./use-cases/track.js";
export { createLogger, type Logger, REDACT_PATHS } from "./util/log.js";
export { SecretSet, scrubSecrets } from "./util/redact.js";
