import { Resolver } from "node:dns/promises";
import pLimit from "p-limit";
import type { BeaconAnswer } from "./beacon.js";
import { GATEWAY_SERVICE, instanceNameOf, MAX_INSTANCES, txtKeys } from "./dns-sd.js";

export interface WideAreaOptions {
  /** The DNS-SD domain, normalized (no final dot). */
  readonly domain: string;
  /** `ip` or `ip:port` (see `parseDnsServer`); default the system's resolvers. */
  readonly servers?: readonly string[] | undefined;
  /** The whole lookup's budget, in milliseconds. */
  readonly timeoutMs: number;
  readonly signal?: AbortSignal | undefined;
}

export interface WideAreaResult {
  readonly answers: readonly BeaconAnswer[];
  /** Instances that could not be read, each with why (before the beacon parser sees them). */
  readonly unreadable: readonly { readonly name: string; readonly problem: string }[];
}

/** Codes that mean "no such record", as opposed to a server that did not answer. */
const NO_RECORD = new Set(["ENOTFOUND", "ENODATA", "ENONAME"]);

/**
 * Unicast DNS-SD (RFC 6763) for OpenClaw's wide-area beacon: PTR `_openclaw-gw._tcp.<domain>`,
 * then each instance's SRV and TXT, then the SRV target's A/AAAA. What comes back is as
 * unauthenticated as a LAN beacon (anyone who controls the zone or the path to the server wrote
 * it), so it goes through the same checks. Throws when the server does not answer at all.
 */
export async function queryWideArea(options: WideAreaOptions): Promise<WideAreaResult> {
  const deadline = Date.now() + options.timeoutMs;
  const resolver = new Resolver({ timeout: Math.max(200, Math.min(1_000, Math.floor(options.timeoutMs / 3))), tries: 2 });
  if (options.servers?.length) resolver.setServers([...options.servers]);
  const cancel = (): void => resolver.cancel();
  const timer = setTimeout(cancel, options.timeoutMs);
  options.signal?.addEventListener("abort", cancel, { once: true });
  const via = options.servers?.length ? ` (asked ${options.servers.join(", ")})` : "";
  try {
    let ptrs: string[];
    try {
      ptrs = await resolver.resolvePtr(`${GATEWAY_SERVICE}.${options.domain}`);
    } catch (error) {
      if (NO_RECORD.has(codeOf(error))) return { answers: [], unreadable: [] };
      throw new Error(
        `No answer from DNS for ${GATEWAY_SERVICE}.${options.domain}${via}: ${codeOf(error) || String(error)}. Check that the domain's DNS server is reachable from here (for a tailnet: Split DNS in the Tailscale admin console), or name it with --dns-server <ip[:port]>.`,
        { cause: error },
      );
    }
    const unreadable: { name: string; problem: string }[] = [];
    const unique = [...new Set(ptrs.map((ptr) => ptr.toLowerCase()))];
    if (unique.length > MAX_INSTANCES) unreadable.push({ name: options.domain, problem: `more than ${MAX_INSTANCES} instances; only the first are read` });
    const limit = pLimit(8);
    const answers = await Promise.all(
      unique.slice(0, MAX_INSTANCES).map((ptr) =>
        limit(async () => {
          const name = instanceNameOf(ptr, options.domain);
          if (name === undefined) {
            unreadable.push({ name: ptr, problem: `the PTR answer points outside ${GATEWAY_SERVICE}.${options.domain}, so it is not followed` });
            return undefined;
          }
          if (Date.now() > deadline) {
            unreadable.push({ name: ptr, problem: "not read within the timeout" });
            return undefined;
          }
          const read = await readInstance(resolver, ptr, name, options.domain);
          if ("problem" in read) unreadable.push({ name: ptr, problem: read.problem });
          return "answer" in read ? read.answer : undefined;
        }),
      ),
    );
    return { answers: answers.filter((answer) => answer !== undefined), unreadable };
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener("abort", cancel);
  }
}

async function readInstance(resolver: Resolver, ptr: string, instanceName: string, source: string): Promise<{ answer: BeaconAnswer } | { problem: string }> {
  const [srv, txt] = await Promise.all([resolver.resolveSrv(ptr).catch(noRecord), resolver.resolveTxt(ptr).catch(noRecord)]);
  if (srv === BAD_NAME || txt === BAD_NAME)
    return { problem: "its name has spaces or escaped bytes, which this resolver cannot look up (name the instance with letters, digits and -)" };
  if (srv === NO_ANSWER || txt === NO_ANSWER) return { problem: "its SRV or TXT record did not come within the timeout" };
  if (srv === undefined || srv.length === 0) return { problem: "it has no SRV record (no host and port)" };
  if (txt === undefined || txt.length === 0) return { problem: "it has no TXT record" };
  // RFC 6763 §6.8: one TXT record per instance. Two would be two differing claims, and neither wins.
  if (txt.length > 1) return { problem: `it has ${txt.length} TXT records; DNS-SD gives an instance one` };
  const keys = txtKeys(txt[0]!);
  if ("problem" in keys) return keys;
  // The lowest priority, then the highest weight: one target, chosen the same way every time.
  const target = [...srv].sort((a, b) => a.priority - b.priority || b.weight - a.weight)[0]!;
  const host = target.name;
  const [v4, v6] = await Promise.all([resolver.resolve4(host).catch(() => []), resolver.resolve6(host).catch(() => [])]);
  return {
    answer: {
      instanceName,
      host,
      port: target.port,
      addresses: [...v4, ...v6],
      txt: keys.keys,
      from: undefined,
      source,
    },
  };
}

const BAD_NAME = Symbol("bad name");
const NO_ANSWER = Symbol("no answer");

/** A lookup that found nothing counts as no record; the whole query fails only on the PTR. */
function noRecord(error: unknown): undefined | typeof BAD_NAME | typeof NO_ANSWER {
  const code = codeOf(error);
  // c-ares refuses to send a name with a space or a \DDD escape in it (Apple-style instance names).
  if (code === "EBADNAME") return BAD_NAME;
  return code === "ETIMEOUT" || code === "ECANCELLED" || code === "ECONNREFUSED" ? NO_ANSWER : undefined;
}

function codeOf(error: unknown): string {
  return error && typeof error === "object" && "code" in error && typeof error.code === "string" ? error.code : "";
}
