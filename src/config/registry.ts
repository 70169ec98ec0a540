import { UnknownInstanceError, ValidationError } from "../core/errors.js";
import { once } from "../util/lazy.js";
import { missingCredential, normalizeName } from "./names.js";
import { type Config, DEFAULT_TIMEOUTS_MS, DEFAULT_TRANSPORT_ORDER, type TransportId } from "./schema.js";
import { type ResolvedSecret, resolveSecret, type SecretSpec } from "./secret-source.js";

export { missingCredential, normalizeName };

export interface GatewayTarget {
  readonly url: string;
  /** Resolved from `token` or `tokenEnv`; undefined when the variable is not set. */
  readonly token: string | undefined;
  /** Where the token should come from, for error hints. */
  readonly tokenSource: string;
  /** `shared`: a token from the config or the environment; `device`: none configured, the device token stored when this machine paired. */
  readonly credential: "shared" | "device";
  readonly tlsFingerprint: string | undefined;
  /** Where this block sits in the config (`instances.xiaom.gateway`, `instances.xiaom.node.gateway`), for fixes that name a setting. */
  readonly field?: string;
}

export interface A2aTarget {
  /** The JSON-RPC endpoint, always ending in `/a2a/v1`. */
  readonly endpoint: string;
  readonly token: string | undefined;
  readonly tokenSource: string;
}

export interface MessageToolTarget {
  readonly channel: string;
  readonly to: string;
  readonly accountId: string | undefined;
  readonly recipient: "human" | "bot";
  /** The Gateway whose channel sends it. */
  readonly gateway: GatewayTarget | undefined;
}

export interface NodeTarget {
  /** The Gateway the node host is paired to. */
  readonly gateway: GatewayTarget;
  readonly id: string | undefined;
  readonly name: string | undefined;
  /** The target agent's workspace on the node's machine. */
  readonly workspace: string | undefined;
}

/** One configured instance with every default filled in. */
export interface Instance {
  readonly name: string;
  readonly displayName: string;
  readonly aliases: readonly string[];
  /** Its pinned messaging key, raw Ed25519, base64url. */
  readonly publicKey: string | undefined;
  readonly gateway: GatewayTarget | undefined;
  readonly a2a: A2aTarget | undefined;
  readonly messageTool: MessageToolTarget | undefined;
  readonly node: NodeTarget | undefined;
  /** Checkouts and symlinks on the target that `doctor` checks. */
  readonly doctor: { readonly repos: readonly string[]; readonly links: readonly string[] };
  readonly sessionKey: string;
  /** Most messages left waiting in the target session's queue (see `maxQueued` in the config). */
  readonly maxQueued: number;
  readonly workspace: string | undefined;
  readonly timeZone: string;
  readonly transports: readonly TransportId[];
  readonly timeouts: Readonly<Record<TransportId, number>>;
  /** Credentials configured but not available (a variable not set, a file not readable, a SecretRef not resolved). */
  readonly missingSecrets: readonly MissingSecret[];
}

export type MissingSecret = NonNullable<ResolvedSecret["missing"]>;

/** Resolves a credential, and notes it in `missing` when it is configured but not available. */
function credential(spec: SecretSpec, field: string, env: NodeJS.ProcessEnv, missing: MissingSecret[]): ResolvedSecret | undefined {
  const secret = resolveSecret(spec, field, env);
  if (secret?.missing) missing.push(secret.missing);
  return secret;
}

function resolveGateway(
  gateway: Config["instances"][string]["gateway"],
  env: NodeJS.ProcessEnv,
  field: string,
  missing: MissingSecret[],
): GatewayTarget | undefined {
  if (!gateway) return undefined;
  const secret = credential(gateway, field, env, missing);
  return {
    url: gateway.url,
    token: secret?.value,
    tokenSource: secret?.source ?? "the device token this machine stored when it paired (openclaw-inter-instance pair)",
    credential: secret ? "shared" : "device",
    tlsFingerprint: gateway.tlsFingerprint,
    field,
  };
}

function resolveA2a(instance: Config["instances"][string], env: NodeJS.ProcessEnv, field: string, missing: MissingSecret[]): A2aTarget | undefined {
  const a2a = instance.a2a;
  if (!a2a) return undefined;
  const url = new URL(a2a.url);
  const path = url.pathname.replace(/\/+$/u, "");
  url.pathname = path.endsWith("/a2a/v1") ? path : `${path}/a2a/v1`;
  const secret = credential(a2a, field, env, missing);
  return { endpoint: url.toString(), token: secret?.value, tokenSource: secret?.source ?? `${field}.token in the config` };
}

/** Resolves targets by name or alias, in Chinese or Latin script, case-insensitively. */
const localTimeZone = once(() => Intl.DateTimeFormat().resolvedOptions().timeZone);

