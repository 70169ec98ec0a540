// The main entry: what a script that sends needs, kept cheap to import (heavy parts load on first
// use). Transports, the Gateway connection and the dispatcher's parts are on their own subpaths:
// `openclaw-inter-instance/transports`, `/gateway`, `/core`, `/schemas`.
export { createMessenger, type FleetView, type Messenger, type MessengerOptions } from "./messenger/create.js";
export { auditPath, outboxPath } from "./config/state-paths.js";
export type { PresenceEntry } from "./transports/nats/presence.js";
export type { DeadLetter } from "./transports/nats/receiver.js";
export type { QueuedEnvelope } from "./core/outbox.js";
export type { FlushOptions, Attempt, AttemptError, AttemptOutcome, DeliveryReport, DispatcherOptions, FollowUpStep, ProbeOptions, ProbeResult, Route, SendInput, SendOptions, Waiting } from "./core/dispatcher.js";
export type { CircuitState } from "./core/circuit-breaker.js";
export { parseConfig, loadConfigFile } from "./config/parse.js";
export { InstanceRegistry, normalizeName, type A2aTarget, type Instance, type GatewayTarget, type MessageToolTarget, type NodeTarget } from "./config/registry.js";
export { DEFAULT_TIMEOUTS_MS, DEFAULT_TRANSPORT_ORDER, TRANSPORT_IDS, type Config, type ConfigInput, type InboundAction, type NatsConfig, type SecretRef, type TransportId } from "./config/schema.js";
export { createEnvelope, MAX_BODY_BYTES, type Envelope, type EnvelopeInput } from "./core/envelope.js";
export {
  FatalError,
  InterInstanceError,
  TransientError,
  TransportError,
  TransportTimeoutError,
  UnavailableError,
  UnknownInstanceError,
  UnsuitableMessageError,
  ValidationError,
  failureClassOf,
  type FailureClass,
} from "./core/errors.js";
export { APPLIES, notApplicable, type Applicability, type Confirmation, type DeliveryContext, type FollowUp, type Receipt, type ReceiptStatus, type Transport } from "./core/transport.js";
export { ERROR_CODES, type ErrorCode, type KnownErrorCode } from "./core/error-codes.js";
export { canMove, deliveryStatus, DELIVERY_STATES, reached, type DeliveryState, type DeliveryStatus, type Evidence } from "./core/delivery-status.js";
export { createLogger, REDACT_PATHS, type Logger } from "./util/log.js";
export { SecretSet, scrubSecrets } from "./util/redact.js";
export { parsePhrase, splitCommand, type Intent } from "./phrase/parse.js";
export type { AskOptions, AskResult } from "./use-cases/ask.js";
export type { FileReceipt } from "./inbox/receipts.js";
export type { ExecInput, ExecResult, ExecStepsInput, ExecStepsResult } from "./use-cases/exec.js";
export type { SyncProgress, SyncFilesInput, SyncFilesResult, SyncRepoInput, SyncRepoResult, SyncStep } from "./use-cases/sync.js";
export type { CheckStatus, DoctorCheck, DoctorReport } from "./use-cases/doctor/index.js";
export type { DelegateInput, DelegateResult, SettledTask } from "./use-cases/delegate.js";
export type { GroupDelegateResult, GroupInput, GroupReport } from "./use-cases/groups.js";
export type { TrackedMessage, TrackOptions } from "./use-cases/track.js";
export type { Task, TaskState } from "./core/task-book.js";
