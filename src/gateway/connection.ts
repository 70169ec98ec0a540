import { setTimeout as delay } from "node:timers/promises";
import type { GatewayClient } from "@openclaw/gateway-client";
import pLimit, { type LimitFunction } from "p-limit";
import { missingCredential } from "../config/names.js";
import type { GatewayTarget, Instance } from "../config/registry.js";
import { TARGET_TOKEN_SOURCE } from "../config/token-hint.js";
import { UnavailableError } from "../core/errors.js";
import { classifyGatewayError, type GatewayErrorContext, insecureTransportError, isConnectionLoss } from "./classify.js";
import { type DeviceIdentityStore, publicKeyRawBase64Url, signPayload } from "./device-identity.js";
import { DEFAULT_HANDSHAKE_BUDGET_MS, type LinkLatency } from "./link-latency.js";
import { type ConfigLocation, explainTlsFailure } from "./tls-diagnosis.js";
import { isPlaintextAllowed } from "./url-policy.js";

export const CLIENT_VERSION = "0.2.0";
const ROLE = "operator";
const SCOPES = ["operator.read", "operator.write"];

export interface GatewayConnectionOptions {
  readonly url: string;
  /** The shared token; without it the device token stored for this URL (see `pair`), or `bootstrapToken`. */
  readonly token?: string | undefined;
  /** A setup code's short-lived token, used only while pairing. */
  readonly bootstrapToken?: string | undefined;
  readonly tokenSource?: string;
  readonly tlsFingerprint?: string | undefined;
  readonly identity: DeviceIdentityStore;
  /** Budget for the WebSocket handshake, connect challenge and hello; default from `latency`, else 10 s. */
  readonly connectTimeoutMs?: number;
  /** Recent handshake times: a link known to be fast gets a shorter handshake budget. */
  readonly latency?: LinkLatency;
  /**
   * Requests in flight on this socket at once; more wait here. A Gateway sheds a burst beyond its
   * handler queue with "busy", so a bounded pipeline delivers more than an unbounded one.
   */
  readonly maxInFlight?: number;
  readonly env?: NodeJS.ProcessEnv;
  /** Where this Gateway's settings live (the CLI's file or the plugin's config), so a TLS fix names the right one. */
  readonly configLocation?: ConfigLocation;
}

/**
 * The limits a Gateway's hello advertises (`policy`): the largest frame, and the largest decoded
 * attachment (`policy.attachments`, absent on older Gateways). A snapshot of its connection.
 */
export interface GatewayPolicy {
  readonly maxPayload?: number;
  readonly attachments?: { readonly maxBytes: number; readonly maxImageBytes: number };
}

/** What a Gateway says about itself in its hello. */
export interface GatewayServerInfo {
  readonly version?: string;
  readonly protocol?: number;
}

export interface RequestOptions {
  readonly signal?: AbortSignal | undefined;
  readonly timeoutMs?: number | undefined;
  /** Called once the request frame has been written to the socket. */
  readonly onSent?: (() => void) | undefined;
}

const noop = () => {};

/**
 * How long `start` waits for the challenge to be answered: on loopback and a LAN it is answered
 * in a few ms; on a slower link the caller's work is better done meanwhile.
 */
const START_WAIT_MS = 10;

function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException("This operation was aborted", "AbortError");
}

function raceAbort<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(abortReason(signal));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(abortReason(signal));
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}

/**
 * One kept-open, authenticated WebSocket to one Gateway, built on OpenClaw's reference client
 * (`@openclaw/gateway-client`). It signs the connect challenge with this client's persisted
 * device identity, so a remote Gateway pairs it once and issues a device token, and it connects
 * lazily: a dropped socket is replaced on the next request rather than retried in the background.
 */
export class GatewayConnection {
  readonly url: string;
  readonly #options: GatewayConnectionOptions;
  readonly #context: GatewayErrorContext;
  #ready: Promise<GatewayClient> | undefined;
  /** The current attempt's steps: its socket is opening; it answers the Gateway's challenge. */
  #steps: { readonly opening: Promise<void>; readonly answering: Promise<void> } = { opening: Promise.resolve(), answering: Promise.resolve() };
  #client: GatewayClient | undefined;
  #pendingClient: GatewayClient | undefined;
  /** Every client this connection started and has not stopped: `close()` stops them all, so none reconnects in the background. */
  readonly #started = new Set<GatewayClient>();
  #methods: ReadonlySet<string> = new Set();
  #scopes: readonly string[] | undefined;
  #server: GatewayServerInfo = {};
  #policy: GatewayPolicy = {};
  readonly #limit: LimitFunction;

