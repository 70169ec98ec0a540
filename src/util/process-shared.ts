/**
 * One value per process under `key`, made by `create` on first use. Kept on globalThis because a
 * Gateway may load the plugin's modules more than once (one copy per plugin registry), and each
 * copy must see the same value.
 */
export function processShared<T>(key: string, create: () => T): T {
  const slot = Symbol.for(`openclaw-inter-instance.${key}`);
  const shared = globalThis as Record<symbol, unknown>;
  if (!(slot in shared)) shared[slot] = create();
  return shared[slot] as T;
}
