import type { DestinationStream, LevelWithSilent, Logger } from "pino";
import type { InstanceRegistry } from "../config/registry.js";
import type { Config, ConfigInput } from "../config/schema.js";
import type {
  DeliveryReport,
  Dispatcher,
  FlushOptions,
  FollowUpStep,
  ProbeOptions,
  ProbeResult,
  Route,
  SendInput,
  SendOptions,
  Waiting,
} from "../core/dispatcher.js";
import type { Envelope } from "../core/envelope.js";
import type { QueuedEnvelope } from "../core/outbox.js";
import type { Task } from "../core/task-book.js";
import type { Transport } from "../core/transport.js";
import type { FileReceipt } from "../inbox/receipts.js";
import type { LinkMetrics } from "../metrics/link-metrics.js";
import type { PresenceEntry } from "../transports/nats/presence.js";
import type { DeadLetter } from "../transports/nats/receiver.js";
import type { AskOptions, AskResult } from "../use-cases/ask.js";
import type { DelegateInput, DelegateResult, SettledTask } from "../use-cases/delegate.js";
import type { DoctorReport } from "../use-cases/doctor/index.js";
import type { ExecInput, ExecResult, ExecStepsInput, ExecStepsResult } from "../use-cases/exec.js";
import type { GroupDelegateResult, GroupInput, GroupReport } from "../use-cases/groups.js";
import type { SyncFilesInput, SyncFilesResult, SyncProgress, SyncRepoInput, SyncRepoResult } from "../use-cases/sync.js";
import type { TrackedMessage, TrackOptions } from "../use-cases/track.js";

export interface MessengerOptions {
  /** The instance registry, validated with zod (a parsed `Config` is accepted too). */
  readonly config: ConfigInput | Config;
  /** Log level and sink (default: info, to stderr). Tokens are redacted from every line. */
  readonly log?: { readonly level?: LevelWithSilent | undefined; readonly destination?: DestinationStream } | undefined;
  /** Your pino logger instead: the library logs through a child of it, with the same redaction (\`log\` is then ignored). */
  readonly logger?: Logger | undefined;
  readonly env?: NodeJS.ProcessEnv | undefined;
  /** Replace or extend the built-in transports (each is matched by its `id`). */
  readonly transports?: readonly Transport[] | undefined;
  readonly retryMinTimeoutMs?: number | undefined;
  /** Called when an envelope starts to wait in the outbox (queued, or accepted and followed up by `flush`). */
  readonly onWaiting?: (() => void) | undefined;
  /**
   * Told when a message is lost for good: the target dropped it after accepting it and the bounded
   * redeliveries did not get it there (it is also logged at error level, in the audit log and in `track`).
   */
  readonly onLost?: ((report: DeliveryReport, envelope: Envelope) => void) | undefined;
  /**
   * Where the config lives, so the fixes errors give name the right setting: `file` (default), the
   * CLI's JSON registry; `plugin`, inside OpenClaw (`plugins.entries.inter-instance.config`, set with `openclaw config set`).
   */
  readonly configuredIn?: "file" | "plugin" | undefined;
  /** Where the link counts what it does (the plugin shares one with its inbound gate); a registry of its own by default. */
  readonly metrics?: LinkMetrics | undefined;
}

