/**
 * Replaces every occurrence of the given secrets in a text. Errors raised by remote peers or
 * child processes can quote a token back; nothing the library reports may carry one.
 */
export function scrubSecrets(text: string, secrets: Iterable<string | undefined>): string {
  let result = scrubUrlCredentials(text);
  for (const secret of secrets) {
    if (secret && secret.length >= 4) result = result.split(secret).join("[redacted]");
  }
  return result;
}

/**
 * Whether a URL query parameter carries a credential by its name: `token`, `auth`, `password`,
 * `access_token`, `key`, `api_key`, `secret`, `sig`, … (case, `-` and `_` ignored).
 */
export function isCredentialParameter(name: string): boolean {
  let decoded = name;
  try {
    decoded = decodeURIComponent(name);
  } catch {
    // a malformed escape: judge the name as written
  }
  const folded = decoded.toLowerCase().replace(/[^a-z0-9]/gu, "");
  return (
    /token|auth|passw|pwd|secret|credential|signature|apikey|accesskey|privatekey|jwt|bearer/u.test(folded) || /(?:^|[_.-])(?:key|pass|sig)$/iu.test(decoded)
  );
}

/** The names of a URL's query parameters that carry a credential (`ws://host/?token=…` → `["token"]`). */
export function credentialParameters(rawUrl: string): string[] {
  return [...new Set(new URL(rawUrl).searchParams.keys())].filter(isCredentialParameter);
}

const URL_IN_TEXT = /\b[a-z][a-z0-9+.-]*:\/\/[^\s"'`<>]+/giu;
const QUERY_PAIR = /(^|[&;])([^=&;#]+)=([^&;#]*)/gu;

/** A URL's query-string credentials, values blanked (`?token=abc&x=1` → `?token=[redacted]&x=1`). */
function scrubQueryCredentials(url: string): string {
  const query = url.indexOf("?");
  if (query < 0) return url;
  const fragment = url.indexOf("#", query);
  const end = fragment < 0 ? url.length : fragment;
  const pairs = url
    .slice(query + 1, end)
    .replace(QUERY_PAIR, (pair: string, separator: string, name: string, value: string) =>
      value && isCredentialParameter(name) ? `${separator}${name}=[redacted]` : pair,
    );
  return `${url.slice(0, query + 1)}${pairs}${url.slice(end)}`;
}

/**
 * The credentials of every URL in a text: its user-info (`ws://user:secret@host` → `ws://[redacted]@host`)
 * and its query-string credentials (`ws://host/?token=secret` → `ws://host/?token=[redacted]`).
 */
export function scrubUrlCredentials(text: string): string {
  const withoutUserInfo = text.includes("@") ? text.replace(/\b([a-z][a-z0-9+.-]*:\/\/)[^\s/?#@]+@/giu, "$1[redacted]@") : text;
  return withoutUserInfo.includes("?") ? withoutUserInfo.replace(URL_IN_TEXT, scrubQueryCredentials) : withoutUserInfo;
}

/** Registry of secret values known to this process, so every log line and report can be scrubbed. */
export class SecretSet {
  readonly #secrets = new Set<string>();

  add(secret: string | undefined): void {
    if (secret && secret.length >= 4) this.#secrets.add(secret);
  }

  scrub(text: string): string {
    return scrubSecrets(text, this.#secrets);
  }

  values(): IterableIterator<string> {
    return this.#secrets.values();
  }
}
