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

/** The user-info part of every URL in a text (`ws://user:secret@host` → `ws://[redacted]@host`). */
export function scrubUrlCredentials(text: string): string {
  return text.includes("@") ? text.replace(/\b([a-z][a-z0-9+.-]*:\/\/)[^\s/?#@]+@/giu, "$1[redacted]@") : text;
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
