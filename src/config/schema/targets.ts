// The ways to reach an instance besides its Gateway: its A2A channel, a person on a chat channel, a node host.
import { once } from "../../util/lazy.js";
import { zod } from "../../util/zod.js";
import { gatewaySchema } from "./gateway.js";
import { exactlyOneSecret, secretFields } from "./secret.js";
import { tokenUrlSchema } from "./urls.js";

export const a2aSchema = once(() =>
  zod()
    .object({
      url: tokenUrlSchema(/^https?:$/u, "must be an http:// or https:// URL").meta({
        description: "The target's A2A endpoint, `http(s)://host:port/a2a/v1`, or just the Gateway origin.",
      }),
      ...secretFields("The bearer the target expects from this side: its `channels.a2a.peers.<name>.token` (plaintext or a SecretRef)."),
    })
    .strict()
    .refine(...exactlyOneSecret)
    .meta({ description: "The target's bundled A2A channel (`channels.a2a` on its Gateway): its URL and exactly one of token, tokenEnv or tokenFile." }),
);

export const messageToolSchema = once(() => {
  const z = zod();
  return z
    .object({
      channel: z
        .string()
        .regex(/^[a-z0-9][a-z0-9_-]{0,63}$/u, "must be a channel id such as telegram")
        .meta({ description: "A channel configured on that Gateway: telegram, discord, slack, a2a, …" }),
      to: z.string().trim().min(1).max(256).meta({ description: "The recipient as the channel names it (chat id, @user, #channel, peer name)." }),
      accountId: z.string().min(1).optional().meta({ description: "The channel account to send from, when the channel has several." }),
      recipient: z
        .enum(["human", "bot"])
        .default("human")
        .meta({ description: "Telegram and most chat platforms refuse bot-to-bot messages; this transport is for people." }),
      gateway: gatewaySchema().optional().meta({ description: "The Gateway whose channel sends it; default the instance's own `gateway`." }),
    })
    .strict()
    .meta({ description: "A person reachable through a chat channel: the last rung, bot to human only." });
});

export const nodeSchema = once(() => {
  const z = zod();
  return z
    .object({
      gateway: gatewaySchema().meta({ description: "The Gateway the target machine's node host is paired to: usually this side's own Gateway." }),
      id: z
        .string()
        .regex(/^[0-9a-f]{64}$/u, "must be the node's 64-hex device id")
        .optional()
        .meta({ description: "The node's device id (64 hex digits, `openclaw nodes list`); or give its display name." }),
      name: z
        .string()
        .trim()
        .min(1)
        .max(128)
        .optional()
        .meta({ description: "The node's display name (`openclaw node run --display-name`); resolved to its id at each use." }),
      workspace: z
        .string()
        .min(1)
        .optional()
        .meta({ description: "The target agent's workspace as a path on the node's machine; default the instance's `workspace`." }),
    })
    .strict()
    .refine((value) => value.id !== undefined || value.name !== undefined, { message: "set the node's id or its name", path: ["id"] })
    .meta({ description: "A node host on the target machine, paired to `node.gateway`: remote exec, file writes, message delivery." });
});
