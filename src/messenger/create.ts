import type { DestinationStream, LevelWithSilent } from "pino";
import type { AskOptions, AskResult } from "../use-cases/ask.js";
import { parseConfig } from "../config/parse.js";
import { InstanceRegistry } from "../config/registry.js";
import { normalizeName } from "../config/names.js";
import type { Config, ConfigInput } from "../config/schema.js";
import { outboxPath } from "../config/state-paths.js";
import { MessagingKeyStore, type MessagingKey } from "../trust/messaging-key.js";
import { signEnvelope } from "../trust/sign-envelope.js";
import { auditWriter } from "../audit/inbound.js";
import { outboundEntry } from "../audit/entries.js";
import { Dispatcher, type DeliveryReport, type FlushOptions, type FollowUpStep, type ProbeOptions, type ProbeResult, type Route, type SendInput, type SendOptions, type Waiting } from "../core/dispatcher.js";
import { Outbox, type QueuedEnvelope } from "../core/outbox.js";
import { DeviceIdentityStore, defaultStateDir } from "../gateway/device-identity.js";
import { GatewayPool } from "../gateway/connection.js";
import { LinkLatency } from "../gateway/link-latency.js";
import { createLogger } from "../util/log.js";
import { fileReceipts, type FileReceipt } from "../inbox/receipts.js";
import { SecretSet } from "../util/redact.js";
import type { Transport } from "../core/transport.js";
import { BUILT_IN_TRANSPORTS } from "../transports/built-in.js";
import { nodeHostOf } from "../transports/nodes/transport.js";
import { leaseFleet, type NatsFleet } from "../transports/nats/fleet.js";
import type { PresenceEntry } from "../transports/nats/presence.js";
import type { DeadLetter } from "../transports/nats/receiver.js";
import { createEnvelope, type Envelope } from "../core/envelope.js";
import { InterInstanceError, UnknownInstanceError } from "../core/errors.js";
import type { Task } from "../core/task-book.js";
import type { DelegateInput, DelegateResult, SettledTask } from "../use-cases/delegate.js";
import type { GroupDelegateResult, GroupInput, GroupReport } from "../use-cases/groups.js";
import type { TrackedMessage, TrackOptions } from "../use-cases/track.js";
import type { ExecInput, ExecResult, ExecStepsInput, ExecStepsResult } from "../use-cases/exec.js";
import type { DoctorReport } from "../use-cases/doctor/index.js";
import { openclawConfigPath } from "../use-cases/doctor/plaintext-credentials.js";
import type { SyncDependencies, SyncFilesInput, SyncProgress, SyncFilesResult, SyncRepoInput, SyncRepoResult } from "../use-cases/sync.js";

