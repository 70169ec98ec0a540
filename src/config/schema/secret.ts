import { once } from "../../util/lazy.js";
import { zod } from "../../util/zod.js";
import { envNameSchema } from "./common.js";

/**
 * An OpenClaw SecretRef (`docs/gateway/secrets`): inside a Gateway the plugin's manifest declares
 * these paths, so the Gateway resolves them before the plugin reads its config and redacts them in
 * its config views. Outside a Gateway only `source: "env"` can be resolved (from the environment).
 */
export const secretRefSchema = once(() => {
  const z = zod();
  return z
    .object({
      source: z.enum(["env", "file", "exec", "store"]),
      provider: z
        .string()
        .regex(/^[a-z][a-z0-9_-]{0,63}$/u, 'must be a secrets provider alias such as "default"')
        .meta({ description: 'The secrets provider alias, such as "default".' }),
      id: z.string().min(1),
    })
    .strict()
    .meta({ description: 'An OpenClaw SecretRef, resolved by the Gateway; outside a Gateway only source "env" resolves.' });
});

/** A credential given inline (plaintext or a SecretRef), by environment variable, or by file: one of them. */
export function secretFields(tokenDescription = "The credential, in plaintext or as an OpenClaw SecretRef.") {
  const z = zod();
  return {
    token: z
      .union([z.string().min(1), secretRefSchema()])
      .optional()
      .meta({ description: tokenDescription }),
    tokenEnv: envNameSchema().optional().meta({ description: "The environment variable holding the credential." }),
    tokenFile: z
      .string()
      .min(1)
      .optional()
      .meta({ description: "A file holding only the token (a trailing newline is dropped); keep it readable by this user alone." }),
  };
}

interface SecretFields {
  token?: unknown;
  tokenEnv?: string | undefined;
  tokenFile?: string | undefined;
}
type SecretRule = [(value: SecretFields) => boolean, { message: string; path: string[] }];

const secretCount = (value: SecretFields) => [value.token, value.tokenEnv, value.tokenFile].filter((field) => field !== undefined).length;

export const exactlyOneSecret: SecretRule = [
  (value) => secretCount(value) === 1,
  { message: "set exactly one of token, tokenEnv or tokenFile", path: ["token"] },
];

/** A Gateway credential is optional: without one, the device token stored when this machine paired (`pair`) is used. */
export const atMostOneSecret: SecretRule = [
  (value) => secretCount(value) <= 1,
  { message: "set at most one of token, tokenEnv or tokenFile (none: the device token from pairing)", path: ["token"] },
];
