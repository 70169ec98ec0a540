import { Command, InvalidArgumentError } from "commander";
import type { ZodType } from "zod";
import { browseInterfaceSchema, dnsServerSchema, wideAreaDomainSchema } from "../../config/schema/discovery.js";
import type { Config } from "../../config/schema.js";
import { describeDiscovery } from "../../discovery/describe.js";
import { DEFAULT_DISCOVERY_TIMEOUT_MS, discoverGateways } from "../../discovery/index.js";
import type { CliContext } from "../context.js";
import { durationOption } from "../duration.js";

export { describeDiscovery, hostPart } from "../../discovery/describe.js";

interface DiscoverOptions {
  readonly timeout: number;
  readonly interface?: string;
  readonly domain?: string[];
  readonly dnsServer?: string[];
  readonly lan: boolean;
}

/** `discover`: the OpenClaw Gateways whose beacon answers on this LAN or in a wide-area DNS-SD domain, and which of them are configured here. */
export function discoverCommand(context: CliContext): Command {
  return new Command("discover")
    .description(
      "list the OpenClaw Gateways that announce themselves on this LAN (their bonjour beacon) or in a wide-area DNS-SD domain, and which are configured here",
    )
    .addOption(durationOption("--timeout <duration>", "how long to listen", { defaultMs: DEFAULT_DISCOVERY_TIMEOUT_MS }))
    .option(
      "--interface <address>",
      "listen on the network interface with this IPv4 address (default: the system's choice)",
      checked("--interface", browseInterfaceSchema),
    )
    .option(
      "--domain <domain>",
      "also look in this wide-area DNS-SD domain, as OpenClaw's discovery.wideArea.domain publishes it (repeatable; default: discovery.wideAreaDomains)",
      collectChecked("--domain", wideAreaDomainSchema),
    )
    .option(
      "--dns-server <ip[:port]>",
      "ask this DNS server for those domains (repeatable; default: discovery.dnsServers, else the system's)",
      collectChecked("--dns-server", dnsServerSchema),
    )
    .option("--no-lan", "do not browse the LAN by multicast (only the domains)")
    .action(async (options: DiscoverOptions) => {
      const config = await configIfAny(context);
      const result = await discoverGateways({
        timeoutMs: options.timeout,
        interface: options.interface,
        lan: options.lan ? undefined : false,
        domains: options.domain,
        dnsServers: options.dnsServer,
        config,
      });
      // Warnings go to stderr as well, so a mismatch is seen even when stdout is JSON read by a script.
      for (const gateway of result.gateways) for (const warning of gateway.warnings.filter((w) => w.startsWith("WARNING"))) context.progress(warning);
      context.print(result, describeDiscovery(result.gateways, result.ignored, options.timeout, result));
    });
}

/** An option's value checked by the config's own schema, so the CLI and the config accept the same. */
function checked<T>(option: string, schema: () => ZodType<T>): (value: string) => T {
  return (value) => {
    const parsed = schema().safeParse(value);
    if (parsed.success) return parsed.data;
    throw new InvalidArgumentError(`${option} ${parsed.error.issues.map((issue) => issue.message).join("; ")}; "${value}" is not one.`);
  };
}

function collectChecked<T>(option: string, schema: () => ZodType<T>): (value: string, previous?: T[]) => T[] {
  const one = checked(option, schema);
  return (value, previous = []) => [...previous, one(value)];
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
