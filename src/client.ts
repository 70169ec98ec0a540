import type { DestinationStream, LevelWithSilent } from "pino";
import { ask, type AskOptions, type AskResult } from "./ask.js";
import { parseConfig } from "./config/parse.js";
import { InstanceRegistry } from "./config/registry.js";
import type { Config, ConfigInput } from "./config/schema.js";
import { join } from "node:path";
import { Dispatcher, type DeliveryReport, type FlushOptions, type ProbeOptions, type ProbeResult, type SendInput, type SendOptions } from "./dispatcher.js";
import { Outbox, type QueuedEnvelope } from "./outbox.js";
import { DeviceIdentityStore, defaultStateDir } from "./gateway/device-identity.js";
import { GatewayPool } from "./gateway/connection.js";
import { createLogger } from "./logger.js";
import { fileReceipts, type FileReceipt } from "./receipts.js";
import { SecretSet } from "./redact.js";
import type { Transport } from "./transport.js";
import { MessageToolTransport } from "./transports/message-tool.js";
import { MemoryFileTransport } from "./transports/memory-file.js";
import { A2aTransport } from "./transports/a2a.js";
import { AgentCliTransport } from "./transports/agent-cli.js";
import { SessionsSendTransport } from "./transports/sessions-send.js";
import { NodesTransport } from "./transports/nodes.js";
import { exec, execSteps, type ExecInput, type ExecResult, type ExecStepsInput, type ExecStepsResult } from "./exec.js";
import { doctor, type DoctorReport } from "./doctor.js";
import { syncFiles, syncRepo, type SyncDependencies, type SyncFilesInput, type SyncProgress, type SyncFilesResult, type SyncRepoInput, type SyncRepoResult } from "./sync.js";

export interface MessengerOptions {
  /** The instance registry, validated with zod (a parsed `Config` is accepted too). */
  readonly config: ConfigInput | Config;
  /** Log level and sink (default: info, to stderr). Tokens are redacted from every line. */
  readonly log?: { readonly level?: LevelWithSilent; readonly destination?: DestinationStream };
  readonly env?: NodeJS.ProcessEnv;
  /** Replace or extend the built-in transports (each is matched by its `id`). */
  readonly transports?: readonly Transport[];
  readonly retryMinTimeoutMs?: number;
}

export interface Messenger {
  readonly registry: InstanceRegistry;
  readonly dispatcher: Dispatcher;
  /** Sends a message to an instance by name or alias; resolves with the report of every attempt. */
  send(input: SendInput, options?: SendOptions): Promise<DeliveryReport>;
  /** Sends a message and waits for the target agent's answer to it. */
  ask(input: SendInput, options?: AskOptions): Promise<AskResult>;
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
  /** The durable queue of envelopes no transport could deliver. */
  readonly outbox: {
    /** The envelopes waiting, oldest first. */
    list(): Promise<QueuedEnvelope[]>;
    /** Retries them in arrival order per target. */
    flush(options?: FlushOptions): Promise<DeliveryReport[]>;
    /** Messages written into a memory file that the receiving agent has not seen yet (per the receiver's receipts). */
    unseen(): Promise<FileReceipt[]>;
  };
  /** The receiver's receipt for a message delivered into its memory file: written, surfaced or seen. */
  receipt(delivery: { readonly to: string; readonly id: string }): Promise<FileReceipt>;
  /** Closes kept-open connections and the outbox. */
  close(): Promise<void>;
}

/** Builds the registry, the Gateway connection pool, the transports and the dispatcher. */
export function createMessenger(options: MessengerOptions): Messenger {
  const env = options.env ?? process.env;
  const config = parseConfig(options.config);
  const registry = new InstanceRegistry(config, env);
  const secrets = new SecretSet();
  for (const secret of registry.secrets()) secrets.add(secret);
  const logger = createLogger({ secrets, ...options.log });
  const stateDir = config.stateDir ?? defaultStateDir(env);
  const pool = new GatewayPool(new DeviceIdentityStore(stateDir));
  let outbox: Promise<Outbox> | undefined;
  const openOutbox = config.outbox.enabled ? () => (outbox ??= Outbox.open(config.outbox.path ?? join(stateDir, "outbox.sqlite"))) : undefined;
  const nodes = new NodesTransport(pool);
  const builtIn: Transport[] = [
    new SessionsSendTransport(pool),
    nodes,
    new AgentCliTransport({ pool, bin: config.openclawCli.bin, stateDir: config.openclawCli.stateDir ?? join(stateDir, "openclaw-cli"), env }),
    new MemoryFileTransport(),
    new A2aTransport(registry.self, env),
    new MessageToolTransport(pool),
  ];
  const custom = new Map((options.transports ?? []).map((transport) => [transport.id, transport]));
  const transports = [...builtIn.filter((transport) => !custom.has(transport.id)), ...custom.values()];
  const dispatcher = new Dispatcher({
    registry,
    transports,
    logger,
    secrets,
    ...(options.retryMinTimeoutMs === undefined ? {} : { retryMinTimeoutMs: options.retryMinTimeoutMs }),
    ...(openOutbox ? { outbox: openOutbox } : {}),
  });
  const execDeps = { registry, nodeOf: (name: string) => nodes.host(registry.resolve(name)) };
  const syncDeps: SyncDependencies = { exec: (input) => exec(execDeps, input), nodeOf: execDeps.nodeOf, resolveName: (target) => registry.resolve(target).name };
  return {
    registry,
    dispatcher,
    send: (input, sendOptions) => dispatcher.send(input, sendOptions),
    ask: (input, askOptions) => ask({ registry, dispatcher, logger }, input, askOptions),
    exec: (input, execOptions) => exec(execDeps, input, execOptions),
    execSteps: (input, execOptions) => execSteps(execDeps, input, execOptions),
    doctor: (doctorOptions) => doctor({ registry, dispatcher, pool, nodeOf: execDeps.nodeOf, exec: (input) => exec(execDeps, input) }, doctorOptions),
    sync: { repo: (input) => syncRepo(syncDeps, input), files: (input, syncOptions) => syncFiles(syncDeps, input, syncOptions) },
    probe: (target, probeOptions) => dispatcher.probe(target, probeOptions),
    outbox: {
      list: async () => (openOutbox ? (await openOutbox()).list() : []),
      flush: (flushOptions) => dispatcher.flush(flushOptions),
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
    receipt: async ({ to, id }) => (await fileReceipts(registry.resolve(to), [id]))[0]!,
    close: async () => {
      await dispatcher.close();
      (await outbox?.catch(() => undefined))?.close();
    },
  };
}
