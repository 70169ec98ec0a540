// This side's own settings: dispatch defaults, the CLI it runs, and the plugin's services.
import { once } from "../../util/lazy.js";
import { zod } from "../../util/zod.js";
import { sessionKeySchema, timeoutsSchema, transportListSchema } from "./common.js";

export const defaultsSchema = once(() => {
  const z = zod();
  return z
    .object({
      transports: transportListSchema().optional().meta({
        description:
          "Every instance's transports in priority order, unless it sets its own; default sessions_send, nodes, agent_cli, memory_file, message_tool.",
      }),
      timeouts: timeoutsSchema().optional().meta({ description: "Per-attempt budgets in ms, by transport, for every instance unless it sets its own." }),
      retries: z
        .number()
        .int()
        .min(0)
        .max(10)
        .default(2)
        .meta({ description: "More attempts on the same transport after a transient problem, before falling back to the next." }),
      circuitCooldownMs: z
        .number()
        .int()
        .min(0)
        .max(3_600_000)
        .default(30_000)
        .meta({ description: "After an unavailable or timed-out attempt, skip that transport of that instance this long (0: never)." }),
    })
    .strict()
    .meta({ description: "How messages are sent to every instance, unless it sets its own." });
});

export const openclawCliSchema = once(() => {
  const z = zod();
  return z
    .object({
      bin: z
        .string()
        .min(1)
        .optional()
        .meta({ description: "Path of the `openclaw` executable (or its `openclaw.mjs`); default: PATH, then the installed package." }),
      stateDir: z
        .string()
        .min(1)
        .optional()
        .meta({ description: "The CLI's own state dir (its device identity); default `<stateDir>/openclaw-cli`, kept apart from a local Gateway's." }),
    })
    .strict()
    .meta({ description: "How to run the `openclaw` CLI for the agent_cli transport." });
});

export const inboxSchema = once(() => {
  const z = zod();
  return z
    .object({
      enabled: z.boolean().default(true),
      sessionKey: sessionKeySchema().default("agent:main:main").meta({ description: "The session whose next turn shows the message." }),
      wake: z.boolean().default(true).meta({ description: "Wake the agent at once (a heartbeat) instead of waiting for its next turn." }),
      pollMs: z
        .number()
        .int()
        .min(200)
        .max(600_000)
        .default(30_000)
        .meta({ description: "A slow safety net besides file-change events, for file systems that miss them (network mounts)." }),
    })
    .strict()
    .meta({ description: "The receiving side (plugin only): entries other instances write into this Gateway's memory file reach its agent." });
});

export const auditSchema = once(() => {
  const z = zod();
  return z
    .object({
      enabled: z.boolean().default(true),
      path: z.string().min(1).optional().meta({ description: "Default `<stateDir>/audit.sqlite`." }),
      bodies: z.boolean().default(false).meta({ description: "Keep each message's body too (off: who, what id, how, the verdict and the size only)." }),
    })
    .strict()
    .meta({ description: "Every message sent or shown here, in SQLite next to the outbox (`openclaw-inter-instance log`)." });
});

export const healthSchema = once(() =>
  zod()
    .object({
      intervalMs: zod().number().int().min(0).max(86_400_000).default(600_000).meta({ description: "How often the doctor's checks run, in ms. 0: never." }),
    })
    .strict()
    .meta({
      description: "Inside the plugin: the doctor's checks, run periodically; checks that do not pass show in the Gateway's health report (`openclaw health`).",
    }),
);

export const outboxSchema = once(() => {
  const z = zod();
  return z
    .object({
      enabled: z.boolean().default(true),
      path: z.string().min(1).optional().meta({ description: "Default `<stateDir>/outbox.sqlite`." }),
      retryMs: z
        .number()
        .int()
        .min(0)
        .max(86_400_000)
        .default(60_000)
        .meta({ description: "Inside the plugin: how often waiting envelopes are retried (each also backs off on its own). 0: never." }),
    })
    .strict()
    .meta({ description: "The durable queue of envelopes no transport could deliver." });
});
