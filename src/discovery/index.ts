import { normalizeDomain } from "../config/schema/discovery.js";
import type { Config } from "../config/schema.js";
import { type Beacon, type BeaconAnswer, parseBeacon } from "./beacon.js";
import { browseBeacons, LAN_SOURCE } from "./browse.js";
import { type DiscoveredGateway, describeBeacons, type KnownGateway } from "./match.js";
import { queryWideArea } from "./wide-area.js";

export type { Beacon } from "./beacon.js";
export { canonicalFingerprint, sameFingerprint } from "./fingerprint.js";
export type { DiscoveredGateway, KnownGateway, PinVerdict } from "./match.js";

/** How long `discoverGateways` listens unless told: what `openclaw gateway discover` waits, too. */
export const DEFAULT_DISCOVERY_TIMEOUT_MS = 3_000;

export interface DiscoverOptions {
  /** How long to listen for beacons (default 3 s). */
  readonly timeoutMs?: number | undefined;
  /** Browse on the interface with this IPv4 address (default: the config's `discovery.interface`, else the system's multicast route). */
  readonly interface?: string | undefined;
  /** Browse the LAN by mDNS (default: the config's `discovery.lan`, else yes). */
  readonly lan?: boolean | undefined;
  /** Wide-area DNS-SD domains to look in (default: the config's `discovery.wideAreaDomains`). */
  readonly domains?: readonly string[] | undefined;
  /** DNS servers (`ip` or `ip:port`) to ask for those domains (default: the config's `discovery.dnsServers`, else the system's). */
  readonly dnsServers?: readonly string[] | undefined;
  /** The configured instances, to say which beacon is which and whether its fingerprint matches the pin. */
  readonly config?: Config | undefined;
  readonly signal?: AbortSignal | undefined;
}

export interface DiscoveryResult {
  /** The Gateways whose beacon answered, with what this side knows of each. */
  readonly gateways: readonly DiscoveredGateway[];
  /** Answers that were not used, each with what was wrong with it (field by field). */
  readonly ignored: readonly { readonly from: string | undefined; readonly source?: string | undefined; readonly problem: string }[];
  /** Where it looked: `lan` and each domain. */
  readonly sources: readonly string[];
  /** A source that could not be asked at all (no multicast, no DNS answer), with what to do. */
  readonly failed: readonly { readonly source: string; readonly problem: string }[];
}

/**
 * The OpenClaw Gateways on this LAN, from OpenClaw's own beacon (`_openclaw-gw._tcp` over mDNS),
 * and in the wide-area DNS-SD domains asked for (unicast DNS, as OpenClaw's
 * `discovery.wideArea.domain` publishes them): name, the address its SRV/A records resolve to,
 * port, TLS and the fingerprint it advertises, and where it was found. Everything in a beacon is
 * unauthenticated: use it to fill in an address, and compare the fingerprint with the one on that
 * machine before pinning it; never let it replace a stored pin. Throws only when every source failed.
 */
export async function discoverGateways(options: DiscoverOptions = {}): Promise<DiscoveryResult> {
  const settings = options.config?.discovery;
  const timeoutMs = options.timeoutMs ?? DEFAULT_DISCOVERY_TIMEOUT_MS;
  const lan = options.lan ?? settings?.lan ?? true;
  const domains = [...new Set((options.domains ?? settings?.wideAreaDomains ?? []).map(normalizeDomain))];
  const servers = options.dnsServers ?? settings?.dnsServers;
  const lookups: { source: string; run: () => Promise<{ answers: readonly BeaconAnswer[]; unreadable: readonly { name: string; problem: string }[] }> }[] = [
    ...(lan
      ? [
          {
            source: LAN_SOURCE,
            run: async () => ({
              answers: await browseBeacons({ timeoutMs, interface: options.interface ?? settings?.interface, signal: options.signal }),
              unreadable: [],
            }),
          },
        ]
      : []),
    ...domains.map((domain) => ({ source: domain, run: () => queryWideArea({ domain, servers, timeoutMs, signal: options.signal }) })),
  ];
  const settled = await Promise.allSettled(lookups.map((lookup) => lookup.run()));
  const beacons: Beacon[] = [];
  const ignored: { from: string | undefined; source: string; problem: string }[] = [];
  const failed: { source: string; problem: string }[] = [];
  for (const [i, outcome] of settled.entries()) {
    const { source } = lookups[i]!;
    if (outcome.status === "rejected") {
      failed.push({ source, problem: outcome.reason instanceof Error ? outcome.reason.message : String(outcome.reason) });
      continue;
    }
    for (const { name, problem } of outcome.value.unreadable) ignored.push({ from: name, source, problem });
    for (const answer of outcome.value.answers) {
      const checked = parseBeacon(answer);
      if (checked.ok) beacons.push(checked.beacon);
      else ignored.push({ from: answer.from ?? (typeof answer.instanceName === "string" ? answer.instanceName : undefined), source, problem: checked.problem });
    }
  }
  if (lookups.length > 0 && failed.length === lookups.length) {
    const first = settled.find((outcome) => outcome.status === "rejected")!;
    throw first.reason;
  }
  return {
    gateways: describeBeacons(dedupe(beacons), knownGateways(options.config)),
    ignored,
    sources: lookups.map((lookup) => lookup.source),
    failed,
  };
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
