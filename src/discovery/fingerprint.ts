/** A SHA-256 fingerprint: 64 hex digits, with or without colons, optionally prefixed `sha256:`. */
export const SHA256_FINGERPRINT = /^(?:sha256:)?(?:(?:[0-9A-Fa-f]{2}:){31}[0-9A-Fa-f]{2}|[0-9A-Fa-f]{64})$/u;

/**
 * The one form fingerprints are shown and compared in: colon hex in capitals, as Node prints a
 * certificate's `fingerprint256` and `gateway.tlsFingerprint` takes it. OpenClaw advertises 64
 * lower-case digits; both read the same here. Undefined for anything that is not a fingerprint.
 */
export function canonicalFingerprint(value: string | undefined): string | undefined {
  const trimmed = value?.trim();
  if (!trimmed || !SHA256_FINGERPRINT.test(trimmed)) return undefined;
  const hex = trimmed
    .replace(/^sha256:/u, "")
    .replaceAll(":", "")
    .toUpperCase();
  return hex.match(/../gu)!.join(":");
}

/** Whether two fingerprints, in any accepted form, name the same certificate. */
export function sameFingerprint(a: string | undefined, b: string | undefined): boolean {
  const left = canonicalFingerprint(a);
  return left !== undefined && left === canonicalFingerprint(b);
}
