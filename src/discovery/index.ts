import type { Config } from "../config/schema.js";
import { type Beacon, parseBeacon } from "./beacon.js";
import { browseBeacons } from "./browse.js";
import { type DiscoveredGateway, describeBeacons, type KnownGateway } from "./match.js";

export type { Beacon } from "./beacon.js";
export { canonicalFingerprint, sameFingerprint } from "./fingerprint.js";
export type { DiscoveredGateway, KnownGateway, PinVerdict } from "./match.js";

/** How long `discoverGateways` listens unless told: what `openclaw gateway discover` waits, too. */
export const DEFAULT_DISCOVERY_TIMEOUT_MS = 3_000;

export interface DiscoverOptions {
  /** How long to listen for beacons (default 3 s). */
  readonly timeoutMs?: number | undefined;
  /** Browse on the interface with this IPv4 address (default: the system's multicast route). */
  readonly interface?: string | undefined;
  /** The configured instances, to say which beacon is which and whether its fingerprint matches the pin. */
  readonly config?: Config | undefined;
  readonly signal?: AbortSignal | undefined;
}

export interface DiscoveryResult {
  /** The Gateways whose beacon answered, with what this side knows of each. */
  readonly gateways: readonly DiscoveredGateway[];
  /** Answers that were not used, each with what was wrong with it (field by field). */
  readonly ignored: readonly { readonly from: string | undefined; readonly problem: string }[];
}

/**
 * The OpenClaw Gateways on this LAN, from OpenClaw's own beacon (`_openclaw-gw._tcp` over mDNS):
 * name, the address its SRV/A records resolve to, port, TLS and the fingerprint it advertises.
 * Everything in a beacon is unauthenticated: use it to fill in an address, and compare the
 * fingerprint with the one on that machine before pinning it; never let it replace a stored pin.
 */
export async function discoverGateways(options: DiscoverOptions = {}): Promise<DiscoveryResult> {
  const answers = await browseBeacons({
    timeoutMs: options.timeoutMs ?? DEFAULT_DISCOVERY_TIMEOUT_MS,
    interface: options.interface,
    signal: options.signal,
  });
  const beacons: Beacon[] = [];
  const ignored: { from: string | undefined; problem: string }[] = [];
  for (const answer of answers) {
    const checked = parseBeacon(answer);
    if (checked.ok) beacons.push(checked.beacon);
    else ignored.push({ from: answer.from, problem: checked.problem });
  }
  return { gateways: describeBeacons(dedupe(beacons), knownGateways(options.config)), ignored };
}

/** The configured instances with a Gateway, as matching takes them. */
export function knownGateways(config: Config | undefined): KnownGateway[] {
  return Object.entries(config?.instances ?? {}).map(([name, instance]) => ({
    name,
    url: instance.gateway?.url,
    tlsFingerprint: instance.gateway?.tlsFingerprint,
  }));
}

/** The same beacon heard twice (both browse rounds, or an answer repeated) counts once. */
function dedupe(beacons: readonly Beacon[]): Beacon[] {
  const seen = new Map<string, Beacon>();
  for (const beacon of beacons) {
    const { from: _from, ...content } = beacon;
    seen.set(JSON.stringify(content), seen.get(JSON.stringify(content)) ?? beacon);
  }
  return [...seen.values()];
}
