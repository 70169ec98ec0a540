import { normalizeName } from "../config/names.js";
import type { Config } from "../config/schema.js";
import type { PinnedKeys } from "./sign-envelope.js";

/** The keys this side pinned (`instances.<name>.publicKey`), found by a sender's name or alias. */
export function pinnedKeysOf(config: Config): PinnedKeys {
  const keys = new Map<string, string>();
  for (const [name, instance] of Object.entries(config.instances)) {
    if (!instance.publicKey) continue;
    for (const label of [name, ...instance.aliases]) keys.set(normalizeName(label), instance.publicKey);
  }
  return (sender) => keys.get(normalizeName(sender));
}