  constructor(options: GatewayConnectionOptions) {
    this.url = options.url;
    this.#options = options;
    this.#context = { url: options.url, tokenSource: options.tokenSource ?? "the config" };
    this.#limit = pLimit(options.maxInFlight ?? 16);
  }

  /** Sends one RPC; connects first if needed. Errors are classified `TransportError`s. */
  request<T>(method: string, params: unknown, options: RequestOptions = {}): Promise<T> {
    return this.#limit(() => this.#request<T>(method, params, options));
  }

  async #request<T>(method: string, params: unknown, options: RequestOptions): Promise<T> {
    options.signal?.throwIfAborted();
    const client = await this.#connectUnless(options.signal);
    try {
      return await client.request<T>(method, params, {
        timeoutMs: options.timeoutMs ?? null,
        ...(options.signal ? { signal: options.signal } : {}),
        ...(options.onSent ? { onSent: options.onSent } : {}),
      });
    } catch (error) {
      if (options.signal?.aborted) throw abortReason(options.signal);
      // The socket died under us: forget it, so the retry (safe: requests carry idempotency keys) reconnects.
      if (isConnectionLoss(error) && this.#client === client) this.#forget(client);
      throw classifyGatewayError(error, this.#context);
    }
  }

  /** Connects (if not yet) and resolves once the Gateway said hello. */
  async connect(signal?: AbortSignal): Promise<void> {
    await this.#connectUnless(signal);
  }

  /**
   * Starts connecting (if not yet) and resolves once this client has answered the Gateway's
   * challenge, or `waitMs` after its socket opened at most, not at hello: the Gateway then checks the answer while
   * the caller does its own work. Each step before the answer (the socket's connect, the upgrade,
   * the challenge) needs this thread, so work started at once would hold the handshake back until
   * it ends; on a slow link the wait ends first and the work goes on beside the handshake.
   * Never rejects; a failure is met again by the next request.
   */
  async start(waitMs = START_WAIT_MS): Promise<void> {
    const ended = this.#connect().then(noop, noop);
    const { opening, answering } = this.#steps;
    await Promise.race([opening, ended]);
    await Promise.race([answering, ended, delay(waitMs, undefined, { ref: false })]);
  }

  /** The RPC methods the Gateway announced in its hello (`features.methods`); connects first. */
  async methods(signal?: AbortSignal): Promise<ReadonlySet<string>> {
    await this.#connectUnless(signal);
    return this.#methods;
  }

  /** The operator scopes the Gateway granted this device (hello `auth.scopes`); undefined if it did not say. */
  async grantedScopes(signal?: AbortSignal): Promise<readonly string[] | undefined> {
    await this.#connectUnless(signal);
    return this.#scopes;
  }

  /** The limits of the Gateway's hello (`policy`) on this connection; connects first. Read again at every reconnect. */
  async policy(signal?: AbortSignal): Promise<GatewayPolicy> {
    await this.#connectUnless(signal);
    return this.#policy;
  }

  /** The Gateway's OpenClaw version and protocol, from its hello; connects first. */
  async serverInfo(signal?: AbortSignal): Promise<GatewayServerInfo> {
    await this.#connectUnless(signal);
    return this.#server;
  }

  /** Waits for the connection; an abort during the handshake also tears the half-open socket down. */
  async #connectUnless(signal: AbortSignal | undefined): Promise<GatewayClient> {
    const pending = this.#connect();
    try {
      return await raceAbort(pending, signal);
    } catch (error) {
      if (signal?.aborted && !this.#client) {
        if (this.#pendingClient) this.#stop(this.#pendingClient);
        this.#pendingClient = undefined;
        this.#ready = undefined;
      }
      throw error;
    }
  }

  get connected(): boolean {
    return this.#client !== undefined;
  }

  /** No socket open and no handshake with this Gateway on record, here or (with a state dir) in an earlier process. */
  get firstContact(): boolean {
    return this.#client === undefined && this.#options.connectTimeoutMs === undefined && this.#options.latency?.slowestRecentMs(this.url) === undefined;
  }

  /** Drops the current socket (if any); the next request connects anew. */
  async reset(): Promise<void> {
    const client = this.#client;
    if (client) this.#forget(client);
  }

  async close(): Promise<void> {
    const ready = this.#ready;
    this.#ready = undefined;
    this.#client = undefined;
    this.#pendingClient = undefined;
    await ready?.catch(() => undefined);
    const clients = [...this.#started];
    this.#started.clear();
    await Promise.all(clients.map((client) => client.stopAndWait({ timeoutMs: 2000 }).catch(() => undefined)));
  }

  #stop(client: GatewayClient): void {
    this.#started.delete(client);
    client.stop();
  }

  #forget(client: GatewayClient): void {
    this.#client = undefined;
    this.#ready = undefined;
    this.#stop(client);
  }

