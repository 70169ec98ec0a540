import { normalizeName } from "../config/names.js";
import type { InstanceRegistry } from "../config/registry.js";
import type { NatsFleet } from "../transports/nats/fleet.js";
import type { PresenceEntry } from "../transports/nats/presence.js";
import type { FleetView } from "./api.js";

export const fleetMembers = async (fleet: NatsFleet): Promise<PresenceEntry[]> => (await import("../transports/nats/presence.js")).fleetMembers(fleet);

/** The fleet member a name or alias means (matched as the registry matches names), if present. */
export async function fleetMember(fleet: NatsFleet, nameOrAlias: string): Promise<PresenceEntry | undefined> {
  const wanted = normalizeName(nameOrAlias);
  const members = await fleetMembers(fleet).catch(() => []);
  return members.find((member) => [member.name, ...member.aliases].some((label) => normalizeName(label) === wanted));
}

export function fleetView(fleet: NatsFleet, registry: InstanceRegistry): FleetView {
  const receiver = () => import("../transports/nats/receiver.js");
  return {
    name: fleet.config.fleet,
    members: () => fleetMembers(fleet),
    deadLetters: async (instance = registry.self) => (await receiver()).deadLetters(fleet, instance),
    replay: async (seq, instance = registry.self) => (await receiver()).replayDeadLetter(fleet, instance, seq),
  };
}
