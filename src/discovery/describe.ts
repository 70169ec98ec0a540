// What `discover` found, in sentences: the CLI prints them, the plugin's route and page show them.
import { LAN_SOURCE } from "./browse.js";
import type { DiscoveredGateway } from "./match.js";

export interface DiscoveryScope {
  /** Where it looked: `lan` and the domains. */
  readonly sources?: readonly string[] | undefined;
  /** Sources that could not be asked, with why. */
  readonly failed?: readonly { readonly source: string; readonly problem: string }[] | undefined;
}

/** The result as sentences: one paragraph per Gateway, then what was ignored or failed, then how to add one. */
export function describeDiscovery(
  gateways: readonly DiscoveredGateway[],
  ignored: readonly { readonly from: string | undefined; readonly source?: string | undefined; readonly problem: string }[],
  timeoutMs: number,
  scope: DiscoveryScope = {},
): string {
  const lines: string[] = [];
  const sources = scope.sources ?? [LAN_SOURCE];
  if (gateways.length === 0) lines.push(nothingFound(sources, timeoutMs));
  else {
    lines.push(`${gateways.length} Gateway${gateways.length === 1 ? "" : "s"} answered:`);
    for (const gateway of gateways) {
      lines.push(`- ${describeGateway(gateway)}`);
      for (const warning of gateway.warnings) lines.push(`  ${warning}`);
    }
    lines.push(
      'Beacons are unauthenticated: nothing here is pinned. To add one: `openclaw-inter-instance add <name> --discovered "<display name>"`, which shows the fingerprint to compare with the one on that machine first.',
    );
  }
  for (const answer of ignored) {
    const where = answer.source && answer.source !== LAN_SOURCE ? ` in ${answer.source}` : "";
    lines.push(`Ignored a beacon${answer.from ? ` from ${answer.from}` : ""}${where}: ${answer.problem}.`);
  }
  for (const failure of scope.failed ?? []) lines.push(`Could not look ${whereText(failure.source)}: ${failure.problem}`);
  return lines.join("\n");
}

function nothingFound(sources: readonly string[], timeoutMs: number): string {
  if (sources.length === 0) {
    return "Nowhere to look: LAN browsing is off and no wide-area domain is set. Turn discovery.lan on, or give a domain with --domain <domain> (discovery.wideAreaDomains in the config).";
  }
  const domains = sources.filter((source) => source !== LAN_SOURCE);
  const parts = [
    sources.includes(LAN_SOURCE)
      ? `No OpenClaw Gateway answered within ${timeoutMs / 1000}s. The other machine must run the bonjour plugin (\`openclaw plugins enable bonjour\` there, then restart its Gateway) and be on this LAN; multicast does not cross routers or VPNs, so for those add it by its address (\`openclaw-inter-instance add <name> --url …\`).`
      : `No OpenClaw Gateway is listed in ${domains.join(", ")}.`,
  ];
  if (domains.length > 0 && sources.includes(LAN_SOURCE)) parts.push(`None is listed in ${domains.join(", ")} either.`);
  if (domains.length > 0)
    parts.push(
      "A Gateway publishes there with discovery.wideArea.domain set in its openclaw.json and a tailnet address; its zone file must be served by the domain's DNS server.",
    );
  return parts.join(" ");
}

/** `on the LAN`, `in openclaw.internal`. */
export function whereText(source: string): string {
  return source === LAN_SOURCE ? "on the LAN" : `in ${source}`;
}

/** One Gateway in a sentence: where it is, where it was found, its TLS and fingerprint, and what this side has for it. */
export function describeGateway(gateway: DiscoveredGateway): string {
  const where = gateway.address === undefined ? `${gateway.host} (unresolved)` : gatewayUrl(gateway);
  const tls = gateway.tls ? `TLS, advertised fingerprint ${gateway.fingerprint ?? "(none)"}` : "no TLS";
  return `"${gateway.displayName}" at ${where} (found ${whereText(gateway.source)}); ${tls}; ${configuredText(gateway.configured)}.`;
}

/** The URL its resolved record gives (undefined without an address). */
export function gatewayUrl(gateway: Pick<DiscoveredGateway, "address" | "port" | "tls">): string | undefined {
  return gateway.address === undefined ? undefined : `${gateway.tls ? "wss" : "ws"}://${hostPart(gateway.address)}:${gateway.port}`;
}

export function configuredText(configured: DiscoveredGateway["configured"]): string {
  if (!configured) return "not configured here";
  return `configured here as ${configured.instance}, ${pinText(configured.pin)}`;
}

export function pinText(pin: NonNullable<DiscoveredGateway["configured"]>["pin"]): string {
  return {
    match: "the advertised fingerprint matches its pin",
    mismatch: "the advertised fingerprint DIFFERS FROM ITS PIN",
    "no-pin": "it has no pin",
    "not-advertised": "no fingerprint advertised",
  }[pin];
}

/**
 * The command that adds an unconfigured one: `openclaw inter-instance add mac-mini --discovered 'Mac mini'`.
 * The display name comes from an unauthenticated beacon, so it is quoted for a POSIX shell as a
 * single word whatever it holds; the suggested name keeps only letters, digits, - and _.
 */
export function addCommand(gateway: Pick<DiscoveredGateway, "displayName">, cli = "openclaw inter-instance"): string {
  return `${cli} add ${suggestedName(gateway.displayName)} --discovered ${shellQuote(gateway.displayName)}`;
}

export function suggestedName(displayName: string): string {
  const slug = displayName
    .replace(/\s*\(OpenClaw\)$/iu, "")
    .toLowerCase()
    .replace(/[^a-z0-9_-]+/gu, "-")
    .replace(/^[-_]+|-+$/gu, "")
    .slice(0, 48);
  return slug || "<name>";
}

function shellQuote(text: string): string {
  return /^[A-Za-z0-9_.,:@%+=/-]+$/u.test(text) ? text : `'${text.replaceAll("'", `'\\''`)}'`;
}

/** An address as a URL's host: IPv6 in brackets. */
export function hostPart(address: string): string {
  return address.includes(":") ? `[${address}]` : address;
}
