import type { z } from "zod";
import { once } from "../util/lazy.js";
import { credentialParameters } from "../util/redact.js";
import { zod, type ZodApi } from "../util/zod.js";

export const TRANSPORT_IDS = ["sessions_send", "nodes", "agent_cli", "memory_file", "message_tool", "a2a", "nats"] as const;
export type TransportId = (typeof TRANSPORT_IDS)[number];

/** The seed skill's order: instant RPC first, the passive memory file and the human channel last. */
export const DEFAULT_TRANSPORT_ORDER: readonly TransportId[] = ["sessions_send", "nodes", "agent_cli", "memory_file", "message_tool"];

/** Per-attempt budgets. The agent CLI waits for a whole agent turn, which the seed measured at 60–120 s. */
export const DEFAULT_TIMEOUTS_MS: Readonly<Record<TransportId, number>> = {
  sessions_send: 15_000,
  nodes: 30_000,
  agent_cli: 120_000,
  memory_file: 10_000,
  message_tool: 30_000,
  a2a: 120_000,
  nats: 10_000,
};

const INSTANCE_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/u;
const SESSION_KEY = /^agent:[^:\s]+:\S+$/u;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/u;

function isTimeZone(value: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: value });
    return true;
  } catch {
    return false;
  }
}

/**
 * Where an instance's config holds a credential (`<field>.token`), besides `nats.auth.token`: the
 * plugin manifest declares these as SecretRef inputs, the plugin resolves them, doctor checks them.
 */
export const CREDENTIAL_FIELDS = ["gateway", "a2a", "messageTool.gateway", "node.gateway"] as const;

const INBOUND_DEFAULTS = { unverified: "hold" as const, ratePerHour: 120, maxHops: 8, hopWindowMs: 3_600_000, maxAgeMs: 86_400_000 };

/** The config schemas, built on first use (see `zod()`). */
export const configSchemas = once(() => buildSchemas(zod()));

