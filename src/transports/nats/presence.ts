import type { NatsFleet } from "./fleet.js";

/** What an instance announces about itself in the fleet's presence bucket. */
export interface PresenceEntry {
  readonly name: string;
  readonly aliases: readonly string[];
  /** Transports it receives on (the plugin: nats, memory_file; a Gateway: sessions_send). */
  readonly receives: readonly string[];
  /** Its messaging key (raw Ed25519, base64url), for an operator to compare before pinning it; never trusted from here alone. */
  readonly publicKey?: string;
  readonly lastSeen: string;
}

/** Puts this instance in the fleet's registry; entries age out after `presenceTtlMs` without a new announcement. */
export async function announce(fleet: NatsFleet, entry: Omit<PresenceEntry, "lastSeen">): Promise<void> {
  const bucket = await fleet.bucket(fleet.names.presence, fleet.config.presenceTtlMs);
  await bucket.put(entry.name, JSON.stringify({ ...entry, lastSeen: new Date().toISOString() } satisfies PresenceEntry));
}

/** Every instance seen in the fleet within its TTL. */
export async function fleetMembers(fleet: NatsFleet): Promise<PresenceEntry[]> {
  const bucket = await fleet.bucket(fleet.names.presence, fleet.config.presenceTtlMs);
  const keys: string[] = [];
  for await (const key of await bucket.keys()) keys.push(key);
  // All reads in flight together: one round trip for a fleet of any size, not one per member.
  const entries = await Promise.all(keys.map((key) => bucket.get(key)));
  const members = entries.flatMap((entry) => (entry && entry.operation === "PUT" ? [entry.json<PresenceEntry>()] : []));
  return members.sort((a, b) => a.name.localeCompare(b.name));
}
