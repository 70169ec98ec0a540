import { once } from "../../util/lazy.js";
import { zod } from "../../util/zod.js";

const ACTIONS = "allow: shown to the agent; hold: kept for the owner to approve or refuse; refuse: never shown.";

/** An inbound action's description: a field's own description replaces its schema's in the manifest. */
export const withActions = (description: string) => ({ description: `${description} ${ACTIONS}` });

export const inboundActionSchema = once(() => zod().enum(["allow", "hold", "refuse"]).meta({ description: ACTIONS }));

export const inboundSchema = once(() => {
  const z = zod();
  return z
    .object({
      unverified: inboundActionSchema().default("hold").meta(withActions("For a sender not in `instances`, or a message whose signature does not verify.")),
      ratePerHour: z
        .number()
        .int()
        .min(1)
        .max(1_000_000)
        .default(120)
        .meta({ description: "Per sender: past this many messages in an hour the rest are held." }),
      maxHops: z
        .number()
        .int()
        .min(1)
        .max(1000)
        .default(8)
        .meta({ description: "Loop limit: a conversation is stopped past this many hops (messages in either direction) in `hopWindowMs`." }),
      hopWindowMs: z
        .number()
        .int()
        .min(1000)
        .max(7 * 86_400_000)
        .default(3_600_000)
        .meta({ description: "The window in which `maxHops` counts a conversation's hops." }),
      maxAgeMs: z
        .number()
        .int()
        .min(60_000)
        .max(30 * 86_400_000)
        .default(86_400_000)
        .meta({
          description:
            "A signed message verifies only this long after it was signed (plus 5 minutes of clock skew); older copies are replays or waited too long.",
        }),
    })
    .strict()
    .meta({ description: "The receiving side's policy: who reaches the agent, how often, and how long a conversation may run." });
});
