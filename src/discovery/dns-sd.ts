// DNS-SD record contents as node's resolver hands them over (RFC 6763), turned into what the beacon parser checks.

/** The service OpenClaw's Gateways announce: `_openclaw-gw._tcp.<domain>`. */
export const GATEWAY_SERVICE = "_openclaw-gw._tcp";

/** At most this many TXT strings of one record are read, and at most this many PTR answers of one domain. */
export const MAX_TXT_STRINGS = 64;
export const MAX_INSTANCES = 64;

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * A TXT record's strings as keys and values (RFC 6763 §6.3–6.4): keys are case-insensitive, the
 * first occurrence of a key wins, a string without "=" is a flag with no value and is skipped here.
 * Node hands each string over one character per byte, so the bytes are read again as UTF-8; a
 * string that is not UTF-8 makes the record unusable (undefined, with the reason).
 */
export function txtKeys(strings: readonly string[]): { readonly keys: Record<string, string> } | { readonly problem: string } {
  if (strings.length > MAX_TXT_STRINGS) return { problem: `txt: has more than ${MAX_TXT_STRINGS} strings` };
  const keys: Record<string, string> = {};
  for (const raw of strings) {
    let text: string;
    try {
      text = utf8.decode(Buffer.from(raw, "latin1"));
    } catch {
      return { problem: "txt: is not UTF-8" };
    }
    const at = text.indexOf("=");
    if (at <= 0) continue;
    const key = text.slice(0, at).toLowerCase();
    const canonical = KNOWN_KEYS.get(key) ?? key;
    if (!Object.hasOwn(keys, canonical)) keys[canonical] = text.slice(at + 1);
  }
  return { keys };
}

// The beacon parser reads OpenClaw's camelCase keys; DNS-SD keys compare without case.
const KNOWN_KEYS = new Map(
  ["displayName", "lanHost", "gatewayPort", "gatewayTls", "gatewayTlsSha256", "role", "transport", "gatewayDirectReachable", "tailnetDns"].map((key) => [
    key.toLowerCase(),
    key,
  ]),
);

/**
 * The service instance name of a PTR answer (`mac-mini-gateway._openclaw-gw._tcp.openclaw.internal`
 * → `mac-mini-gateway`), or undefined when the answer is not an instance of our service in this
 * domain: a PTR pointing elsewhere is not followed.
 */
export function instanceNameOf(ptr: string, domain: string): string | undefined {
  const suffix = `.${GATEWAY_SERVICE}.${domain}`.toLowerCase();
  const name = ptr.replace(/\.$/u, "");
  if (!name.toLowerCase().endsWith(suffix)) return undefined;
  const label = name.slice(0, -suffix.length);
  if (label.length === 0) return undefined;
  // c-ares writes a dot inside a label as "\." and other bytes as "\DDD".
  const bytes: number[] = [];
  for (let i = 0; i < label.length; i += 1) {
    const char = label[i]!;
    const decimal = char === "\\" ? /^\d{3}/u.exec(label.slice(i + 1))?.[0] : undefined;
    if (decimal !== undefined) {
      bytes.push(Number(decimal));
      i += 3;
    } else if (char === "\\" && i + 1 < label.length) {
      bytes.push(...Buffer.from(label[i + 1]!, "utf8"));
      i += 1;
    } else if (char === ".") {
      return undefined;
    } else bytes.push(...Buffer.from(char, "utf8"));
  }
  try {
    return utf8.decode(Uint8Array.from(bytes));
  } catch {
    return undefined;
  }
}
