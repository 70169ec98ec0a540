import { once } from "../../util/lazy.js";
import { zod } from "../../util/zod.js";
import { atMostOneSecret, secretFields } from "./secret.js";
import { tokenUrlSchema } from "./urls.js";

const SHA256_FINGERPRINT = /^(?:sha256:)?(?:[0-9A-Fa-f]{2}:){31}[0-9A-Fa-f]{2}$|^(?:sha256:)?[0-9A-Fa-f]{64}$/u;

/** A Gateway to connect to, with at most one credential: none means the device token from pairing. */
export const gatewaySchema = once(() => {
  const z = zod();
  return z
    .object({
      url: tokenUrlSchema(/^wss?:$/u, "must be a ws:// or wss:// URL").meta({ description: "The Gateway's ws:// or wss:// URL, without credentials." }),
      ...secretFields(),
      tlsFingerprint: z
        .string()
        .regex(SHA256_FINGERPRINT, "must be a SHA-256 fingerprint, 64 hex digits with or without colons")
        .optional()
        .meta({ description: "Pins the wss:// certificate by its SHA-256 fingerprint (64 hex digits, colons optional)." }),
    })
    .strict()
    .refine(...atMostOneSecret)
    .meta({ description: "A Gateway: its URL and at most one of token, tokenEnv or tokenFile (none: the device token this machine stored when it paired)." });
});
