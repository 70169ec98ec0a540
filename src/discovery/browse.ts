import type { Browser, Service, ServiceConfig } from "bonjour-service";
import type { BeaconAnswer } from "./beacon.js";

/** OpenClaw's beacon: `_openclaw-gw._tcp` in `local.` (the bundled `bonjour` plugin publishes it). */
export const GATEWAY_SERVICE_TYPE = "openclaw-gw";

export interface BrowseOptions {
  /** How long to listen, in milliseconds. */
  readonly timeoutMs: number;
  /** The interface to browse on, by its IPv4 address (multicast-dns's `interface`); default the system's choice. */
  readonly interface?: string | undefined;
  readonly signal?: AbortSignal | undefined;
}

/** The `source` of an answer heard by multicast on the LAN. */
export const LAN_SOURCE = "lan";

/** At most this many distinct answers are kept from one browse. */
export const MAX_ANSWERS = 256;

/** The browse is asked again after this long: mDNS answers sent at once can be lost (RFC 6762 §5.2). */
const REQUERY_MS = 1_000;

/**
 * Browses `_openclaw-gw._tcp.local` by multicast for `timeoutMs` and returns every distinct answer.
 * bonjour-service keeps one service per name and lets a later answer replace an earlier one; a
 * second responder claiming the same name with other TXT would then silently win. So every answer
 * it reports (up, and each TXT or SRV change) is kept, one per responder and content.
 */
export async function browseBeacons(options: BrowseOptions): Promise<BeaconAnswer[]> {
  const { Bonjour } = await import("bonjour-service");
  const answers = new Map<string, BeaconAnswer>();
  let failure: unknown;
  // Its options go to multicast-dns as they are (`interface` among them), though typed as a service's.
  // multicast-dns binds to the interface's address unless told otherwise, and on Linux a socket bound to
  // a unicast address receives no multicast: it binds to every address and joins the group on that one.
  const socketOptions: Record<string, unknown> = options.interface ? { interface: options.interface, bind: "0.0.0.0" } : {};
  const bonjour = new Bonjour(socketOptions as Partial<ServiceConfig>, (error: unknown) => {
    failure ??= error;
  });
  const keep = (service: Service): void => {
    const answer = answerOf(service);
    // Anyone on the LAN can answer, as often as they like: past the cap, new answers are dropped.
    if (answers.size < MAX_ANSWERS) answers.set(JSON.stringify(answer), answer);
  };
  let browser: Browser | undefined;
  try {
    browser = bonjour.find({ type: GATEWAY_SERVICE_TYPE, protocol: "tcp" });
    browser.on("up", keep).on("txt-update", keep).on("srv-update", keep);
    const requery = setTimeout(() => browser?.update(), Math.min(REQUERY_MS, options.timeoutMs / 2));
    await waitFor(options.timeoutMs, options.signal);
    clearTimeout(requery);
  } finally {
    browser?.stop();
    await new Promise<void>((resolve) => bonjour.destroy(() => resolve()));
  }
  if (failure !== undefined && answers.size === 0) {
    throw new Error(
      `mDNS browse failed (${failure instanceof Error ? failure.message : String(failure)}). This machine needs a network with multicast (UDP 5353 to 224.0.0.251): choose the LAN's interface with --interface <its IPv4 address>, or add the Gateway by its address with --url.`,
      { cause: failure },
    );
  }
  return [...answers.values()];
}

function answerOf(service: Service): BeaconAnswer {
  return {
    instanceName: service.name,
    host: service.host,
    port: service.port,
    addresses: service.addresses ?? [],
    txt: (service.txt as unknown) ?? {},
    from: service.referer?.address,
    source: LAN_SOURCE,
  };
}

function waitFor(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal?.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener("abort", done, { once: true });
  });
}
