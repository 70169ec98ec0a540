import { once } from "../../util/lazy.js";
import { zod } from "../../util/zod.js";
import { sessionKeySchema, timeoutsSchema, timeZoneSchema, transportListSchema } from "./common.js";
import { gatewaySchema } from "./gateway.js";
import { inboundActionSchema, withActions } from "./inbound.js";
import { a2aSchema, messageToolSchema, nodeSchema } from "./targets.js";

const absolutePaths = () => zod().array(zod().string().startsWith("/", "must be an absolute path on the target")).default([]);

const doctorSchema = once(() =>
  zod()
    .object({
      repos: absolutePaths().meta({ description: "Git checkouts on the target the agent relies on (absolute paths)." }),
      links: absolutePaths().meta({ description: "Symlinks on the target the agent relies on (absolute paths)." }),
    })
    .strict()
    .meta({ description: "What `doctor` also checks on the target machine (through its node): git checkouts and symlinks the agent relies on." }),
);

export const instanceSchema = once(() => {
  const z = zod();
  return z
    .object({
      aliases: z
        .array(z.string().trim().min(1))
        .default([])
        .meta({ description: "Other names, matched case- and width-insensitively, ignoring spaces, - and _." }),
      displayName: z.string().min(1).optional().meta({ description: "The name shown for it; default its name in `instances`." }),
      publicKey: z
        .string()
        .regex(/^[A-Za-z0-9_-]{43}$/u, "must be an Ed25519 public key: 43 characters of base64url, as `openclaw-inter-instance keys` shows it")
        .optional()
        .meta({ description: "Its messaging key (`openclaw-inter-instance keys` there): what it sends here is verified against it." }),
      inbound: inboundActionSchema()
        .default("allow")
        .meta(withActions("What this Gateway's plugin does with a message verified as from this instance (unverified ones follow `inbound.unverified`).")),
      ratePerHour: z
        .number()
        .int()
        .min(1)
        .max(1_000_000)
        .optional()
        .meta({ description: "Past this many messages from it in an hour, the rest are held for the owner (default `inbound.ratePerHour`)." }),
      gateway: gatewaySchema().optional(),
      a2a: a2aSchema().optional(),
      messageTool: messageToolSchema().optional(),
      node: nodeSchema().optional(),
      sessionKey: sessionKeySchema().default("agent:main:main").meta({ description: "The target session." }),
      maxQueued: z.number().int().min(1).max(10_000).default(10).meta({
        description:
          "At most this many messages may wait in the target session's queue when `sessions_send` adds one; keep it under the target's `messages.queue.cap` (20 by default), past which the Gateway drops messages.",
      }),
      workspace: z.string().min(1).optional().meta({ description: "The target agent's workspace, for `memory_file` (a path this host can write)." }),
      doctor: doctorSchema().prefault({}),
      timeZone: timeZoneSchema().optional().meta({ description: "The IANA time zone for the daily note's date and time; default this host's." }),
      transports: transportListSchema().optional().meta({ description: "The transports to try, in priority order; default `defaults.transports`." }),
      timeouts: timeoutsSchema()
        .optional()
        .meta({ description: "Per-attempt budgets in ms, by transport; they override `defaults.timeouts` and the built-in budgets." }),
    })
    .strict();
});