export interface MessengerOptions {
  /** The instance registry, validated with zod (a parsed `Config` is accepted too). */
  readonly config: ConfigInput | Config;
  /** Log level and sink (default: info, to stderr). Tokens are redacted from every line. */
  readonly log?: { readonly level?: LevelWithSilent; readonly destination?: DestinationStream };
  readonly env?: NodeJS.ProcessEnv;
  /** Replace or extend the built-in transports (each is matched by its `id`). */
  readonly transports?: readonly Transport[];
  readonly retryMinTimeoutMs?: number;
  /** Called when an envelope starts to wait in the outbox (queued, or accepted and followed up by `flush`). */
  readonly onWaiting?: () => void;
  /**
   * Told when a message is lost for good: the target dropped it after accepting it and the bounded
   * redeliveries did not get it there (it is also logged at error level, in the audit log and in `track`).
   */
  readonly onLost?: (report: DeliveryReport, envelope: Envelope) => void;
  /**
   * Where the config lives, so the fixes errors give name the right setting: `file` (default), the
   * CLI's JSON registry; `plugin`, inside OpenClaw (`plugins.entries.inter-instance.config`, set with `openclaw config set`).
   */
  readonly configuredIn?: "file" | "plugin";
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
  waitFor(id: string, goal: "accepted" | "delivered" | "seen" | "answered", options?: { timeoutMs?: number; signal?: AbortSignal; pollMs?: number }): Promise<TrackedMessage[]>;
  /** Delegated tasks: follow them once (their answers, their deadlines), and the results still to bring to a session. */
  readonly tasks: {
    follow(options?: { signal?: AbortSignal }): Promise<SettledTask[]>;
    get(id: string): Promise<Task | undefined>;
    open(): Promise<Task[]>;
    toBring(): Promise<Task[]>;
    markBrought(task: Pick<Task, "id" | "target">): Promise<void>;
    /** An answer that came back as a verified message with `replyTo`: settles that task. */
    answerByReply(reply: { replyTo: string; from: string; body: string }): Promise<Task | undefined>;
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
  /** Closes kept-open connections and the outbox; calling it again waits for the same close. */
  close(): Promise<void>;
  /** `close()`, for `await using link = createMessenger(…)`. */
  [Symbol.asyncDispose](): Promise<void>;
}

/** The fleet member a name or alias means (matched as the registry matches names), if present. */
async function fleetMember(fleet: NatsFleet, nameOrAlias: string): Promise<PresenceEntry | undefined> {
  const wanted = normalizeName(nameOrAlias);
  const members = await fleetMembers(fleet).catch(() => []);
  return members.find((member) => [member.name, ...member.aliases].some((label) => normalizeName(label) === wanted));
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

// The use cases load with their first call: a script that only sends never pays for the others.
const useCases = {
  ask: () => import("../use-cases/ask.js"),
  delegate: () => import("../use-cases/delegate.js"),
  groups: () => import("../use-cases/groups.js"),
  track: () => import("../use-cases/track.js"),
  exec: () => import("../use-cases/exec.js"),
  sync: () => import("../use-cases/sync.js"),
  doctor: () => import("../use-cases/doctor/index.js"),
};
const fleetMembers = async (fleet: NatsFleet) => (await import("../transports/nats/presence.js")).fleetMembers(fleet);

/** Builds the registry, the Gateway connection pool, the transports and the dispatcher. */
export function createMessenger(options: MessengerOptions): Messenger {
  const env = options.env ?? process.env;
  const config = parseConfig(options.config);
  const registry = new InstanceRegistry(config, env);
  const secrets = new SecretSet();
  for (const secret of registry.secrets()) secrets.add(secret);
  const logger = createLogger({ secrets, ...options.log });
  const stateDir = config.stateDir ?? defaultStateDir(env);
  const pool = new GatewayPool(new DeviceIdentityStore(stateDir), new LinkLatency(stateDir), options.configuredIn ? { configuredIn: options.configuredIn } : {});
  let outbox: Promise<Outbox> | undefined;
  let closing: Promise<void> | undefined;
  const openOutbox = config.outbox.enabled ? () => (outbox ??= Outbox.open(outboxPath(config, env))) : undefined;
  const natsLease = config.nats ? leaseFleet(config.nats, env) : undefined;
  const natsFleet = natsLease?.fleet;
  // Idempotent: every caller waits for the same close.
  const close = () =>
    (closing ??= (async () => {
      await dispatcher.close();
      (await outbox?.catch(() => undefined))?.close();
      await writeAudit.close();
    })());
  const parts = { config, registry, env, stateDir, pool, natsLease };
  const custom = new Map((options.transports ?? []).map((transport) => [transport.id, transport]));
  const transports = [...BUILT_IN_TRANSPORTS.filter((descriptor) => !custom.has(descriptor.id)).map((descriptor) => descriptor.create(parts)), ...custom.values()];
  const keys = new MessagingKeyStore(stateDir);
  let signingKey: MessagingKey | null | undefined;
  const sign = (envelope: Envelope): Envelope => {
    if (signingKey === undefined) {
      try {
        signingKey = keys.key();
      } catch (error) {
        // Unsigned is still delivered; the receiver shows it as unverified.
        signingKey = null;
        logger.warn({ path: keys.path, error: error instanceof Error ? error.message : String(error) }, "cannot read or create the messaging key: messages go out unsigned");
      }
    }
    return signingKey ? signEnvelope(envelope, signingKey) : envelope;
  };
  const writeAudit = auditWriter(config, env, (path, error) =>
    logger.warn({ path, error: error instanceof Error ? error.message : String(error) }, "cannot write the audit log"),
  );
  const recordReport = (envelope: Envelope, report: DeliveryReport) => writeAudit.write(outboundEntry(envelope, report, signingKey != null, config.audit.bodies));
  const dispatcher = new Dispatcher({
    registry,
    transports,
    logger,
    secrets,
    sign,
    onReport: recordReport,
    ...(options.retryMinTimeoutMs === undefined ? {} : { retryMinTimeoutMs: options.retryMinTimeoutMs }),
    ...(openOutbox ? { outbox: openOutbox } : {}),
    ...(options.onWaiting ? { onWaiting: options.onWaiting } : {}),
    ...(options.onLost ? { onLost: (envelope: Envelope, report: DeliveryReport) => options.onLost?.(report, envelope) } : {}),
  });
  const requireOutbox = async (): Promise<Outbox> => {
    if (!openOutbox) throw new InterInstanceError("Delegated tasks are kept in the outbox, which this config turns off.", { code: "NO_OUTBOX", hint: "Set outbox.enabled to true (the default)." });
    return openOutbox();
  };
  const taskDeps = () => ({ registry, dispatcher, logger, outbox: requireOutbox });
  const trackDeps = () => ({ ...taskDeps(), fileReceipt: async (to: string, id: string) => (await fileReceipts(registry.resolve(to), [id]))[0]! });
  const execDeps = { registry, nodeOf: (name: string) => nodeHostOf(pool, registry.resolve(name)) };
  const exec = async (input: ExecInput, execOptions?: { signal?: AbortSignal }) => (await useCases.exec()).exec(execDeps, input, execOptions);
  const syncDeps: SyncDependencies = { exec: (input) => exec(input), nodeOf: execDeps.nodeOf, resolveName: (target) => registry.resolve(target).name };
  const delegateOne = async (input: DelegateInput) => (await useCases.delegate()).delegate(taskDeps(), input);
  const trackOne = async (id: string, trackOptions?: TrackOptions) => (await useCases.track()).track(trackDeps(), id, trackOptions);
  return {
    registry,
    dispatcher,
    send: async (input, sendOptions) => {
      try {
        return await dispatcher.send(input, sendOptions);
      } catch (error) {
        // Not configured here, but present in the fleet: reached by nats alone.
        const member = error instanceof UnknownInstanceError && natsFleet ? await fleetMember(natsFleet, input.to) : undefined;
        if (!member) throw error;
        const instance = new InstanceRegistry(parseConfig({ self: config.self, instances: { [member.name]: { aliases: [...member.aliases], transports: ["nats"] } } }), env).resolve(member.name);
        // Not queued: the outbox retries only instances of the config.
        return dispatcher.deliver(createEnvelope({ to: member.name, body: input.body, from: registry.self, id: input.id, conversation: input.conversation, hop: input.hop }), instance, { ...sendOptions, queue: false });
      }
    },
    ask: async (input, askOptions) => (await useCases.ask()).ask({ registry, dispatcher, logger }, input, askOptions),
    delegate: delegateOne,
    track: trackOne,
    waitFor: async (id, goal, waitOptions) => (await useCases.track()).waitFor((trackOptions) => trackOne(id, trackOptions), goal, waitOptions),
    tasks: {
      follow: async (followOptions) => (await useCases.delegate()).followTasks(taskDeps(), followOptions),
      get: async (id) => (await requireOutbox()).tasks.get(id),
      open: async () => (await requireOutbox()).tasks.open(),
      toBring: async () => (await requireOutbox()).tasks.toBring(),
      markBrought: async ({ id, target }) => (await requireOutbox()).tasks.markBrought(id, target),
      answerByReply: async (reply) => (await useCases.delegate()).answerByReply({ outbox: requireOutbox }, reply),
    },
    groups: {
      send: async (input, sendOptions) => (await useCases.groups()).sendToGroup({ registry, dispatcher }, input, sendOptions),
      delegate: async (input) => (await useCases.groups()).delegateToGroup(registry, delegateOne, input),
    },
    exec,
    execSteps: async (input, execOptions) => (await useCases.exec()).execSteps(execDeps, input, execOptions),
    doctor: async (doctorOptions) =>
      (await useCases.doctor()).doctor({ registry, dispatcher, pool, nodeOf: execDeps.nodeOf, exec: (input) => exec(input), openclawConfigPath: openclawConfigPath(env), ...(natsFleet ? { fleetMembers: () => fleetMembers(natsFleet) } : {}) }, doctorOptions),
    sync: {
      repo: async (input) => (await useCases.sync()).syncRepo(syncDeps, input),
      files: async (input, syncOptions) => (await useCases.sync()).syncFiles(syncDeps, input, syncOptions),
    },
    probe: (target, probeOptions) => dispatcher.probe(target, probeOptions),
    route: (target) => dispatcher.route(target),
    outbox: {
      list: async () => (openOutbox ? (await openOutbox()).list() : []),
      waiting: () => dispatcher.waiting(),
      flush: (flushOptions) => dispatcher.flush(flushOptions),
      followUp: (followOptions) => dispatcher.followUp(followOptions),
      settle: (reports, settleOptions) => dispatcher.settle(reports, settleOptions),
      settleAll: (settleOptions) => dispatcher.settleAll(settleOptions),
      drop: async (id) => (openOutbox ? (await openOutbox()).remove(id) : false),
      unseen: async () => {
        if (!openOutbox) return [];
        const byTarget = Map.groupBy((await openOutbox()).written(), (row) => row.target);
        const receipts = await Promise.all(
          [...byTarget].flatMap(([target, rows]) => {
            const instance = registry.find(target);
            return instance ? [fileReceipts(instance, rows.map((row) => row.id))] : [];
          }),
        );
        return receipts.flat().filter((receipt) => receipt.state !== "seen");
      },
    },
    fleet: natsFleet && {
      name: natsFleet.config.fleet,
      members: () => fleetMembers(natsFleet),
      deadLetters: async (instance = registry.self) => (await import("../transports/nats/receiver.js")).deadLetters(natsFleet, instance),
      replay: async (seq, instance = registry.self) => (await import("../transports/nats/receiver.js")).replayDeadLetter(natsFleet, instance, seq),
    },
    receipt: async ({ to, id }) => (await fileReceipts(registry.resolve(to), [id]))[0]!,
    close,
    [Symbol.asyncDispose]: close,
  };
}
