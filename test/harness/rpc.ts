import type { ChildProcess } from "node:child_process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { GatewayClient } from "@openclaw/gateway-client";
import type { TestGateway } from "./gateway.ts";
import type { Host } from "./netns.ts";

interface RpcTarget {
  readonly url: string;
  readonly token: string;
  readonly tlsFingerprint?: string | undefined;
}

/** One RPC as the Gateway's own loopback backend helper (no device identity needed there). */
async function requestDirect<T>(target: RpcTarget, method: string, params: unknown, timeoutMs: number): Promise<T> {
  const client = await new Promise<GatewayClient>((resolve, reject) => {
    const timer = setTimeout(() => {
      c.stop();
      reject(new Error(`oracle connect to ${target.url} timed out`));
    }, 15_000);
    const c: GatewayClient = new GatewayClient({
      url: target.url,
      token: target.token,
      ...(target.tlsFingerprint ? { tlsFingerprint: target.tlsFingerprint } : {}),
      clientName: "gateway-client",
      mode: "backend",
      role: "operator",
      scopes: ["operator.read", "operator.write", "operator.admin", "operator.pairing"],
      hostDeps: { logDebug: () => {}, logError: () => {} },
      onHelloOk: () => {
        clearTimeout(timer);
        resolve(c);
      },
      onConnectError: (error) => {
        clearTimeout(timer);
        c.stop();
        reject(error);
      },
    });
    c.start();
  });
  try {
    return await client.request<T>(method, params, { timeoutMs });
  } finally {
    await client.stopAndWait({ timeoutMs: 2000 }).catch(() => undefined);
  }
}

const self = fileURLToPath(import.meta.url);

interface HelperRequest {
  readonly id: number;
  readonly target: RpcTarget;
  readonly method: string;
  readonly params: unknown;
  readonly timeoutMs: number;
}
type HelperAnswer = { id: number; ok: true; result: unknown } | { id: number; ok: false; error: string };

/**
 * A helper process inside a test host that asks its Gateways over the host's loopback, one fresh
 * connection per request as before, but started once: a Node start and the client's import for
 * every poll cost more CPU than the request itself.
 */
class HostHelper {
  readonly #child: ChildProcess;
  readonly #pending = new Map<number, { resolve: (answer: HelperAnswer) => void; timer: NodeJS.Timeout }>();
  #next = 0;
  #stderr = "";
  #closed = false;

  constructor(host: Host) {
    this.#child = host.spawn(process.execPath, [self, "--serve"], { stdio: ["pipe", "pipe", "pipe"] });
    this.#child.unref();
    for (const stream of [this.#child.stdin, this.#child.stdout, this.#child.stderr] as (Unrefable | null)[]) stream?.unref?.();
    createInterface({ input: this.#child.stdout! }).on("line", (line) => {
      const answer = JSON.parse(line) as HelperAnswer;
      const pending = this.#pending.get(answer.id);
      if (!pending) return;
      clearTimeout(pending.timer);
      this.#pending.delete(answer.id);
      pending.resolve(answer);
    });
    this.#child.stderr?.setEncoding("utf8").on("data", (chunk: string) => (this.#stderr = (this.#stderr + chunk).slice(-2000)));
    this.#child.once("exit", () => {
      this.#closed = true;
      for (const [id, pending] of this.#pending) {
        clearTimeout(pending.timer);
        pending.resolve({ id, ok: false, error: `the helper inside the host exited: ${this.#stderr}` });
      }
      this.#pending.clear();
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  request(target: RpcTarget, method: string, params: unknown, timeoutMs: number): Promise<HelperAnswer> {
    const id = (this.#next += 1);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        resolve({ id, ok: false, error: `no answer from the helper inside the host within ${timeoutMs + 20_000} ms` });
      }, timeoutMs + 20_000);
      this.#pending.set(id, { resolve, timer });
      this.#child.stdin!.write(`${JSON.stringify({ id, target, method, params, timeoutMs } satisfies HelperRequest)}\n`);
    });
  }
}

interface Unrefable {
  unref?: () => void;
}

const helpers = new WeakMap<Host, HostHelper>();

/**
 * One RPC to the Gateway as its local backend helper. A Gateway on a test host is asked from inside
 * that host, over its loopback, as a helper on that machine would: from anywhere else it is a remote
 * client that must pair.
 */
export async function gatewayRequest<T>(gateway: TestGateway, method: string, params: unknown, timeoutMs = 30_000): Promise<T> {
  const host = gateway.host;
  if (!host) return requestDirect<T>(gateway, method, params, timeoutMs);
  let helper = helpers.get(host);
  if (!helper || helper.closed) helpers.set(host, (helper = new HostHelper(host)));
  const target: RpcTarget = { url: gateway.loopbackUrl, token: gateway.token, tlsFingerprint: gateway.tlsFingerprint };
  const answer = await helper.request(target, method, params, timeoutMs);
  if (!answer.ok) throw new Error(`${method} on ${gateway.name} (inside its host) failed: ${answer.error}`);
  return answer.result as T;
}

// Run inside a test host: requests as JSON lines on stdin, each answer as one JSON line; ends with stdin.
if (process.argv[1] === self && process.argv[2] === "--serve") {
  createInterface({ input: process.stdin }).on("line", (line) => {
    const { id, target, method, params, timeoutMs } = JSON.parse(line) as HelperRequest;
    requestDirect(target, method, params, timeoutMs).then(
      (result) => process.stdout.write(`${JSON.stringify({ id, ok: true, result })}\n`),
      (error: unknown) => process.stdout.write(`${JSON.stringify({ id, ok: false, error: error instanceof Error ? error.message : String(error) })}\n`),
    );
  });
}
