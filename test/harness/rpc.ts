import { fileURLToPath } from "node:url";
import { GatewayClient } from "@openclaw/gateway-client";
import type { TestGateway } from "./gateway.ts";

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

/**
 * One RPC to the Gateway as its local backend helper. A Gateway on a test host is asked from inside
 * that host, over its loopback, as a helper on that machine would: from anywhere else it is a remote
 * client that must pair.
 */
export async function gatewayRequest<T>(gateway: TestGateway, method: string, params: unknown, timeoutMs = 30_000): Promise<T> {
  if (!gateway.host) return requestDirect<T>(gateway, method, params, timeoutMs);
  const target: RpcTarget = { url: gateway.loopbackUrl, token: gateway.token, tlsFingerprint: gateway.tlsFingerprint };
  const result = await gateway.host.exec(process.execPath, [self, JSON.stringify({ target, method, params, timeoutMs })], { timeoutMs: timeoutMs + 20_000 });
  const answer = JSON.parse(result.stdout.trim().split("\n").pop() || "{}") as { ok?: boolean; result?: T; error?: string };
  if (!answer.ok) throw new Error(`${method} on ${gateway.name} (inside its host) failed: ${answer.error ?? result.stderr.slice(-500)}`);
  return answer.result as T;
}

// Run as a script inside a test host: one request, the answer as one JSON line.
if (process.argv[1] === self) {
  const { target, method, params, timeoutMs } = JSON.parse(process.argv[2] ?? "{}") as { target: RpcTarget; method: string; params: unknown; timeoutMs: number };
  requestDirect(target, method, params, timeoutMs).then(
    (result) => console.log(JSON.stringify({ ok: true, result })),
    (error: unknown) => console.log(JSON.stringify({ ok: false, error: error instanceof Error ? error.message : String(error) })),
  );
}
