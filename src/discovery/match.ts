import type { Beacon } from "./beacon.js";
import { sameFingerprint } from "./fingerprint.js";

/** A configured instance as matching needs it: its name, Gateway URL and stored pin. */
export interface KnownGateway {
  readonly name: string;
  readonly url: string | undefined;
  readonly tlsFingerprint: string | undefined;
}

/**
 * How the advertised fingerprint stands against the configured instance's stored pin:
 * `match`; `mismatch` (a loud warning: the stored pin stays, the beacon may be a spoof); `no-pin`
 * (the instance has none); `not-advertised` (the beacon gives none).
 */
export type PinVerdict = "match" | "mismatch" | "no-pin" | "not-advertised";

export interface DiscoveredGateway extends Beacon {
  /** The configured instance at this address and port (or, elsewhere, pinned to the advertised certificate). */
  readonly configured: { readonly instance: string; readonly pin: PinVerdict } | undefined;
  /** Another beacon calls itself the same and advertises another fingerprint or address. */
  readonly duplicateName: boolean;
  /** What the person must know about this beacon, in sentences. */
  readonly warnings: readonly string[];
}

/** Each beacon with what this side knows of it: configured or not, its pin, a name claimed twice. */
export function describeBeacons(beacons: readonly Beacon[], known: readonly KnownGateway[]): DiscoveredGateway[] {
  return beacons.map((beacon) => {
    const configured = configuredAs(beacon, known);
    const rivals = beacons.filter((other) => other !== beacon && sameName(other.displayName, beacon.displayName) && !sameGateway(other, beacon));
    const warnings = [
      ...(configured?.pin === "mismatch"
        ? [
            `WARNING: it advertises a TLS fingerprint other than the one pinned for ${configured.instance}. Someone on this network may be impersonating ${configured.instance}; the stored pin stays and nothing was changed.`,
          ]
        : []),
      ...(rivals.length > 0
        ? [
            `WARNING: ${rivals.length + 1} beacons call themselves "${beacon.displayName}" with different addresses or fingerprints; at most one is that machine. Read the fingerprint on the machine itself before choosing one.`,
          ]
        : []),
      ...(beacon.address === undefined ? ["No address came with it (only its unauthenticated TXT names a host), so it cannot be used."] : []),
      ...(beacon.txtPort !== undefined ? [`Its TXT says port ${beacon.txtPort}, its SRV record ${beacon.port}; ${beacon.port} is used.`] : []),
      ...(beacon.tls ? [] : ["It serves no TLS: plain ws://, for a private network only."]),
    ];
    return { ...beacon, configured, duplicateName: rivals.length > 0, warnings };
  });
}

/** Display names match ignoring case and surrounding space. */
export function sameName(a: string, b: string): boolean {
  return a.trim().toLowerCase() === b.trim().toLowerCase();
}

function sameEndpoint(a: Beacon, b: Beacon): boolean {
  return a.address === b.address && a.port === b.port && a.fingerprint === b.fingerprint;
}

/** One Gateway seen twice: the same endpoint, or the same certificate listed on the LAN and in a domain (each with its own address). */
function sameGateway(a: Beacon, b: Beacon): boolean {
  return sameEndpoint(a, b) || (a.source !== b.source && a.fingerprint !== undefined && a.fingerprint === b.fingerprint);
}

function configuredAs(beacon: Beacon, known: readonly KnownGateway[]): DiscoveredGateway["configured"] {
  const atAddress = beacon.address === undefined ? undefined : known.find((instance) => pointsAt(instance.url, beacon.address!, beacon.port));
  if (atAddress) return { instance: atAddress.name, pin: verdict(atAddress.tlsFingerprint, beacon.fingerprint) };
  // Configured under another address (a Tailscale name, a tunnel): the same certificate says it is the same Gateway.
  const byPin = beacon.fingerprint === undefined ? undefined : known.find((instance) => sameFingerprint(instance.tlsFingerprint, beacon.fingerprint));
  return byPin ? { instance: byPin.name, pin: "match" } : undefined;
}

function verdict(pin: string | undefined, advertised: string | undefined): PinVerdict {
  if (advertised === undefined) return "not-advertised";
  if (pin === undefined) return "no-pin";
  return sameFingerprint(pin, advertised) ? "match" : "mismatch";
}

/** Whether a Gateway URL names this address and port. */
function pointsAt(url: string | undefined, address: string, port: number): boolean {
  if (url === undefined || !URL.canParse(url)) return false;
  const parsed = new URL(url);
  const urlPort = parsed.port ? Number(parsed.port) : parsed.protocol === "wss:" ? 443 : 80;
  return parsed.hostname.replace(/^\[|\]$/gu, "").toLowerCase() === address.toLowerCase() && urlPort === port;
}
