import { createInterface } from "node:readline/promises";
import { loadConfigFile } from "../../config/parse.js";
import { DEFAULT_DISCOVERY_TIMEOUT_MS, type DiscoveredGateway, discoverGateways, sameFingerprint } from "../../discovery/index.js";
import { sameName } from "../../discovery/match.js";
import type { CliContext } from "../context.js";
import { BadInput } from "../exit.js";
import { hostPart } from "./discover.js";

/** Where the person reads the fingerprint on the target machine itself. */
const READ_ON_TARGET = "openssl x509 -noout -fingerprint -sha256 -in ~/.openclaw/gateway/tls/gateway-cert.pem";

export interface DiscoveredChoice {
  readonly gateway: DiscoveredGateway;
  readonly url: string;
}

/**
 * The one beacon called `displayName` that `add --discovered` may use. Refuses (nothing written)
 * when none answered, when several claim the name and the person's `--tls-fingerprint` does not
 * pick one, when the person's fingerprint matches none, and when the beacon's fingerprint differs
 * from the pin already stored for the instance: a beacon never replaces a pin.
 */
export function chooseBeacon(
  gateways: readonly DiscoveredGateway[],
  displayName: string,
  given: { readonly fingerprint?: string | undefined; readonly storedPin?: string | undefined; readonly name: string },
): DiscoveredChoice {
  const named = gateways.filter((gateway) => sameName(gateway.displayName, displayName) || sameName(gateway.instanceName, displayName));
  const usable = named.filter((gateway) => gateway.address !== undefined);
  if (usable.length === 0) {
    throw new BadInput(
      named.length === 0
        ? `No Gateway called "${displayName}" answered${gateways.length ? ` (the ones that did: ${gateways.map((g) => `"${g.displayName}"`).join(", ")})` : ""}. Run \`openclaw-inter-instance discover\` to see the names, or add it by its address with --url.`
        : `The beacon called "${displayName}" came without an address record, so there is nothing safe to connect to; add it by its address with --url.`,
    );
  }
  const picked = given.fingerprint === undefined ? usable : usable.filter((gateway) => sameFingerprint(gateway.fingerprint, given.fingerprint));
  if (picked.length === 0) {
    throw new BadInput(
      `The fingerprint you gave matches none of the beacons called "${displayName}" (they advertise ${usable.map((g) => g.fingerprint ?? "none").join(", ")}). Nothing was added. Read it again on that machine (\`${READ_ON_TARGET}\`): if yours is right, something else is answering for "${displayName}"; add it by its address with --url and --tls-fingerprint.`,
    );
  }
  const endpoints = new Set(picked.map((gateway) => `${gateway.address} ${gateway.port} ${gateway.fingerprint ?? ""}`));
  if (endpoints.size > 1) {
    throw new BadInput(
      `${endpoints.size} beacons call themselves "${displayName}": ${picked.map((g) => `${hostPart(g.address!)}:${g.port} advertising ${g.fingerprint ?? "no fingerprint"}`).join("; ")}. At most one of them is that machine. Nothing was added. Read the fingerprint on the machine itself (\`${READ_ON_TARGET}\`) and choose with --tls-fingerprint <sha256>.`,
    );
  }
  const gateway = picked[0]!;
  if (given.storedPin !== undefined && gateway.fingerprint !== undefined && !sameFingerprint(given.storedPin, gateway.fingerprint)) {
    throw new BadInput(
      `WARNING: the beacon "${displayName}" advertises ${gateway.fingerprint}, but ${given.name} is pinned to ${given.storedPin}. Someone on this network may be impersonating it; the stored pin stays and nothing was changed. If its certificate really changed, read the new one on that machine (\`${READ_ON_TARGET}\`) and run \`openclaw-inter-instance add ${given.name} --url <its URL> --tls-fingerprint <new>\`.`,
    );
  }
  return { gateway, url: `${gateway.tls ? "wss" : "ws"}://${hostPart(gateway.address!)}:${gateway.port}` };
}

export interface DiscoveredAdd {
  readonly url: string;
  /** The pin to store: the person's own (`--tls-fingerprint`), the advertised one they confirmed, or the one already stored. */
  readonly tlsFingerprint: string | undefined;
  readonly lead: string;
  readonly gateway: DiscoveredGateway;
}

/**
 * `add <name> --discovered <display name>`: browse, choose the beacon, and settle the pin with the
 * person: a fingerprint they give, or the advertised one after they say it matches what that
 * machine shows. Without either, a TLS beacon is refused: a fingerprint is never pinned silently.
 */
export async function addFromBeacon(
  context: CliContext,
  name: string,
  options: { readonly discovered: string; readonly tlsFingerprint?: string | undefined; readonly timeout?: number | undefined },
): Promise<DiscoveredAdd> {
  const config = await loadConfigFile(context.configPath()).catch(() => undefined);
  const storedPin = config?.instances[name]?.gateway?.tlsFingerprint;
  const timeoutMs = options.timeout ?? DEFAULT_DISCOVERY_TIMEOUT_MS;
  context.progress(`Listening ${timeoutMs / 1000}s for the beacon of "${options.discovered}"…`);
  const { gateways } = await discoverGateways({ timeoutMs, config });
  const { gateway, url } = chooseBeacon(gateways, options.discovered, { fingerprint: options.tlsFingerprint, storedPin, name });
  const from = `from the beacon "${gateway.displayName}"`;
  if (!gateway.tls) return { url, tlsFingerprint: undefined, gateway, lead: `Added ${name} (${url}) ${from}; it serves no TLS.` };
  if (storedPin !== undefined && sameFingerprint(storedPin, gateway.fingerprint)) {
    return { url, tlsFingerprint: storedPin, gateway, lead: `Added ${name} (${url}) ${from}; its certificate matches the pin already stored.` };
  }
  if (options.tlsFingerprint !== undefined) {
    return { url, tlsFingerprint: options.tlsFingerprint, gateway, lead: `Added ${name} (${url}) ${from}, pinned to the fingerprint you gave.` };
  }
  const advertised = gateway.fingerprint;
  if (advertised === undefined) {
    throw new BadInput(
      `The beacon "${gateway.displayName}" (${url}) advertises no fingerprint. Read it on that machine (\`${READ_ON_TARGET}\`), then run again with --tls-fingerprint <sha256>.`,
    );
  }
  context.progress(
    `"${gateway.displayName}" at ${url} advertises the TLS fingerprint\n  ${advertised}\nA beacon is unauthenticated: compare it with the one on that machine (\`${READ_ON_TARGET}\`).`,
  );
  if (!(context.interactive && (await confirm("Is it the same there? Type yes to pin it: ")))) {
    throw new BadInput(
      `Not added: the fingerprint was not confirmed. When it matches the one on that machine, run \`openclaw-inter-instance add ${name} --discovered "${options.discovered}" --tls-fingerprint ${advertised}\`.`,
    );
  }
  return { url, tlsFingerprint: advertised, gateway, lead: `Added ${name} (${url}) ${from}, pinned to the fingerprint you confirmed.` };
}

async function confirm(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return (await rl.question(question)).trim().toLowerCase() === "yes";
  } finally {
    rl.close();
  }
}