  #connect(): Promise<GatewayClient> {
    if (!this.#ready) {
      const opening = Promise.withResolvers<void>();
      const answering = Promise.withResolvers<void>();
      this.#steps = { opening: opening.promise, answering: answering.promise };
      this.#ready = this.#open({ opened: opening.resolve, answered: answering.resolve }).catch((error: unknown) => {
        this.#ready = undefined;
        throw error;
      });
    }
    return this.#ready;
  }

  async #open(steps: { readonly opened: () => void; readonly answered: () => void }): Promise<GatewayClient> {
    const { url, token, bootstrapToken, identity: store } = this.#options;
    const env = this.#options.env ?? process.env;
    if (!isPlaintextAllowed(url, env)) throw insecureTransportError(url, this.#options.configLocation);
    const identity = store.identity();
    if (!token && !bootstrapToken && !store.loadToken(url, identity.deviceId, ROLE)) throw notPairedError(url);
    const budgetMs = this.#options.connectTimeoutMs ?? this.#options.latency?.handshakeBudgetMs(url) ?? DEFAULT_HANDSHAKE_BUDGET_MS;
    const slowestRecentMs = this.#options.connectTimeoutMs === undefined ? this.#options.latency?.slowestRecentMs(url) : undefined;
    const started = performance.now();

    // Loaded with the first connection: a script that never connects does not pay for the client.
    const { GatewayClient } = await import("@openclaw/gateway-client");
    return new Promise<GatewayClient>((resolve, reject) => {
      let settled = false;
      let client: GatewayClient | undefined;
      const fail = (error: unknown) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (client) this.#stop(client);
        // A TLS mistake gets its own code and fix; telling them apart may need a look at the port.
        explainTlsFailure(error, url, this.#options.tlsFingerprint, this.#options.configLocation).then(
          (explained) => reject(explained ?? classifyGatewayError(error, this.#context)),
          () => reject(classifyGatewayError(error, this.#context)),
        );
      };
      const timer = setTimeout(
        () =>
          fail(
            new UnavailableError(`Gateway ${url} did not complete the handshake in ${budgetMs} ms.`, {
              code: "HANDSHAKE_TIMEOUT",
              hint:
                slowestRecentMs !== undefined
                  ? `Its recent handshakes took at most ${slowestRecentMs} ms, so the link or the Gateway is likely down; check the network to it. (A slower link is learned: each completed handshake is remembered.)`
                  : "Check that the URL points at an OpenClaw Gateway and that nothing in between holds the connection.",
            }),
          ),
        budgetMs,
      );
      client = new GatewayClient({
        url,
        ...(token ? { token } : {}),
        ...(bootstrapToken ? { bootstrapToken } : {}),
        env,
        ...(this.#options.tlsFingerprint ? { tlsFingerprint: this.#options.tlsFingerprint } : {}),
        // Not "gateway-client"/"backend": that id is reserved for a Gateway's own loopback helpers and
        // would skip the pairing every client on another machine goes through.
        clientName: "cli",
        mode: "cli",
        clientDisplayName: "openclaw-inter-instance",
        clientVersion: CLIENT_VERSION,
        role: ROLE,
        scopes: SCOPES,
        deviceIdentity: identity,
        hostDeps: {
          // Called as the connect request is built, the answer to the challenge: sent right after.
          signDevicePayload: (privateKeyPem, payload) => {
            const signature = signPayload(privateKeyPem, payload);
            steps.answered();
            return signature;
          },
          publicKeyRawBase64UrlFromPem: publicKeyRawBase64Url,
          loadDeviceAuthToken: ({ deviceId, role }) => {
            const record = store.loadToken(url, deviceId, role);
            return record ? { token: record.token, scopes: [...record.scopes] } : null;
          },
          storeDeviceAuthToken: ({ deviceId, role, token: deviceToken, scopes }) => store.storeToken(url, deviceId, role, { token: deviceToken, scopes }),
          clearDeviceAuthToken: ({ deviceId, role }) => store.clearToken(url, deviceId, role),
          logDebug: () => {},
          logError: () => {},
        },
        onHelloOk: (hello) => {
          if (settled) return;
          settled = true;
          this.#methods = new Set(hello.features?.methods ?? []);
          this.#scopes = hello.auth?.scopes;
          this.#policy = policyOf(hello);
          const { server, protocol } = hello as { server?: { version?: unknown }; protocol?: unknown };
          this.#server = {
            ...(typeof server?.version === "string" ? { version: server.version } : {}),
            ...(typeof protocol === "number" ? { protocol } : {}),
          };
          clearTimeout(timer);
          this.#options.latency?.record(url, performance.now() - started);
          if (this.#client && this.#client !== client) this.#stop(this.#client);
          this.#client = client;
          this.#pendingClient = undefined;
          resolve(client as GatewayClient);
        },
        onConnectError: fail,
        onClose: (code, reason) => {
          if (!settled) {
            fail(
              new UnavailableError(`Gateway ${url} closed the connection before hello (${code}${reason ? `: ${reason}` : ""}).`, {
                code: code === 1006 ? "UNREACHABLE" : "CONNECTION_CLOSED",
                hint: "Check that the target Gateway runs and that the URL and port are right.",
              }),
            );
            return;
          }
          // Drop the socket; the next request opens a new one. No background reconnect loop, also
          // for a client this connection no longer uses.
          if (client && this.#client === client) this.#forget(client);
          else if (client) this.#stop(client);
        },
      });
      this.#pendingClient = client;
      this.#started.add(client);
      client.start();
      steps.opened();
    });
  }
}

function notPairedError(url: string): UnavailableError {
  return new UnavailableError(`This machine has no device token for ${url} and the config gives no token.`, {
    code: "NOT_PAIRED",
    hint: `Pair it: on that Gateway's machine run \`openclaw-inter-instance invite\`, then here \`openclaw-inter-instance pair <invite>\`; or set gateway.tokenEnv to the target's shared token (${TARGET_TOKEN_SOURCE}).`,
  });
}

/** One connection per Gateway URL and credential, shared by every transport and request. */
export class GatewayPool {
  readonly #connections = new Map<string, GatewayConnection>();
  readonly #identity: DeviceIdentityStore;
  readonly #latency: LinkLatency | undefined;
  readonly #configuredIn: ConfigLocation["configuredIn"];

  /** `configuredIn`: where the instances' settings live (default the CLI's file; `plugin` inside a Gateway), for the fixes errors give. */
  constructor(identity: DeviceIdentityStore, latency?: LinkLatency, options: { readonly configuredIn?: ConfigLocation["configuredIn"] } = {}) {
    this.#identity = identity;
    this.#latency = latency;
    this.#configuredIn = options.configuredIn;
  }

  get(options: Omit<GatewayConnectionOptions, "identity">): GatewayConnection {
    const key = `${options.url}\u0000${options.token}`;
    let connection = this.#connections.get(key);
    if (!connection) {
      connection = new GatewayConnection({ ...options, identity: this.#identity, ...(this.#latency ? { latency: this.#latency } : {}) });
      this.#connections.set(key, connection);
    }
    return connection;
  }

  /** The connection to an instance's Gateway; throws `UnavailableError` when it has no URL or token. */
  forInstance(instance: Instance): GatewayConnection {
    if (!instance.gateway) throw new UnavailableError(`No gateway.url is configured for ${instance.name}.`, { code: "NOT_CONFIGURED" });
    return this.forTarget(instance.gateway);
  }

  forTarget(gateway: GatewayTarget): GatewayConnection {
    if (missingCredential(gateway)) throw new UnavailableError(`No token for ${gateway.url}: ${gateway.tokenSource} is not set.`, { code: "NO_TOKEN" });
    const configLocation: ConfigLocation = {
      ...(this.#configuredIn ? { configuredIn: this.#configuredIn } : {}),
      ...(gateway.field ? { gatewayField: gateway.field } : {}),
    };
    return this.get({ url: gateway.url, token: gateway.token, tokenSource: gateway.tokenSource, tlsFingerprint: gateway.tlsFingerprint, configLocation });
  }

  async closeAll(): Promise<void> {
    const all = [...this.#connections.values()];
    this.#connections.clear();
    await Promise.all(all.map((connection) => connection.close()));
  }
}

const positive = (value: unknown): number | undefined => (typeof value === "number" && Number.isFinite(value) && value > 0 ? value : undefined);

/** The hello's `policy`, as far as it is well-formed. */
function policyOf(hello: unknown): GatewayPolicy {
  const policy = (hello as { policy?: { maxPayload?: unknown; attachments?: { maxBytes?: unknown; maxImageBytes?: unknown } } }).policy;
  const maxPayload = positive(policy?.maxPayload);
  const maxBytes = positive(policy?.attachments?.maxBytes);
  const maxImageBytes = positive(policy?.attachments?.maxImageBytes);
  return {
    ...(maxPayload ? { maxPayload } : {}),
    ...(maxBytes ? { attachments: { maxBytes, maxImageBytes: maxImageBytes ?? maxBytes } } : {}),
  };
}
