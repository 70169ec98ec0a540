import { isIPv4 } from "node:net";
import { Command, InvalidArgumentError } from "commander";
import type { Config } from "../../config/schema.js";
import { DEFAULT_DISCOVERY_TIMEOUT_MS, type DiscoveredGateway, discoverGateways } from "../../discovery/index.js";
import type { CliContext } from "../context.js";
import { durationOption } from "../duration.js";

interface DiscoverOptions {
  readonly timeout: number;
  readonly interface?: string;
}

/** `discover`: the OpenClaw Gateways whose beacon answers on this LAN, and which of them are configured here. */
export function discoverCommand(context: CliContext): Command {
  return new Command("discover")
    .description("list the OpenClaw Gateways that announce themselves on this LAN (their bonjour beacon), and which are configured here")
    .addOption(durationOption("--timeout <duration>", "how long to listen", { defaultMs: DEFAULT_DISCOVERY_TIMEOUT_MS }))
    .option("--interface <address>", "listen on the network interface with this IPv4 address (default: the system's choice)", interfaceAddress)
    .action(async (options: DiscoverOptions) => {
      const config = await configIfAny(context);
      const result = await discoverGateways({ timeoutMs: options.timeout, interface: options.interface, config });
      // Warnings go to stderr as well, so a mismatch is seen even when stdout is JSON read by a script.
      for (const gateway of result.gateways) for (const warning of gateway.warnings.filter((w) => w.startsWith("WARNING"))) context.progress(warning);
      context.print(result, describeDiscovery(result.gateways, result.ignored, options.timeout));
    });
}

function interfaceAddress(value: string): string {
  if (!isIPv4(value))
    throw new InvalidArgumentError(
      `--interface takes the IPv4 address of one of this machine's interfaces (\`ip -4 addr\`), e.g. 192.168.1.10; "${value}" is not one.`,
    );
  return value;
}

/** The config, or none when there is no file yet: discovering comes before configuring anything. */
export async function configIfAny(context: CliContext): Promise<Config | undefined> {
  try {
    return await context.loadConfig();
  } catch (error) {
    if (error instanceof Error && (error.cause as NodeJS.ErrnoException | undefined)?.code === "ENOENT") return undefined;
    throw error;
  }
}

/** The result as sentences: one paragraph per Gateway, then what was ignored, then how to add one. */
export function describeDiscovery(
  gateways: readonly DiscoveredGateway[],
  ignored: readonly { readonly from: string | undefined; readonly problem: string }[],
  timeoutMs: number,
): string {
  const lines: string[] = [];
  if (gateways.length === 0) {
    lines.push(
      `No OpenClaw Gateway answered within ${timeoutMs / 1000}s. The other machine must run the bonjour plugin (\`openclaw plugins enable bonjour\` there, then restart its Gateway) and be on this LAN; multicast does not cross routers or VPNs, so for those add it by its address (\`openclaw-inter-instance add <name> --url …\`).`,
    );
  } else {
    lines.push(`${gateways.length} Gateway${gateways.length === 1 ? "" : "s"} answered:`);
    for (const gateway of gateways) {
      lines.push(`- ${describeGateway(gateway)}`);
      for (const warning of gateway.warnings) lines.push(`  ${warning}`);
    }
    lines.push(
      'Beacons are unauthenticated: nothing here is pinned. To add one: `openclaw-inter-instance add <name> --discovered "<display name>"`, which shows the fingerprint to compare with the one on that machine first.',
    );
  }
  for (const answer of ignored) lines.push(`Ignored a beacon${answer.from ? ` from ${answer.from}` : ""}: ${answer.problem}.`);
  return lines.join("\n");
}

function describeGateway(gateway: DiscoveredGateway): string {
  const where = gateway.address === undefined ? `${gateway.host} (unresolved)` : `${gateway.tls ? "wss" : "ws"}://${hostPart(gateway.address)}:${gateway.port}`;
  const tls = gateway.tls ? `TLS, advertised fingerprint ${gateway.fingerprint ?? "(none)"}` : "no TLS";
  return `"${gateway.displayName}" at ${where}; ${tls}; ${configuredText(gateway.configured)}.`;
}

function configuredText(configured: DiscoveredGateway["configured"]): string {
  if (!configured) return "not configured here";
  const pin = {
    match: "the advertised fingerprint matches its pin",
    mismatch: "the advertised fingerprint DIFFERS FROM ITS PIN",
    "no-pin": "it has no pin",
    "not-advertised": "no fingerprint advertised",
  }[configured.pin];
  return `configured here as ${configured.instance}, ${pin}`;
}

/** An address as a URL's host: IPv6 in brackets. */
export function hostPart(address: string): string {
  return address.includes(":") ? `[${address}]` : address;
}
