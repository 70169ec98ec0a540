import type { ConfigInput } from "../../src/index.js";

/**
 * The config of a sender that reaches Xiaom's session only by `sessions_send`, paced to `maxQueued`
 * waiting in it, with an attempt budget long enough for a loaded target: what the race suite, the
 * burst tests and bench scenario 13 send with.
 */
export function sessionsSendOnly(target: { url: string; token: string }, options: { stateDir: string; sessionKey: string; maxQueued: number }): ConfigInput {
  return {
    self: { name: "xiaoa" },
    stateDir: options.stateDir,
    instances: {
      xiaom: {
        gateway: { url: target.url, token: target.token },
        sessionKey: options.sessionKey,
        maxQueued: options.maxQueued,
        transports: ["sessions_send"],
        timeouts: { sessions_send: 180_000 },
      },
    },
  };
}
