import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { startGateway, type GatewayOptions, type TestGateway } from "./gateway.ts";
import { watchSecret } from "./secrets-watch.ts";

/**
 * A Gateway with the bundled A2A channel on: a peer `xiaoa` (the sender, by `peerToken`), and a
 * peer `loop` that is this Gateway itself, so a `send` on the a2a channel is a real channel send
 * that needs no network.
 */
export function startA2aGateway(
  options: GatewayOptions & { readonly peerToken: string; readonly loopToken: string; /** The channel's default is 30; 0 turns the limit off. */ readonly rateLimitPerMinute?: number },
): Promise<TestGateway> {
  const { peerToken, loopToken, rateLimitPerMinute, beforeStart, ...rest } = options;
  watchSecret(peerToken);
  watchSecret(loopToken);
  return startGateway({
    ...rest,
    extraConfig: { ...rest.extraConfig, channels: { a2a: { enabled: true, ...(rateLimitPerMinute === undefined ? {} : { rateLimitPerMinute }), peers: { xiaoa: { token: peerToken } } } } },
    beforeStart: async (gateway) => {
      const path = join(gateway.stateDir, "openclaw.json");
      const config = JSON.parse(await readFile(path, "utf8")) as { channels: { a2a: { peers: Record<string, unknown> } } };
      config.channels.a2a.peers.loop = { token: loopToken, url: `http://127.0.0.1:${gateway.port}/a2a/v1`, outboundToken: loopToken };
      await writeFile(path, JSON.stringify(config, null, 2));
      await beforeStart?.(gateway);
    },
  });
}
