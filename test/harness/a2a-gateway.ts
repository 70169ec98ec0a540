import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type GatewayOptions, startGateway, type TestGateway } from "./gateway.ts";
import { watchSecret } from "./secrets-watch.ts";

/**
 * A Gateway with the bundled A2A channel on: a peer `xiaoa` (the sender, by `peerToken`), and a
 * peer `loop` that is this Gateway itself, so a `send` on the a2a channel is a real channel send
 * that needs no network.
 */
export async function startA2aGateway(
  options: GatewayOptions & {
    readonly peerToken: string;
    readonly loopToken: string /** The channel's default is 30; 0 turns the limit off. */;
    readonly rateLimitPerMinute?: number;
  },
): Promise<TestGateway> {
  const { peerToken, loopToken, rateLimitPerMinute, beforeStart, ...rest } = options;
  watchSecret(peerToken);
  watchSecret(loopToken);
  const gateway = await startGateway({
    ...rest,
    extraConfig: {
      ...rest.extraConfig,
      channels: { a2a: { enabled: true, ...(rateLimitPerMinute === undefined ? {} : { rateLimitPerMinute }), peers: { xiaoa: { token: peerToken } } } },
    },
    beforeStart: async (gateway) => {
      const path = join(gateway.stateDir, "openclaw.json");
      const config = JSON.parse(await readFile(path, "utf8")) as { channels: { a2a: { peers: Record<string, unknown> } } };
      config.channels.a2a.peers.loop = { token: loopToken, url: `http://127.0.0.1:${gateway.port}/a2a/v1`, outboundToken: loopToken };
      await writeFile(path, JSON.stringify(config, null, 2));
      await beforeStart?.(gateway);
    },
  });
  try {
    await untilA2aRouteIsUp(gateway);
  } catch (error) {
    await gateway.dispose();
    throw error;
  }
  return gateway;
}

/** The A2A routes appear only once the Gateway's channels are up, a little after it answers. */
async function untilA2aRouteIsUp(gateway: TestGateway, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await fetch(`${gateway.httpUrl}/.well-known/agent-card.json`)).status !== 200) {
    if (Date.now() > deadline) throw new Error(`the A2A Agent Card of ${gateway.name} never appeared`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}
