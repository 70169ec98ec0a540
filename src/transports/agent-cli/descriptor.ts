import { join } from "node:path";
import type { TransportDescriptor } from "../descriptor.js";
import { AgentCliTransport } from "./transport.js";

/** `openclaw agent` against the target's Gateway: waits for a whole agent turn (60–120 s measured). */
export const agentCli: TransportDescriptor<"agent_cli"> = {
  id: "agent_cli",
  defaultTimeoutMs: 120_000,
  minTimeoutMs: 60_000,
  inDefaultOrder: true,
  create: ({ pool, config, stateDir, env }) =>
    new AgentCliTransport({ pool, bin: config.openclawCli.bin, stateDir: config.openclawCli.stateDir ?? join(stateDir, "openclaw-cli"), env }),
};
