import type { OpenClawPluginApi } from "openclaw/plugin-sdk/plugin-entry";
import { scrubUrlCredentials } from "../../util/redact.js";
import type { PluginParts } from "../parts.js";

/** Where a Prometheus server scrapes the plugin, with the Gateway's own auth (a bearer token). */
export const METRICS_PATH = "/inter-instance/metrics";

/**
 * The plugin's numbers in the Prometheus text format, behind the Gateway's auth like its other
 * routes. The link is built first when it is not yet (its outbox and circuits feed the gauges).
 */
export function registerMetricsRoute(api: OpenClawPluginApi, parts: Pick<PluginParts, "link" | "metrics">): void {
  api.registerHttpRoute({
    path: METRICS_PATH,
    auth: "gateway",
    match: "exact",
    handler: async (req, res) => {
      if (req.method !== "GET" && req.method !== "HEAD") {
        res.writeHead(405, { allow: "GET, HEAD", "content-type": "text/plain; charset=utf-8" });
        res.end("Only GET: this route is for a Prometheus server to scrape.\n");
        return true;
      }
      try {
        await parts.link();
        const text = await parts.metrics.text();
        res.writeHead(200, { "content-type": parts.metrics.contentType, "cache-control": "no-store" });
        res.end(req.method === "HEAD" ? undefined : text);
      } catch (error) {
        res.writeHead(503, { "content-type": "text/plain; charset=utf-8" });
        res.end(
          `The inter-instance link could not be built, so there are no numbers yet: ${scrubUrlCredentials(error instanceof Error ? error.message : String(error))}. Run openclaw-inter-instance doctor.\n`,
        );
      }
      return true;
    },
  });
}