function buildSchemas(z: ZodApi) {
  const transportIdSchema = z.enum(TRANSPORT_IDS);
  const timeoutsSchema = z.partialRecord(transportIdSchema, z.number().int().positive().max(3_600_000));

  /**
   * An OpenClaw SecretRef (`docs/gateway/secrets`): inside a Gateway the plugin's manifest declares
   * these paths, so the Gateway resolves them before the plugin reads its config and redacts them in
   * its config views. Outside a Gateway only `source: "env"` can be resolved (from the environment).
   */
  const secretRefSchema = z
    .object({
      source: z.enum(["env", "file", "exec", "store"]),
      provider: z.string().regex(/^[a-z][a-z0-9_-]{0,63}$/u, 'must be a secrets provider alias such as "default"'),
      id: z.string().min(1),
    })
    .strict();

  /** A credential given inline (plaintext or a SecretRef), by environment variable, or by file: one of them. */
  const secretFields = {
    token: z.union([z.string().min(1), secretRefSchema]).optional(),
    tokenEnv: z.string().regex(ENV_NAME, "must be an environment variable name").optional(),
    /** A file holding only the token (trailing newline ignored); keep it readable by this user alone. */
    tokenFile: z.string().min(1).optional(),
  };
  type SecretFields = { token?: unknown; tokenEnv?: string | undefined; tokenFile?: string | undefined };
  const secretCount = (value: SecretFields) => [value.token, value.tokenEnv, value.tokenFile].filter((field) => field !== undefined).length;
  const exactlyOneSecret: [(value: SecretFields) => boolean, { message: string; path: string[] }] = [
    (value) => secretCount(value) === 1,
    { message: "set exactly one of token, tokenEnv or tokenFile", path: ["token"] },
  ];
  /** A Gateway credential is optional: without one, the device token stored when this machine paired (`pair`) is used. */
  const atMostOneSecret: [(value: SecretFields) => boolean, { message: string; path: string[] }] = [
    (value) => secretCount(value) <= 1,
    { message: "set at most one of token, tokenEnv or tokenFile (none: the device token from pairing)", path: ["token"] },
  ];

  /** `?token=…`, `?auth=…`, `?password=…` in a URL: refused like user-info, naming the parameters and where the secret goes. */
  const noQueryCredentials = (where: string) => ({
    error: (issue: { readonly input?: unknown }) => {
      const names = credentialParameters(String(issue.input)).map((name) => `"${name}"`);
      return `must not carry credentials in its query string (${names.join(", ")}); remove ${names.length === 1 ? "that parameter" : "those parameters"} and put the secret in ${where}`;
    },
  });
  const withoutQueryCredentials = (value: string) => !URL.canParse(value) || credentialParameters(value).length === 0;

  const urlWithScheme = (scheme: RegExp, message: string) =>
    z
      .string()
      .refine((value) => URL.canParse(value) && scheme.test(new URL(value).protocol), message)
      // Credentials in a URL end up in logs, reports and process lists; the token fields keep them out.
      .refine((value) => !URL.canParse(value) || (new URL(value).username === "" && new URL(value).password === ""), "must not carry credentials (user:password@); put the secret in token or tokenEnv")
      .refine(withoutQueryCredentials, noQueryCredentials("token, tokenEnv or tokenFile"));

  const gatewaySchema = z
    .object({
      url: urlWithScheme(/^wss?:$/u, "must be a ws:// or wss:// URL"),
      ...secretFields,
      tlsFingerprint: z
        .string()
        .regex(/^(?:sha256:)?(?:[0-9A-Fa-f]{2}:){31}[0-9A-Fa-f]{2}$|^(?:sha256:)?[0-9A-Fa-f]{64}$/u, "must be a SHA-256 fingerprint, 64 hex digits with or without colons")
        .optional(),
    })
    .strict()
    .refine(...atMostOneSecret);

  const a2aSchema = z
    .object({
      /** The target's A2A endpoint, `http(s)://host:port/a2a/v1`, or just the Gateway origin. */
      url: urlWithScheme(/^https?:$/u, "must be an http:// or https:// URL"),
      /** The bearer the target expects from this side (`token`/`tokenEnv`): its `channels.a2a.peers.<name>.token`. */
      ...secretFields,
    })
    .strict()
    .refine(...exactlyOneSecret);

  const messageToolSchema = z
    .object({
      /** A channel configured on that Gateway: telegram, discord, slack, a2a, … */
      channel: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/u, "must be a channel id such as telegram"),
      /** The recipient as the channel names it (chat id, @user, #channel, peer name). */
      to: z.string().trim().min(1).max(256),
      accountId: z.string().min(1).optional(),
      /** Telegram and most chat platforms refuse bot-to-bot messages; this transport is for people. */
      recipient: z.enum(["human", "bot"]).default("human"),
      /** The Gateway whose channel sends it; default the instance's own `gateway`. */
      gateway: gatewaySchema.optional(),
    })
    .strict();

  const nodeSchema = z
    .object({
      /** The Gateway the target machine's node host is paired to: usually this side's own Gateway. */
      gateway: gatewaySchema,
      /** The node's device id (64 hex digits, `openclaw nodes list`); or give its display name. */
      id: z.string().regex(/^[0-9a-f]{64}$/u, "must be the node's 64-hex device id").optional(),
      /** The node's display name (`openclaw node run --display-name`); resolved to its id at each use. */
      name: z.string().trim().min(1).max(128).optional(),
      /** The target agent's workspace as a path on the node's machine; default the instance's `workspace`. */
      workspace: z.string().min(1).optional(),
    })
    .strict()
    .refine((value) => value.id !== undefined || value.name !== undefined, { message: "set the node's id or its name", path: ["id"] });

  /** `allow`: shown to the agent; `hold`: kept for the owner to approve or refuse; `refuse`: never shown. */
  const inboundActionSchema = z.enum(["allow", "hold", "refuse"]);

  const instanceSchema = z
    .object({
      aliases: z.array(z.string().trim().min(1)).default([]),
      displayName: z.string().min(1).optional(),
      /** Its messaging key (`openclaw-inter-instance keys` there): what it sends here is verified against it. */
      publicKey: z.string().regex(/^[A-Za-z0-9_-]{43}$/u, "must be an Ed25519 public key: 43 characters of base64url, as `openclaw-inter-instance keys` shows it").optional(),
      /** What this Gateway's plugin does with a message verified as from this instance (unverified ones follow `inbound.unverified`). */
      inbound: inboundActionSchema.default("allow"),
      /** Past this many messages from it in an hour, the rest are held for the owner (default `inbound.ratePerHour`). */
      ratePerHour: z.number().int().min(1).max(1_000_000).optional(),
      gateway: gatewaySchema.optional(),
      /** The target's bundled A2A channel (`channels.a2a` on its Gateway). */
      a2a: a2aSchema.optional(),
      /** A person reachable through a chat channel: the last rung, bot to human only. */
      messageTool: messageToolSchema.optional(),
      /** A node host on the target machine, paired to `node.gateway`: remote exec, file writes, message delivery. */
      node: nodeSchema.optional(),
      sessionKey: z.string().regex(SESSION_KEY, 'must look like "agent:<agentId>:<rest>"').default("agent:main:main"),
      /**
       * At most this many messages may wait in the target session's queue when `sessions_send` adds
       * one; keep it under the target's `messages.queue.cap` (20 by default), past which the Gateway drops messages.
       */
      maxQueued: z.number().int().min(1).max(10_000).default(10),
      workspace: z.string().min(1).optional(),
      /** What `doctor` also checks on the target machine (through its node): git checkouts and symlinks the agent relies on. */
      doctor: z
        .object({
          repos: z.array(z.string().startsWith("/", "must be an absolute path on the target")).default([]),
          links: z.array(z.string().startsWith("/", "must be an absolute path on the target")).default([]),
        })
        .strict()
        .default({ repos: [], links: [] }),
      timeZone: z.string().refine(isTimeZone, "must be an IANA time zone such as Asia/Shanghai").optional(),
      transports: z.array(transportIdSchema).min(1).optional(),
      timeouts: timeoutsSchema.optional(),
    })
    .strict();

  /** How this instance authenticates to the NATS servers: one method. Secrets by file or environment variable. */
  const natsAuthSchema = z.union([
    z.object({ credsFile: z.string().min(1) }).strict(),
    z.object({ nkeySeedFile: z.string().min(1) }).strict(),
    z.object({ user: z.string().min(1), passwordEnv: z.string().regex(ENV_NAME, "must be an environment variable name").optional(), passwordFile: z.string().min(1).optional() }).strict().refine((value) => (value.passwordEnv === undefined) !== (value.passwordFile === undefined), { message: "set exactly one of passwordEnv or passwordFile", path: ["passwordEnv"] }),
    z.object(secretFields).strict().refine(...exactlyOneSecret),
  ]);

  /** A fleet on NATS JetStream: every instance dials out to the same servers; none needs an open port. */
  const natsSchema = z
    .object({
      servers: z
        .array(
          z
            .string()
            .refine((value) => URL.canParse(value) && /^(nats|tls|wss?):$/u.test(new URL(value).protocol), "must be a nats://, tls://, ws:// or wss:// URL")
            .refine((value) => !URL.canParse(value) || (new URL(value).username === "" && new URL(value).password === ""), "must not carry credentials (user:password@); put them in auth")
            .refine(withoutQueryCredentials, noQueryCredentials("auth")),
        )
        .min(1),
      /** Names the stream, the subjects `iim.<fleet>.<instance>` and the KV buckets. */
      fleet: z.string().regex(/^[A-Za-z0-9_-]{1,32}$/u, "fleet names use letters, digits, - and _"),
      auth: natsAuthSchema.optional(),
      tls: z.object({ caFile: z.string().min(1).optional(), certFile: z.string().min(1).optional(), keyFile: z.string().min(1).optional() }).strict().optional(),
      /** Publishes with the same envelope id within this window are stored once (`Nats-Msg-Id`); longer than any retry. */
      duplicateWindowMs: z.number().int().min(120_000).max(7 * 86_400_000).default(2 * 3_600_000),
      /** Failed deliveries of one message to this instance's agent before it goes to the dead-letter subject (waiting for a full turn is no failure). */
      maxDeliver: z.number().int().min(1).max(100).default(5),
      /** How long an instance stays in the presence registry after its last announcement. */
      presenceTtlMs: z.number().int().min(10_000).max(86_400_000).default(120_000),
    })
    .strict();

  const configSchema = z
    .object({
      /** How this side names itself to others ("Notification from <self.name>"). */
      self: z.object({ name: z.string().trim().min(1).max(64) }).strict(),
      instances: z.record(z.string().regex(INSTANCE_NAME, "instance names use letters, digits, - and _"), instanceSchema),
      defaults: z
        .object({
          transports: z.array(transportIdSchema).min(1).optional(),
          timeouts: timeoutsSchema.optional(),
          /** Retries of a transient failure on the same transport, before falling back. */
          retries: z.number().int().min(0).max(10).default(2),
          /** After an unavailable or timed-out attempt, skip that transport of that instance this long (0: never). */
          circuitCooldownMs: z.number().int().min(0).max(3_600_000).default(30_000),
        })
        .strict()
        .default({ retries: 2, circuitCooldownMs: 30_000 }),
      /** Where the device identity and device tokens of this client live. */
      stateDir: z.string().min(1).optional(),
      /** How to run the `openclaw` CLI for the agent_cli transport. */
      openclawCli: z
        .object({
          /** Path of the `openclaw` executable (or its `openclaw.mjs`); default: PATH, then the installed package. */
          bin: z.string().min(1).optional(),
          /** The CLI's own state dir (its device identity); default `<stateDir>/openclaw-cli`, kept apart from a local Gateway's. */
          stateDir: z.string().min(1).optional(),
        })
        .strict()
        .default({}),
      /** The receiving side (plugin only): entries other instances write into this Gateway's memory file reach its agent. */
      inbox: z
        .object({
          enabled: z.boolean().default(true),
          /** The session whose next turn shows the message. */
          sessionKey: z.string().regex(SESSION_KEY, 'must look like "agent:<agentId>:<rest>"').default("agent:main:main"),
          /** Wake the agent at once (a heartbeat) instead of waiting for its next turn. */
          wake: z.boolean().default(true),
          /** A slow safety net besides file-change events, for file systems that miss them (network mounts). */
          pollMs: z.number().int().min(200).max(600_000).default(30_000),
        })
        .strict()
        .default({ enabled: true, sessionKey: "agent:main:main", wake: true, pollMs: 30_000 }),
      /**
       * Named groups of instances (by name or alias): `send` and `delegate` to a group name reach each
       * member. `all` is every configured instance unless defined here.
       */
      groups: z.record(z.string().regex(INSTANCE_NAME, "group names use letters, digits, - and _"), z.array(z.string().trim().min(1)).min(1, "a group needs at least one member")).default({}),
      /** The receiving side's policy: who reaches the agent, how often, and how long a conversation may run. */
      inbound: z
        .object({
          /** For a sender not in `instances`, or a message whose signature does not verify. */
          unverified: inboundActionSchema.default(INBOUND_DEFAULTS.unverified),
          /** Per sender: past this many messages in an hour the rest are held. */
          ratePerHour: z.number().int().min(1).max(1_000_000).default(INBOUND_DEFAULTS.ratePerHour),
          /** Loop limit: a conversation is stopped past this many hops (messages in either direction) in `hopWindowMs`. */
          maxHops: z.number().int().min(1).max(1000).default(INBOUND_DEFAULTS.maxHops),
          hopWindowMs: z.number().int().min(1000).max(7 * 86_400_000).default(INBOUND_DEFAULTS.hopWindowMs),
          /** A signed message verifies only this long after it was signed (plus 5 minutes of clock skew); older copies are replays or waited too long. */
          maxAgeMs: z.number().int().min(60_000).max(30 * 86_400_000).default(INBOUND_DEFAULTS.maxAgeMs),
        })
        .strict()
        .default(INBOUND_DEFAULTS),
      /** This instance's NATS JetStream fleet: the `nats` transport and, in the plugin, the receiving consumer and presence. */
      nats: natsSchema.optional(),
      /** Every message sent or shown here, in SQLite next to the outbox (`openclaw-inter-instance log`). */
      audit: z
        .object({
          enabled: z.boolean().default(true),
          /** Default `<stateDir>/audit.sqlite`. */
          path: z.string().min(1).optional(),
          /** Keep each message's body too (off: who, what id, how, the verdict and the size only). */
          bodies: z.boolean().default(false),
        })
        .strict()
        .default({ enabled: true, bodies: false }),
      /** Inside the plugin: how often the doctor's checks run; failing ones show in the Gateway's health report (`openclaw health`). 0: never. */
    health: z
      .object({ intervalMs: z.number().int().min(0).max(86_400_000).default(600_000) })
      .strict()
      .default({ intervalMs: 600_000 }),
    /** The durable queue of envelopes no transport could deliver; default `<stateDir>/outbox.sqlite`. */
      outbox: z
        .object({
          enabled: z.boolean().default(true),
          path: z.string().min(1).optional(),
          /** Inside the plugin: how often waiting envelopes are retried (each also backs off on its own). 0: never. */
          retryMs: z.number().int().min(0).max(86_400_000).default(60_000),
        })
        .strict()
        .default({ enabled: true, retryMs: 60_000 }),
    })
    .strict()
    // On a fleet this instance's name is a subject token and a consumer name.
    .refine((config) => !config.nats || INSTANCE_NAME.test(config.self.name), { message: "on a NATS fleet, self.name uses letters, digits, - and _", path: ["self", "name"] });

  return { configSchema, secretRefSchema, inboundActionSchema, instanceSchema, natsSchema };
}

type Schemas = ReturnType<typeof buildSchemas>;
export type SecretRef = z.output<Schemas["secretRefSchema"]>;
export type InboundAction = z.output<Schemas["inboundActionSchema"]>;
export type NatsConfig = z.output<Schemas["natsSchema"]>;
export type ConfigInput = z.input<Schemas["configSchema"]>;
export type Config = z.output<Schemas["configSchema"]>;
export type InstanceConfig = z.output<Schemas["instanceSchema"]>;
