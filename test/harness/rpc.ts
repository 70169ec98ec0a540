import { GatewayClient } from "@openclaw/gateway-client";
import type { TestGateway } from "./gateway.ts";

/** One RPC to the Gateway as its loopback backend helper (no device identity needed there). */
export async function gatewayRequest<T>(gateway: TestGateway, method: string, params: unknown, timeoutMs = 30_000): Promise<T> {
  const client = await new Promise<GatewayClient>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`oracle connect to ${gateway.url} timed out`)), 15_000);
    const c: GatewayClient = new GatewayClient({
      url: gateway.url,
      token: gateway.token,
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
