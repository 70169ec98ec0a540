import type { IncomingMessage, ServerResponse } from "node:http";
import type { OpenClawPluginApi } from "openclaw/plugin-sdk/plugin-entry";
import { scrubUrlCredentials } from "../../util/redact.js";
import { zod } from "../../util/zod.js";
import { DEFAULT_DISCOVERY_SECONDS, MAX_DISCOVERY_SECONDS } from "../control-ui/discovery-view.js";
import type { DiscoveryView } from "../control-ui/operations.js";

/** What the Instances page's Find Gateways runs, for a script: `GET /inter-instance/discover?timeout=3`. */
export const DISCOVER_PATH = "/inter-instance/discover";

const querySchema = () =>
  zod()
    .object({
      timeout: zod()
        .string()
        .regex(/^\d{1,2}$/u, `must be a whole number of seconds from 1 to ${MAX_DISCOVERY_SECONDS}`)
        .transform(Number)
        .pipe(
          zod()
            .number()
            .min(1, `must be a whole number of seconds from 1 to ${MAX_DISCOVERY_SECONDS}`)
            .max(MAX_DISCOVERY_SECONDS, `must be at most ${MAX_DISCOVERY_SECONDS} seconds`),
        )
        .optional(),
    })
    .strict();

/**
 * The Gateways OpenClaw's beacon shows (the LAN, and the configured wide-area domains), as JSON,
 * behind the Gateway's auth like its other routes. It only looks: nothing is pinned or written.
 */
export function registerDiscoverRoute(api: Pick<OpenClawPluginApi, "registerHttpRoute">, discover: (timeoutMs: number) => Promise<DiscoveryView>): void {
  api.registerHttpRoute({
    path: DISCOVER_PATH,
    auth: "gateway",
    match: "exact",
    handler: (req, res) => handleDiscover(req, res, discover),
  });
}

export async function handleDiscover(req: IncomingMessage, res: ServerResponse, discover: (timeoutMs: number) => Promise<DiscoveryView>): Promise<boolean> {
  if (req.method !== "GET") {
    send(res, 405, { error: "Only GET: this route looks for Gateways and changes nothing." }, { allow: "GET" });
    return true;
  }
  const query = Object.fromEntries(new URL(req.url ?? "/", "http://localhost").searchParams);
  const parsed = querySchema().safeParse(query);
  if (!parsed.success) {
    const problem = parsed.error.issues.map((issue) => `${issue.path.join(".") || issue.message.split(" ")[0]}: ${issue.message}`).join("; ");
    send(res, 400, { error: `Bad query (${problem}). Use ${DISCOVER_PATH}?timeout=${DEFAULT_DISCOVERY_SECONDS}.` });
    return true;
  }
  try {
    send(res, 200, await discover((parsed.data.timeout ?? DEFAULT_DISCOVERY_SECONDS) * 1000));
  } catch (error) {
    send(res, 503, {
      error: `Could not look for Gateways: ${scrubUrlCredentials(error instanceof Error ? error.message : String(error))} Set discovery.interface (an IPv4 address of this machine) or discovery.wideAreaDomains in the plugin's config.`,
    });
  }
  return true;
}

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "cache-control": "no-store", ...headers });
  res.end(`${JSON.stringify(body)}\n`);
}
