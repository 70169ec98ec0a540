import { isIP } from "node:net";
import { once } from "../util/lazy.js";
import { zod } from "../util/zod.js";
import { canonicalFingerprint, SHA256_FINGERPRINT } from "./fingerprint.js";

/** One answer to the `_openclaw-gw._tcp` browse, as it came off the wire: nothing in it is checked yet. */
export interface BeaconAnswer {
  /** The service instance name (`mac-mini (OpenClaw)`), from the PTR/SRV records. */
  readonly instanceName: unknown;
  /** The SRV target host. */
  readonly host: unknown;
  /** The SRV port. */
  readonly port: unknown;
  /** The A/AAAA records of the SRV target that came with the answer. */
  readonly addresses: unknown;
  /** The TXT record's keys and values. */
  readonly txt: unknown;
  /** The address the answer came from (for the person: who is talking). */
  readonly from: string | undefined;
  /** Where it was found: `lan` (mDNS), or the wide-area DNS-SD domain. */
  readonly source: string;
}

/** A beacon that passed the checks: what it claims, with the address to route by taken from its SRV/A records. */
export interface Beacon {
  /** TXT `displayName`: what the person named that machine. Unauthenticated, like every TXT value. */
  readonly displayName: string;
  readonly instanceName: string;
  /** The SRV target host (`mac-mini.local`). */
  readonly host: string;
  /** The resolved address (an A record, else an AAAA that is not link-local); undefined when none came. */
  readonly address: string | undefined;
  /** The SRV port: the one used. */
  readonly port: number;
  /** TXT `gatewayTls=1`. */
  readonly tls: boolean;
  /** TXT `gatewayTlsSha256`, as colon hex in capitals. A hint to compare, never a pin by itself. */
  readonly fingerprint: string | undefined;
  /** TXT `lanHost`: shown, never routed by. */
  readonly lanHost: string | undefined;
  /** TXT `gatewayPort`, when it says something other than the SRV port. */
  readonly txtPort: number | undefined;
  readonly from: string | undefined;
  /** `lan` (mDNS), or the wide-area DNS-SD domain it was listed in. */
  readonly source: string;
}

/** Printable text: no control characters and no format characters (bidi overrides could disguise a name). */
const PRINTABLE = /^[^\p{Cc}\p{Cf}]*$/u;
const HOST_LABEL = "[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9])?";
const HOST_NAME = new RegExp(`^${HOST_LABEL}(?:\\.${HOST_LABEL})*\\.?$`, "u");

const answerSchema = once(() => {
  const z = zod();
  const text = (max: number) => z.string().trim().min(1, "is empty").max(max, `is longer than ${max} characters`).regex(PRINTABLE, "has control characters");
  const hostName = z.string().max(253, "is longer than 253 characters").regex(HOST_NAME, "is not a host name");
  const port = z.number().int("must be a whole number").min(1, "must be 1 to 65535").max(65_535, "must be 1 to 65535");
  return z.object({
    instanceName: text(255),
    host: hostName,
    port,
    addresses: z.array(z.string().refine((value) => isIP(value) !== 0, "must be IP addresses")).max(32, "has more than 32 addresses"),
    txt: z.object({
      displayName: text(128),
      lanHost: hostName.optional(),
      gatewayPort: z
        .string()
        .regex(/^\d{1,5}$/u, "must be a port number")
        .transform(Number)
        .pipe(port)
        .optional(),
      gatewayTls: z.enum(["1", "0", "true", "false"], "must be 1 or 0").optional(),
      gatewayTlsSha256: z.string().regex(SHA256_FINGERPRINT, "must be a SHA-256 fingerprint (64 hex digits)").optional(),
    }),
  });
});

export type BeaconCheck = { readonly ok: true; readonly beacon: Beacon } | { readonly ok: false; readonly problem: string };

/**
 * Checks one answer: every TXT value is untrusted input (anyone on the LAN can send one). A bad
 * answer is not used; its problem names each field that failed (`txt.gatewayTlsSha256: …`).
 */
export function parseBeacon(answer: BeaconAnswer): BeaconCheck {
  const parsed = answerSchema().safeParse(answer);
  if (!parsed.success) {
    return { ok: false, problem: parsed.error.issues.map((issue) => `${issue.path.join(".") || "answer"}: ${issue.message}`).join("; ") };
  }
  const { instanceName, host, port, addresses, txt } = parsed.data;
  return {
    ok: true,
    beacon: {
      displayName: txt.displayName,
      instanceName,
      host: host.replace(/\.$/u, ""),
      address: routeAddress(addresses, answer.from),
      port,
      tls: txt.gatewayTls === "1" || txt.gatewayTls === "true",
      fingerprint: canonicalFingerprint(txt.gatewayTlsSha256),
      lanHost: txt.lanHost,
      txtPort: txt.gatewayPort !== undefined && txt.gatewayPort !== port ? txt.gatewayPort : undefined,
      from: answer.from,
      source: answer.source,
    },
  };
}

/**
 * The address to connect to, always one of the A/AAAA records: the one the answer came from when it is
 * among them (on this link), else an IPv4 one, else an IPv6 one a URL can carry (link-local needs a zone).
 */
function routeAddress(addresses: readonly string[], from: string | undefined): string | undefined {
  if (from !== undefined && addresses.includes(from)) return from;
  return addresses.find((address) => isIP(address) === 4) ?? addresses.find((address) => isIP(address) === 6 && !/^fe[89ab]/iu.test(address));
}
