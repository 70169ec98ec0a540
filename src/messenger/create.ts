import { outboundEntry } from "../audit/entries.js";
import { auditWriter } from "../audit/inbound.js";
import { parseConfig } from "../config/parse.js";
import { InstanceRegistry } from "../config/registry.js";
import { outboxPath } from "../config/state-paths.js";
import { CircuitBreaker } from "../core/circuit-breaker.js";
import { type DeliveryReport, Dispatcher } from "../core/dispatcher.js";
import { createEnvelope, type Envelope } from "../core/envelope.js";
import { InterInstanceError, UnknownInstanceError } from "../core/errors.js";
import { Outbox } from "../core/outbox.js";
import { GatewayPool } from "../gateway/connection.js";
import { DeviceIdentityStore, defaultStateDir } from "../gateway/device-identity.js";
import { LinkLatency } from "../gateway/link-latency.js";
import { fileReceipts } from "../inbox/receipts.js";
import { LinkMetrics } from "../metrics/link-metrics.js";
import { BUILT_IN_TRANSPORTS } from "../transports/built-in.js";
import { leaseFleet, type NatsFleet } from "../transports/nats/fleet.js";
import { nodeHostOf } from "../transports/nodes/transport.js";
import type { DelegateInput } from "../use-cases/delegate.js";
import { openclawConfigPath } from "../use-cases/doctor/plaintext-credentials.js";
import type { ExecInput } from "../use-cases/exec.js";
import type { SyncDependencies } from "../use-cases/sync.js";
import type { TrackOptions } from "../use-cases/track.js";
import { adoptLogger, createLogger, type Logger } from "../util/log.js";
import { SecretSet } from "../util/redact.js";
import type { Messenger, MessengerOptions } from "./api.js";
import { fleetMember, fleetMembers, fleetView } from "./fleet.js";
import { attachTaskPlumbing } from "./internals.js";
import { outboxView } from "./outbox-view.js";
import { signer } from "./signer.js";

export type { FleetView, Messenger, MessengerOptions } from "./api.js";

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

/** What the use cases are built from: assembled once per messenger. */
interface Parts {
  readonly env: NodeJS.ProcessEnv;
  readonly config: ReturnType<typeof parseConfig>;
  readonly registry: InstanceRegistry;
  readonly logger: Logger;
  readonly pool: GatewayPool;
  readonly dispatcher: Dispatcher;
  readonly openOutbox: (() => Promise<Outbox>) | undefined;
  readonly natsFleet: NatsFleet | undefined;
  readonly metrics: LinkMetrics;
  readonly close: () => Promise<void>;
}

/** Builds the registry, the Gateway connection pool, the transports and the dispatcher, and offers the use cases over them. */
export function createMessenger(options: MessengerOptions): Messenger {
  const parts = assemble(options);
  const { registry, dispatcher } = parts;
  const useCase = useCaseCalls(parts);
  const messenger: Messenger = {
    registry,
    dispatcher,
    send: useCase.send,
    ask: async (input, askOptions) => (await useCases.ask()).ask({ registry, dispatcher, logger: parts.logger }, input, askOptions),
    delegate: useCase.delegate,
    track: useCase.track,
    waitFor: async (id, goal, waitOptions) => (await useCases.track()).waitFor((trackOptions) => useCase.track(id, trackOptions), goal, waitOptions),
    tasks: {
      follow: async (followOptions) => (await useCases.delegate()).followTasks(useCase.taskDeps(), followOptions),
      get: async (id) => (await useCase.requireOutbox()).tasks.get(id),
      open: async () => (await useCase.requireOutbox()).tasks.open(),
    },
    groups: {
      send: async (input, sendOptions) => (await useCases.groups()).sendToGroup({ registry, dispatcher }, input, sendOptions),
      delegate: async (input) => (await useCases.groups()).delegateToGroup(registry, useCase.delegate, input),
    },
    exec: useCase.exec,
    execSteps: async (input, execOptions) => (await useCases.exec()).execSteps(useCase.execDeps, input, execOptions),
    doctor: useCase.doctor,
    sync: {
      repo: async (input) => (await useCases.sync()).syncRepo(useCase.syncDeps, input),
      files: async (input, syncOptions) => (await useCases.sync()).syncFiles(useCase.syncDeps, input, syncOptions),
    },
    probe: (target, probeOptions) => dispatcher.probe(target, probeOptions),
    route: (target) => dispatcher.route(target),
    outbox: outboxView(dispatcher, registry, parts.openOutbox),
    fleet: parts.natsFleet && fleetView(parts.natsFleet, registry),
    receipt: async ({ to, id }) => (await fileReceipts(registry.resolve(to), [id]))[0]!,
    metrics: () => parts.metrics.text(),
    close: parts.close,
    [Symbol.asyncDispose]: parts.close,
  };
  return attachTaskPlumbing(messenger, {
    toBring: async () => (await useCase.requireOutbox()).tasks.toBring(),
    markBrought: async ({ id, target }) => (await useCase.requireOutbox()).tasks.markBrought(id, target),
    answerByReply: async (reply) => (await useCases.delegate()).answerByReply({ outbox: useCase.requireOutbox }, reply),
  });
}

