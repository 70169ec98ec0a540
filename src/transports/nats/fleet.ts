import { readFileSync } from "node:fs";
import type { ConsumerInfo, JetStreamClient, JetStreamManager } from "@nats-io/jetstream";
import type { KV } from "@nats-io/kv";
import type { ObjectStore } from "@nats-io/obj";
import type { NatsConnection, NodeConnectionOptions } from "@nats-io/transport-node";
import type { NatsConfig } from "../../config/schema.js";
import { resolveSecret } from "../../config/secret-source.js";
import { UnavailableError } from "../../core/errors.js";

const NANOS_PER_MS = 1_000_000;

/** The names one fleet uses on its servers. Instance names are valid subject tokens by the config's own rule. */
export const fleetNames = (fleet: string) => ({
  stream: `IIM_${fleet}`,
  subjects: `iim.${fleet}.>`,
  inbox: (instance: string) => `iim.${fleet}.${instance}`,
  deadLetters: (instance: string) => `iim.${fleet}.dead.${instance}`,
  consumer: (instance: string) => `iim-${instance}`,
  presence: `iim-${fleet}-presence`,
  receipts: `iim-${fleet}-receipts`,
  /** The answer of the turn that carried an envelope, by receiptKey(id): what `ask` over nats waits for. */
  replies: `iim-${fleet}-replies`,
  /** The object store of message files: one object per file of a waiting message (see files.ts). */
  files: `iim-${fleet}-files`,
});

/** Replies are fetched within minutes by the asker; the bucket forgets them after a day. */
export const REPLY_TTL_MS = 86_400_000;

export interface StoredReply {
  readonly text: string;
  readonly by: string;
  readonly at: string;
}

/** An envelope id as a KV key (ids may hold ':', keys may not). */
export const receiptKey = (envelopeId: string) => Buffer.from(envelopeId, "utf8").toString("base64url");

// The NATS client loads on first use: importing the library (a CLI call per message) does not pay for it.
async function connectionOptions(config: NatsConfig, env: NodeJS.ProcessEnv): Promise<NodeConnectionOptions> {
  const { credsAuthenticator, nkeyAuthenticator } = await import("@nats-io/transport-node");
  const options: NodeConnectionOptions = { servers: config.servers, name: "openclaw-inter-instance", maxReconnectAttempts: -1, reconnectTimeWait: 2_000 };
  const auth = config.auth;
  if (auth && "credsFile" in auth) options.authenticator = credsAuthenticator(readFileSync(auth.credsFile));
  else if (auth && "nkeySeedFile" in auth) options.authenticator = nkeyAuthenticator(new TextEncoder().encode(readFileSync(auth.nkeySeedFile, "utf8").trim()));
  else if (auth && "user" in auth) {
    const password = resolveSecret({ tokenEnv: auth.passwordEnv, tokenFile: auth.passwordFile }, "nats.auth.password", env);
    if (!password?.value)
      throw new UnavailableError(`No NATS password: ${password?.missing?.reason ?? "none configured"}.`, {
        code: "NO_TOKEN",
        hint: password?.missing?.fix ?? "Set nats.auth.passwordEnv or passwordFile.",
      });
    options.user = auth.user;
    options.pass = password.value;
  } else if (auth) {
    const token = resolveSecret(auth, "nats.auth", env);
    if (!token?.value)
      throw new UnavailableError(`No NATS token: ${token?.missing?.reason ?? "none configured"}.`, {
        code: "NO_TOKEN",
        hint: token?.missing?.fix ?? "Set nats.auth.token, tokenEnv or tokenFile.",
      });
    options.token = token.value;
  }
  if (config.tls) options.tls = Object.fromEntries(Object.entries(config.tls).filter(([, value]) => value !== undefined));
  return options;
}

/** A NATS failure as this library's error, with the fix: bad credentials, or servers out of reach. */
export function natsUnavailable(config: NatsConfig, error: unknown): UnavailableError {
  const message = error instanceof Error ? error.message : String(error);
  const auth = /authori[sz]ation|authentication/iu.test(message);
  return new UnavailableError(`NATS ${config.servers.join(", ")}: ${message}`, {
    code: auth ? "NATS_AUTH_FAILED" : "NATS_UNREACHABLE",
    cause: error,
    hint: auth
      ? "Check nats.auth: the credentials must be a user of those servers' account."
      : "Check that nats-server runs with JetStream (-js) at nats.servers and that this machine can dial it out.",
  });
}

/**
 * One kept-open connection to a fleet's NATS servers, shared by the transport, the receiver and
 * the presence registry; it reconnects by itself. The fleet's stream (file storage, a duplicate
 * window for `Nats-Msg-Id`) is created on first use if it does not exist.
 */
export class NatsFleet {
  readonly config: NatsConfig;
  readonly names: ReturnType<typeof fleetNames>;
  readonly #env: NodeJS.ProcessEnv;
  #connection: Promise<NatsConnection> | undefined;
  #stream: Promise<void> | undefined;
  #client: { readonly connection: NatsConnection; readonly client: JetStreamClient } | undefined;
  readonly #buckets = new Map<string, Promise<KV>>();
  #files: Promise<ObjectStore> | undefined;

