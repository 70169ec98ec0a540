import { once } from "../../util/lazy.js";
import { zod } from "../../util/zod.js";
import { attachmentsSchema } from "./attachments.js";
import { INSTANCE_NAME } from "./common.js";
import { discoverySchema } from "./discovery.js";
import { inboundSchema } from "./inbound.js";
import { instanceSchema } from "./instance.js";
import { auditSchema, defaultsSchema, healthSchema, inboxSchema, openclawCliSchema, outboxSchema } from "./local.js";
import { natsSchema } from "./nats.js";

const groupsSchema = () => {
  const z = zod();
  return z
    .record(
      z.string().regex(INSTANCE_NAME, "group names use letters, digits, - and _"),
      z.array(z.string().trim().min(1)).min(1, "a group needs at least one member"),
    )
    .default({})
    .meta({
      description:
        "Named groups of instances (by name or alias): `send` and `delegate` to a group name reach each member. `all` is every configured instance unless defined here.",
    });
};

// `.prefault({})`: an absent block is parsed as `{}`, so its fields' own defaults fill it (written once).
export const configSchema = once(() => {
  const z = zod();
  return (
    z
      .object({
        self: z
          .object({ name: z.string().trim().min(1).max(64).meta({ description: 'How this side names itself to others ("Notification from <self.name>").' }) })
          .strict(),
        instances: z
          .record(z.string().regex(INSTANCE_NAME, "instance names use letters, digits, - and _"), instanceSchema())
          .meta({ description: "The other instances, by name." }),
        defaults: defaultsSchema().prefault({}),
        stateDir: z.string().min(1).optional().meta({ description: "Where the device identity and device tokens of this client live." }),
        openclawCli: openclawCliSchema().prefault({}),
        inbox: inboxSchema().prefault({}),
        groups: groupsSchema(),
        inbound: inboundSchema().prefault({}),
        nats: natsSchema()
          .optional()
          .meta({ description: "This instance's NATS JetStream fleet: the `nats` transport and, in the plugin, the receiving consumer and presence." }),
        audit: auditSchema().prefault({}),
        health: healthSchema().prefault({}),
        outbox: outboxSchema().prefault({}),
        discovery: discoverySchema().prefault({}),
        attachments: attachmentsSchema().prefault({}),
      })
      .strict()
      // On a fleet this instance's name is a subject token and a consumer name.
      .refine((config) => !config.nats || INSTANCE_NAME.test(config.self.name), {
        message: "on a NATS fleet, self.name uses letters, digits, - and _",
        path: ["self", "name"],
      })
  );
});