function assemble(options: MessengerOptions): Parts {
  const env = options.env ?? process.env;
  const config = parseConfig(options.config);
  const registry = new InstanceRegistry(config, env);
  const secrets = new SecretSet();
  for (const secret of registry.secrets()) secrets.add(secret);
  const logger = options.logger
    ? adoptLogger(options.logger, secrets)
    : createLogger({
        secrets,
        ...(options.log?.level ? { level: options.log.level } : {}),
        ...(options.log?.destination ? { destination: options.log.destination } : {}),
      });
  const stateDir = config.stateDir ?? defaultStateDir(env);
  const pool = new GatewayPool(
    new DeviceIdentityStore(stateDir),
    new LinkLatency(stateDir),
    options.configuredIn ? { configuredIn: options.configuredIn } : {},
  );
  let outbox: Promise<Outbox> | undefined;
  const openOutbox = config.outbox.enabled ? () => (outbox ??= Outbox.open(outboxPath(config, env))) : undefined;
  const natsLease = config.nats ? leaseFleet(config.nats, env) : undefined;
  const custom = new Map((options.transports ?? []).map((transport) => [transport.id, transport]));
  const transportParts = { config, registry, env, stateDir, pool, natsLease };
  const transports = [
    ...BUILT_IN_TRANSPORTS.filter((descriptor) => !custom.has(descriptor.id)).map((descriptor) => descriptor.create(transportParts)),
    ...custom.values(),
  ];
  const signing = signer(stateDir, logger);
  const writeAudit = auditWriter(config, env, (path, error) =>
    logger.warn({ path, error: error instanceof Error ? error.message : String(error) }, "cannot write the audit log"),
  );
  const metrics = options.metrics ?? new LinkMetrics();
  const circuitBreaker = new CircuitBreaker(registry.circuitCooldownMs);
  metrics.watch({
    depths: async () => (openOutbox ? (await openOutbox()).depths() : []),
    circuits: () =>
      registry
        .list()
        .flatMap((instance) =>
          instance.transports.map((transport) => ({ instance: instance.name, transport, open: circuitBreaker.state(instance.name, transport).open })),
        ),
  });
  const dispatcher = new Dispatcher({
    registry,
    transports,
    logger,
    secrets,
    circuitBreaker,
    sign: (envelope) => signing.sign(envelope),
    onReport: (envelope, report, origin) => {
      metrics.observeReport(report, origin);
      writeAudit.write(outboundEntry(envelope, report, signing.signing, config.audit.bodies));
    },
    retryMinTimeoutMs: options.retryMinTimeoutMs,
    outbox: openOutbox,
    onWaiting: options.onWaiting,
    onLost: options.onLost && ((envelope: Envelope, report: DeliveryReport) => options.onLost?.(report, envelope)),
  });
  let closing: Promise<void> | undefined;
  // Idempotent: every caller waits for the same close.
  const close = () =>
    (closing ??= dispatcher.close(async () => {
      (await outbox?.catch(() => undefined))?.close();
      await writeAudit.close();
    }));
  return { env, config, registry, logger, pool, dispatcher, openOutbox, natsFleet: natsLease?.fleet, metrics, close };
}

/** The use cases that other calls build on (send with the fleet's fallback, delegate, track, exec, sync, doctor) and their dependencies. */
function useCaseCalls({ env, config, registry, logger, pool, dispatcher, openOutbox, natsFleet }: Parts) {
  const requireOutbox = async (): Promise<Outbox> => {
    if (!openOutbox)
      throw new InterInstanceError("Delegated tasks are kept in the outbox, which this config turns off.", {
        code: "NO_OUTBOX",
        hint: "Set outbox.enabled to true (the default).",
      });
    return openOutbox();
  };
  const taskDeps = () => ({ registry, dispatcher, logger, outbox: requireOutbox });
  const trackDeps = () => ({ ...taskDeps(), fileReceipt: async (to: string, id: string) => (await fileReceipts(registry.resolve(to), [id]))[0]! });
  const execDeps = { registry, nodeOf: (name: string) => nodeHostOf(pool, registry.resolve(name)) };
  const exec = async (input: ExecInput, execOptions?: { signal?: AbortSignal }) => (await useCases.exec()).exec(execDeps, input, execOptions);
  const syncDeps: SyncDependencies = { exec: (input) => exec(input), nodeOf: execDeps.nodeOf, resolveName: (target) => registry.resolve(target).name };
  const send: Messenger["send"] = async (input, sendOptions) => {
    try {
      return await dispatcher.send(input, sendOptions);
    } catch (error) {
      // Not configured here, but present in the fleet: reached by nats alone.
      const member = error instanceof UnknownInstanceError && natsFleet ? await fleetMember(natsFleet, input.to) : undefined;
      if (!member) throw error;
      const instance = new InstanceRegistry(
        parseConfig({ self: config.self, instances: { [member.name]: { aliases: [...member.aliases], transports: ["nats"] } } }),
        env,
      ).resolve(member.name);
      // Not queued: the outbox retries only instances of the config.
      return dispatcher.deliver(
        createEnvelope({ to: member.name, body: input.body, from: registry.self, id: input.id, conversation: input.conversation, hop: input.hop }),
        instance,
        { ...sendOptions, queue: false },
      );
    }
  };
  const doctor: Messenger["doctor"] = async (doctorOptions) =>
    (await useCases.doctor()).doctor(
      {
        registry,
        dispatcher,
        pool,
        nodeOf: execDeps.nodeOf,
        exec: (input) => exec(input),
        openclawConfigPath: openclawConfigPath(env),
        ...(natsFleet ? { fleetMembers: () => fleetMembers(natsFleet) } : {}),
      },
      doctorOptions,
    );
  return {
    requireOutbox,
    taskDeps,
    execDeps,
    syncDeps,
    exec,
    send,
    doctor,
    delegate: async (input: DelegateInput) => (await useCases.delegate()).delegate(taskDeps(), input),
    track: async (id: string, trackOptions?: TrackOptions) => (await useCases.track()).track(trackDeps(), id, trackOptions),
  };
}