  constructor(config: NatsConfig, env: NodeJS.ProcessEnv = process.env) {
    this.config = config;
    this.names = fleetNames(config.fleet);
    this.#env = env;
  }

  connection(): Promise<NatsConnection> {
    this.#connection ??= (async () => (await import("@nats-io/transport-node")).connect(await connectionOptions(this.config, this.#env)))().catch(
      (error: unknown) => {
        this.#connection = undefined;
        throw error instanceof UnavailableError ? error : natsUnavailable(this.config, error);
      },
    );
    return this.#connection;
  }

  async jetstream(): Promise<JetStreamClient> {
    const connection = await this.connection();
    this.#stream ??= this.#ensureStream(connection).catch((error: unknown) => {
      this.#stream = undefined;
      throw error;
    });
    await this.#stream;
    // One client per connection: each send asked for one, and building it was a cost per message.
    if (this.#client?.connection !== connection) this.#client = { connection, client: (await import("@nats-io/jetstream")).jetstream(connection) };
    return this.#client.client;
  }

  async manager(): Promise<JetStreamManager> {
    const connection = await this.connection();
    return (await import("@nats-io/jetstream")).jetstreamManager(connection);
  }

  /** The durable consumer an instance's plugin reads from, if it joined. */
  async consumerInfo(instance: string): Promise<ConsumerInfo | undefined> {
    return (await this.manager()).consumers.info(this.names.stream, this.names.consumer(instance)).catch(() => undefined);
  }

  async #ensureStream(connection: NatsConnection): Promise<void> {
    const { jetstreamManager, JetStreamApiError, RetentionPolicy, StorageType } = await import("@nats-io/jetstream");
    const manager = await jetstreamManager(connection).catch((error: unknown) => {
      throw new UnavailableError(`NATS ${this.config.servers.join(", ")} has no JetStream: ${String(error)}`, {
        code: "NATS_NO_JETSTREAM",
        hint: "Start nats-server with JetStream enabled (-js, or `jetstream {}` in its config).",
      });
    });
    const wanted = {
      subjects: [this.names.subjects],
      storage: StorageType.File,
      retention: RetentionPolicy.Limits,
      duplicate_window: this.config.duplicateWindowMs * NANOS_PER_MS,
    };
    try {
      const info = await manager.streams.info(this.names.stream);
      if (info.config.duplicate_window < wanted.duplicate_window)
        await manager.streams.update(this.names.stream, { duplicate_window: wanted.duplicate_window });
    } catch (error) {
      if (!(error instanceof JetStreamApiError) || error.status !== 404) throw error;
      await manager.streams.add({ name: this.names.stream, ...wanted });
    }
  }

  /** A KV bucket of the fleet (created if missing; `ttlMs` ages its entries out). */
  bucket(name: string, ttlMs?: number): Promise<KV> {
    let bucket = this.#buckets.get(name);
    if (!bucket) {
      bucket = this.connection().then(async (connection) =>
        new (await import("@nats-io/kv")).Kvm(connection).create(name, { history: 1, ...(ttlMs ? { ttl: ttlMs } : {}) }),
      );
      bucket.catch(() => this.#buckets.delete(name));
      this.#buckets.set(name, bucket);
    }
    return bucket;
  }

  /** The fleet's object store of message files (created if missing, file storage, no age limit: see files.ts). */
  files(): Promise<ObjectStore> {
    this.#files ??= this.connection()
      .then(async (connection) => {
        const { Objm, StorageType } = await import("@nats-io/obj");
        return new Objm(connection).create(this.names.files, { storage: StorageType.File });
      })
      .catch((error: unknown) => {
        this.#files = undefined;
        throw error instanceof UnavailableError ? error : natsUnavailable(this.config, error);
      });
    return this.#files;
  }

  async close(): Promise<void> {
    this.#files = undefined;
    const connection = await this.#connection?.catch(() => undefined);
    this.#connection = undefined;
    await connection?.drain().catch(() => connection.close());
  }
}

/** A hold on a process-wide fleet connection; `release` closes it when no one else holds it. */
export interface FleetLease {
  readonly fleet: NatsFleet;
  release(): Promise<void>;
}

const held = new WeakMap<NodeJS.ProcessEnv, Map<string, { fleet: NatsFleet; holders: number }>>();

/**
 * The fleet connection for this config, shared in the process: inside a Gateway the plugin's
 * receiver and its messenger use one connection to the broker, as sends share the Gateway pool.
 */
export function leaseFleet(config: NatsConfig, env: NodeJS.ProcessEnv = process.env): FleetLease {
  let byConfig = held.get(env);
  if (!byConfig) held.set(env, (byConfig = new Map()));
  const key = JSON.stringify(config);
  const hold = byConfig.get(key) ?? { fleet: new NatsFleet(config, env), holders: 0 };
  byConfig.set(key, hold);
  hold.holders += 1;
  let released = false;
  return {
    fleet: hold.fleet,
    release: async () => {
      if (released) return;
      released = true;
      hold.holders -= 1;
      if (hold.holders > 0) return;
      byConfig.delete(key);
      await hold.fleet.close();
    },
  };
}
