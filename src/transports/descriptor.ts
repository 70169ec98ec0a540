import type { InstanceRegistry } from "../config/registry.js";
import type { Config } from "../config/schema.js";
import type { Transport } from "../core/transport.js";
import type { GatewayPool } from "../gateway/connection.js";
import type { FleetLease } from "./nats/fleet.js";

/** What a transport may be built from: the parts `createMessenger` assembles once per messenger. */
export interface TransportParts {
  readonly config: Config;
  readonly registry: InstanceRegistry;
  readonly env: NodeJS.ProcessEnv;
  /** This instance's state directory (device identity, ledgers). */
  readonly stateDir: string;
  /** Kept-open Gateway connections, shared by every transport. */
  readonly pool: GatewayPool;
  /** The NATS fleet connection, when the config has one. */
  readonly natsLease: FleetLease | undefined;
}

/** One built-in way of reaching another instance: the one place its id, its timeouts and its factory are written. */
export interface TransportDescriptor<Id extends string = string> {
  readonly id: Id;
  /** The per-attempt budget when the config sets none. */
  readonly defaultTimeoutMs: number;
  /** Below this its normal case does not fit; `doctor` fails a smaller timeout. */
  readonly minTimeoutMs: number;
  /** Tried, in list order, by an instance that names no transports; opt-in otherwise. */
  readonly inDefaultOrder: boolean;
  readonly create: (parts: TransportParts) => Transport;
}
