// OpenClaw's reference client with the shared token and nothing else: the bench's floor for a
// request, in the bench's own process (scenario 2) and in a fresh one per message (scenario 6).
import { GatewayClient } from "@openclaw/gateway-client";

/** Connects and resolves once the Gateway said hello. */
export function connectRawClient(url, token) {
  return new Promise((resolve, reject) => {
    const client = new GatewayClient({
      url,
      token,
      clientName: "gateway-client",
      mode: "backend",
      role: "operator",
      scopes: ["operator.read", "operator.write"],
      hostDeps: { logDebug: () => {}, logError: () => {} },
      onHelloOk: () => resolve(client),
      onConnectError: (error) => {
        client.stop();
        reject(error);
      },
    });
    client.start();
  });
}
