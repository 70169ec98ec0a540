import type { GatewayTarget } from "./registry.js";

/**
 * Folds a name for lookup: Unicode NFKC (full-width ｍ becomes m), lower case, and no spaces,
 * hyphens or underscores, so "小M", "小 m", "Mac Mini" and "mac-mini" all find their instance.
 */
export function normalizeName(name: string): string {
  return name
    .normalize("NFKC")
    .toLowerCase()
    .replace(/[\s_-]+/gu, "");
}

/**
 * Why a Gateway target has nothing to connect with: a token variable that is configured but not
 * set. Undefined when it has a credential (a token, or the device token from pairing).
 */
export function missingCredential(gateway: GatewayTarget): string | undefined {
  return gateway.credential === "shared" && !gateway.token ? `no token: ${gateway.tokenSource} is not set` : undefined;
}
