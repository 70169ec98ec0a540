import { credentialParameters } from "../../util/redact.js";
import { zod } from "../../util/zod.js";

/** `?token=…`, `?auth=…`, `?password=…` in a URL: refused like user-info, naming the parameters and where the secret goes. */
function noQueryCredentials(where: string) {
  return {
    error: (issue: { readonly input?: unknown }) => {
      const names = credentialParameters(String(issue.input)).map((name) => `"${name}"`);
      return `must not carry credentials in its query string (${names.join(", ")}); remove ${names.length === 1 ? "that parameter" : "those parameters"} and put the secret in ${where}`;
    },
  };
}

const withoutQueryCredentials = (value: string) => !URL.canParse(value) || credentialParameters(value).length === 0;
const withoutUserInfo = (value: string) => !URL.canParse(value) || (new URL(value).username === "" && new URL(value).password === "");

/**
 * A URL with one of the given schemes. Credentials in a URL end up in logs, reports and process
 * lists, so user-info and credential query parameters are refused with where the secret goes instead.
 */
export function urlSchema(scheme: RegExp, message: string, secretGoes: { userInfo: string; query: string }) {
  return zod()
    .string()
    .refine((value) => URL.canParse(value) && scheme.test(new URL(value).protocol), message)
    .refine(withoutUserInfo, `must not carry credentials (user:password@); put ${secretGoes.userInfo}`)
    .refine(withoutQueryCredentials, noQueryCredentials(secretGoes.query));
}

/** A Gateway or A2A URL, whose secret goes in the token fields beside it. */
export const tokenUrlSchema = (scheme: RegExp, message: string) =>
  urlSchema(scheme, message, { userInfo: "the secret in token or tokenEnv", query: "token, tokenEnv or tokenFile" });