export class InstanceRegistry {
  readonly #groups = new Map<string, { name: string; members: string[] }>();
  readonly self: string;
  readonly retries: number;
  readonly circuitCooldownMs: number;
  /** Bounds on the files of a message (`attachments` in the config). */
  readonly attachments: { readonly maxFileBytes: number; readonly maxTotalBytes: number; readonly maxFiles: number };
  readonly #instances = new Map<string, Instance>();
  readonly #index = new Map<string, string>();

  constructor(config: Config, env: NodeJS.ProcessEnv = process.env) {
    this.self = config.self.name;
    this.retries = config.defaults.retries;
    this.circuitCooldownMs = config.defaults.circuitCooldownMs;
    this.attachments = config.attachments;
    const defaultOrder = config.defaults.transports ?? DEFAULT_TRANSPORT_ORDER;
    const collisions: { path: string; message: string }[] = [];
    for (const [name, raw] of Object.entries(config.instances)) {
      const missing: MissingSecret[] = [];
      const instance: Instance = {
        name,
        displayName: raw.displayName ?? name,
        aliases: raw.aliases,
        publicKey: raw.publicKey,
        gateway: resolveGateway(raw.gateway, env, `instances.${name}.gateway`, missing),
        a2a: resolveA2a(raw, env, `instances.${name}.a2a`, missing),
        messageTool: raw.messageTool && {
          channel: raw.messageTool.channel,
          to: raw.messageTool.to,
          accountId: raw.messageTool.accountId,
          recipient: raw.messageTool.recipient,
          gateway: resolveGateway(
            raw.messageTool.gateway ?? raw.gateway,
            env,
            `instances.${name}.${raw.messageTool.gateway ? "messageTool.gateway" : "gateway"}`,
            missing,
          ),
        },
        node: raw.node && {
          gateway: resolveGateway(raw.node.gateway, env, `instances.${name}.node.gateway`, missing)!,
          id: raw.node.id,
          name: raw.node.name,
          workspace: raw.node.workspace ?? raw.workspace,
        },
        doctor: raw.doctor,
        sessionKey: raw.sessionKey,
        maxQueued: raw.maxQueued,
        workspace: raw.workspace,
        // Read when first needed: asking Intl for the local zone starts ICU, about 20 ms.
        get timeZone() {
          return raw.timeZone ?? localTimeZone();
        },
        transports: raw.transports ?? defaultOrder,
        timeouts: { ...DEFAULT_TIMEOUTS_MS, ...config.defaults.timeouts, ...raw.timeouts },
        missingSecrets: missing,
      };
      this.#instances.set(name, instance);
      for (const [i, label] of [name, ...raw.aliases].entries()) {
        const key = normalizeName(label);
        const owner = this.#index.get(key);
        if (owner !== undefined && owner !== name) {
          collisions.push({
            path: i === 0 ? `instances.${name}` : `instances.${name}.aliases.${i - 1}`,
            message: `"${label}" also names instance "${owner}"`,
          });
        }
        this.#index.set(key, name);
      }
    }
    for (const [group, members] of Object.entries(config.groups)) {
      if (this.#index.has(normalizeName(group)))
        collisions.push({ path: `groups.${group}`, message: `"${group}" is also the name or alias of instance "${this.#index.get(normalizeName(group))}"` });
      const names = members.map((member, i) => {
        const name = this.#index.get(normalizeName(member));
        if (name === undefined) collisions.push({ path: `groups.${group}.${i}`, message: `"${member}" is not a configured instance` });
        return name ?? member;
      });
      this.#groups.set(normalizeName(group), { name: group, members: [...new Set(names)] });
    }
    if (!this.#groups.has("all")) this.#groups.set("all", { name: "all", members: [...this.#instances.keys()] });
    if (collisions.length > 0) {
      throw new ValidationError(`Invalid config: ${collisions.map((c) => `${c.path}: ${c.message}`).join("; ")}`, collisions);
    }
  }

  /** A group by name (`all`: every instance, unless the config defines it), with its members' instance names. */
  group(name: string): { readonly name: string; readonly members: readonly string[] } | undefined {
    return this.find(name) ? undefined : this.#groups.get(normalizeName(name));
  }

  resolve(nameOrAlias: string): Instance {
    const name = this.#index.get(normalizeName(nameOrAlias));
    const instance = name === undefined ? undefined : this.#instances.get(name);
    if (!instance) throw new UnknownInstanceError(nameOrAlias, this.labels());
    return instance;
  }

  /** Like `resolve`, but undefined instead of an error. */
  find(nameOrAlias: string): Instance | undefined {
    const name = this.#index.get(normalizeName(nameOrAlias));
    return name === undefined ? undefined : this.#instances.get(name);
  }

  list(): Instance[] {
    return [...this.#instances.values()];
  }

  /** Every token the config holds or points at, for redaction. */
  secrets(): string[] {
    return this.list().flatMap((i) =>
      [i.gateway?.token, i.a2a?.token, i.messageTool?.gateway?.token, i.node?.gateway.token].filter((t): t is string => typeof t === "string"),
    );
  }

  labels(): string[] {
    return this.list().flatMap((instance) => [instance.name, ...instance.aliases]);
  }
}