export interface Messenger {
  readonly registry: InstanceRegistry;
  readonly dispatcher: Dispatcher;
  /** Sends a message to an instance by name or alias; resolves with the report of every attempt. */
  send(input: SendInput, options?: SendOptions): Promise<DeliveryReport>;
  /** Sends a message and waits for the target agent's answer to it. */
  ask(input: SendInput, options?: AskOptions): Promise<AskResult>;
  /** Hands a task to another instance's agent and returns at once; the answer is followed (`tasks`, `track`). */
  delegate(input: DelegateInput): Promise<DelegateResult>;
  /** Where a message stands (one entry per target it went to), with the evidence; see `DeliveryState`. */
  track(id: string, options?: TrackOptions): Promise<TrackedMessage[]>;
  /** Waits until a message got at least this far (or can no longer), up to `timeoutMs`. */
  waitFor(
    id: string,
    goal: "accepted" | "delivered" | "seen" | "answered",
    options?: { timeoutMs?: number; signal?: AbortSignal; pollMs?: number },
  ): Promise<TrackedMessage[]>;
  /** Delegated tasks: follow them once (their answers, their deadlines), and look them up. */
  readonly tasks: {
    follow(options?: { signal?: AbortSignal }): Promise<SettledTask[]>;
    get(id: string): Promise<Task | undefined>;
    open(): Promise<Task[]>;
  };
  /** Groups (`groups` in the config; `all`): one envelope per member, a report per member. */
  readonly groups: {
    send(input: GroupInput, options?: SendOptions): Promise<GroupReport>;
    delegate(input: GroupInput & Omit<DelegateInput, "to" | "body" | "id" | "group">): Promise<GroupDelegateResult>;
  };
  /** Runs an argv on the instance's machine through its paired node (no shell); proxy variables unset unless `keepProxy`. */
  exec(input: ExecInput, options?: { signal?: AbortSignal }): Promise<ExecResult>;
  /** Runs argv steps in order there, stopping at the first failure (which step is reported). */
  execSteps(input: ExecStepsInput, options?: { signal?: AbortSignal }): Promise<ExecStepsResult>;
  readonly sync: {
    /** Clones or fast-forwards a git checkout on the instance's machine over HTTPS; optionally repoints a symlink and verifies it. */
    repo(input: SyncRepoInput): Promise<SyncRepoResult>;
    /** Copies local files there through its node, each checked by SHA-256. */
    files(input: SyncFilesInput, options?: { signal?: AbortSignal; onProgress?: (progress: SyncProgress) => void }): Promise<SyncFilesResult>;
  };
  /** The troubleshooting checklist for every instance (or one): each check passes or says what to fix. */
  doctor(options?: { instance?: string }): Promise<DoctorReport>;
  /** Checks each transport of an instance without sending; a dead one is skipped by the next messages. */
  probe(target: string, options?: ProbeOptions): Promise<ProbeResult[]>;
  /** The transport a message to this target would take now, and why the ones before it are passed over; nothing is sent. */
  route(target: string): Route;
  /** The durable queue of envelopes no transport could deliver. */
  readonly outbox: {
    /** The envelopes waiting, oldest first. */
    list(): Promise<QueuedEnvelope[]>;
    /** How many wait (queued for a retry, accepted but not yet seen to run), and when the first queued one is due. */
    waiting(): Promise<Waiting>;
    /** Follows up what targets accepted (then retries what waits), in arrival order per target. */
    flush(options?: FlushOptions): Promise<DeliveryReport[]>;
    /** Follows up, once, what targets accepted and nobody has seen run: a lost one is sent again (bounded), a delivered one let go. */
    followUp(options?: { signal?: AbortSignal }): Promise<FollowUpStep[]>;
    /** Waits up to `timeoutMs` for the evidence that settles these accepted reports (see `Dispatcher.settle`). */
    settle(reports: readonly DeliveryReport[], options: { timeoutMs: number; signal?: AbortSignal }): Promise<DeliveryReport[]>;
    /** `settle` for everything this outbox holds as accepted and not yet seen run, whoever sent it (see `Dispatcher.settleAll`). */
    settleAll(options: { timeoutMs: number; signal?: AbortSignal }): Promise<DeliveryReport[]>;
    /** Drops a waiting message for good (every target it waits for); false when none waits with that id. */
    drop(id: string): Promise<boolean>;
    /** Messages written into a memory file that the receiving agent has not seen yet (per the receiver's receipts). */
    unseen(): Promise<FileReceipt[]>;
  };
  /** The NATS fleet (`nats` in the config): who is present, and this fleet's dead letters. Undefined without one. */
  readonly fleet: FleetView | undefined;
  /** The receiver's receipt for a message delivered into its memory file: written, surfaced or seen. */
  receipt(delivery: { readonly to: string; readonly id: string }): Promise<FileReceipt>;
  /**
   * Its numbers in the Prometheus text format: outbox depth and oldest waiting message per target,
   * sends by transport and status, outbox tries, delivery latency, redeliveries, dead letters, open
   * circuits (and, in the plugin, what came in). Counters count what this process did.
   */
  metrics(): Promise<string>;
  /** Closes kept-open connections and the outbox; calling it again waits for the same close. */
  close(): Promise<void>;
  /** `close()`, for `await using link = createMessenger(…)`. */
  [Symbol.asyncDispose](): Promise<void>;
}

export interface FleetView {
  readonly name: string;
  /** Every instance that announced itself within the presence TTL, by name. */
  members(): Promise<PresenceEntry[]>;
  /** Messages an instance's consumer gave up on (default: this instance), oldest first. */
  deadLetters(instance?: string): Promise<DeadLetter[]>;
  /** Sends a dead letter to its instance again and removes it from the dead letters. */
  replay(seq: number, instance?: string): Promise<Envelope>;
}
