import { once } from "../../util/lazy.js";
import { zod } from "../../util/zod.js";
import { envNameSchema } from "./common.js";
import { exactlyOneSecret, secretFields } from "./secret.js";
import { urlSchema } from "./urls.js";

const natsAuthSchema = once(() => {
  const z = zod();
  const path = () => z.string().min(1);
  const userPassword = z
    .object({
      user: z.string().min(1),
      passwordEnv: envNameSchema().optional().meta({ description: "The environment variable holding the password." }),
      passwordFile: path().optional().meta({ description: "A file holding only the password." }),
    })
    .strict()
    .refine((value) => (value.passwordEnv === undefined) !== (value.passwordFile === undefined), {
      message: "set exactly one of passwordEnv or passwordFile",
      path: ["passwordEnv"],
    });
  return z
    .union([
      z.object({ credsFile: path().meta({ description: "A NATS credentials file (JWT and NKey seed)." }) }).strict(),
      z.object({ nkeySeedFile: path().meta({ description: "A file holding only the NKey seed." }) }).strict(),
      userPassword,
      z
        .object(secretFields())
        .strict()
        .refine(...exactlyOneSecret),
    ])
    .meta({ description: "How this instance authenticates to the NATS servers: one method. Secrets by file or environment variable." });
});

const natsServerSchema = () => urlSchema(/^(nats|tls|wss?):$/u, "must be a nats://, tls://, ws:// or wss:// URL", { userInfo: "them in auth", query: "auth" });

export const natsSchema = once(() => {
  const z = zod();
  const optionalPath = () => z.string().min(1).optional();
  return z
    .object({
      servers: z
        .array(natsServerSchema())
        .min(1)
        .meta({ description: "The fleet's NATS servers: nats://, tls://, ws:// or wss:// URLs, without credentials." }),
      fleet: z
        .string()
        .regex(/^[A-Za-z0-9_-]{1,32}$/u, "fleet names use letters, digits, - and _")
        .meta({ description: "Names the stream, the subjects `iim.<fleet>.<instance>` and the KV buckets." }),
      auth: natsAuthSchema().optional(),
      tls: z
        .object({ caFile: optionalPath(), certFile: optionalPath(), keyFile: optionalPath() })
        .strict()
        .optional()
        .meta({ description: "TLS files: the CA to trust, and this side's client certificate and key." }),
      duplicateWindowMs: z
        .number()
        .int()
        .min(120_000)
        .max(7 * 86_400_000)
        .default(2 * 3_600_000)
        .meta({ description: "Publishes with the same envelope id within this window are stored once (`Nats-Msg-Id`); longer than any retry." }),
      maxDeliver: z.number().int().min(1).max(100).default(5).meta({
        description:
          "Unsuccessful deliveries of one message to this instance's agent before it goes to the dead-letter subject (waiting for a full turn counts as none).",
      }),
      presenceTtlMs: z
        .number()
        .int()
        .min(10_000)
        .max(86_400_000)
        .default(120_000)
        .meta({ description: "How long an instance stays in the presence registry after its last announcement." }),
    })
    .strict()
    .meta({ description: "A fleet on NATS JetStream: every instance dials out to the same servers; none needs an open port." });
});
