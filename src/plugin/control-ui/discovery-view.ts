import type { Config } from "../../config/schema.js";
import { addCommand, configuredText, describeDiscovery, gatewayUrl, whereText } from "../../discovery/describe.js";
import { type DiscoveryResult, discoverGateways } from "../../discovery/index.js";
import type { DiscoveredView, DiscoveryView } from "./operations.js";

/** How long the page and the route listen at most, and unless told. */
export const MAX_DISCOVERY_SECONDS = 10;
export const DEFAULT_DISCOVERY_SECONDS = 3;

/**
 * The plugin's `discover`: the same browse as the CLI's, where the plugin's config says
 * (`discovery.lan`, `.interface`, `.wideAreaDomains`, `.dnsServers`), matched against its
 * instances. It reads and changes nothing else: a beacon is never pinned from here.
 */
export async function findGateways(config: Config, timeoutMs: number, signal?: AbortSignal): Promise<DiscoveryView> {
  return discoveryView(await discoverGateways({ config, timeoutMs, signal }), timeoutMs);
}

/** The result as plain JSON for the page and the route: absent fields left out, sentences filled in. */
export function discoveryView(result: DiscoveryResult, timeoutMs: number): DiscoveryView {
  const gateways = result.gateways.map((gateway): DiscoveredView => {
    const url = gatewayUrl(gateway);
    return {
      displayName: gateway.displayName,
      source: gateway.source,
      foundWhere: whereText(gateway.source),
      ...(gateway.address === undefined ? {} : { address: gateway.address }),
      port: gateway.port,
      ...(url === undefined ? {} : { url }),
      tls: gateway.tls,
      ...(gateway.fingerprint === undefined ? {} : { fingerprint: gateway.fingerprint }),
      ...(gateway.configured ? { configured: { instance: gateway.configured.instance, pin: gateway.configured.pin } } : {}),
      status: configuredText(gateway.configured),
      warnings: [...gateway.warnings],
      ...(gateway.configured || gateway.address === undefined ? {} : { addCommand: addCommand(gateway) }),
    };
  });
  return {
    gateways,
    sources: [...result.sources],
    ignored: result.ignored.map((entry) => ({
      ...(entry.from === undefined ? {} : { from: entry.from }),
      ...(entry.source === undefined ? {} : { source: entry.source }),
      problem: entry.problem,
    })),
    failed: result.failed.map((entry) => ({ source: entry.source, problem: entry.problem })),
    text: describeDiscovery(result.gateways, result.ignored, timeoutMs, result),
    timeoutMs,
  };
}
