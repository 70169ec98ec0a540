// Where `discover` (the CLI, the plugin's route and page) looks for OpenClaw's beacon.
import { isIP, isIPv4 } from "node:net";
import { once } from "../../util/lazy.js";
import { zod } from "../../util/zod.js";

const DNS_LABEL = "[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?";
/** A DNS domain as OpenClaw accepts one for `discovery.wideArea.domain`: letters, digits and inner hyphens per label, an optional final dot. */
export const WIDE_AREA_DOMAIN = new RegExp(`^${DNS_LABEL}(?:\\.${DNS_LABEL})*\\.?$`, "u");

/** `openclaw.internal.` → `openclaw.internal`: the one form domains are compared and shown in. */
export function normalizeDomain(domain: string): string {
  return domain.trim().replace(/\.$/u, "").toLowerCase();
}

/** `ip`, `ip:port`, `[ipv6]` or `[ipv6]:port`, as `dns.Resolver#setServers` takes them; undefined when it is none of those. */
export function parseDnsServer(value: string): { readonly address: string; readonly port: number } | undefined {
  const text = value.trim();
  const bracketed = /^\[([^\]]+)\](?::(\d{1,5}))?$/u.exec(text);
  const plain = bracketed ? undefined : /^([^:]+)(?::(\d{1,5}))?$/u.exec(text);
  const [address, port] = bracketed ? [bracketed[1]!, bracketed[2]] : plain ? [plain[1]!, plain[2]] : isIP(text) === 6 ? [text, undefined] : [];
  if (address === undefined || isIP(address) === 0) return undefined;
  if (bracketed && isIP(address) !== 6) return undefined;
  const number = port === undefined ? 53 : Number(port);
  return number >= 1 && number <= 65_535 ? { address, port: number } : undefined;
}

export const wideAreaDomainSchema = once(() =>
  zod()
    .string()
    .trim()
    .max(253, "is longer than 253 characters")
    .regex(WIDE_AREA_DOMAIN, "must be a DNS domain such as openclaw.internal (letters, digits and - per label)")
    .transform(normalizeDomain),
);

export const dnsServerSchema = once(() =>
  zod()
    .string()
    .trim()
    .refine((value) => parseDnsServer(value) !== undefined, "must be an IP address with an optional port: 100.64.0.1, 127.0.0.1:5353 or [fd7a::1]:53"),
);

export const browseInterfaceSchema = once(() =>
  zod()
    .string()
    .trim()
    .refine((value) => isIPv4(value), "must be the IPv4 address of one of this machine's interfaces (`ip -4 addr`), e.g. 192.168.1.10"),
);

export const discoverySchema = once(() => {
  const z = zod();
  return z
    .object({
      lan: z.boolean().default(true).meta({ description: "Browse the LAN by multicast (mDNS) for OpenClaw's bonjour beacon." }),
      interface: browseInterfaceSchema()
        .optional()
        .meta({ description: "Browse the LAN on the interface with this IPv4 address (default: the system's multicast route)." }),
      wideAreaDomains: z.array(wideAreaDomainSchema()).max(8, "at most 8 domains").default([]).meta({
        description:
          "Unicast DNS-SD domains to look in as well (what OpenClaw's `discovery.wideArea.domain` publishes, e.g. openclaw.internal): PTR, SRV, TXT and A/AAAA records of `_openclaw-gw._tcp.<domain>`.",
      }),
      dnsServers: z
        .array(dnsServerSchema())
        .min(1, "give at least one server, or leave dnsServers out")
        .max(4, "at most 4 servers")
        .optional()
        .meta({ description: "Ask these DNS servers (ip or ip:port) for the wide-area domains; default the system's resolvers." }),
    })
    .strict()
    .meta({ description: "Where `discover` (the CLI, and the plugin's Find Gateways) looks for OpenClaw Gateways." });
});
