import type { OpenClawPluginService } from "openclaw/plugin-sdk/plugin-entry";
import type { Messenger } from "../client.js";

export const OUTBOX_SERVICE_ID = "inter-instance-outbox";

/**
 * Retries what waits in the outbox while the Gateway runs: every `retryMs`, the envelopes whose
 * own backoff has run out, in order per target. The link is only built when something could wait.
 */
export function createOutboxService(getLink: () => Messenger, retryMs: () => number): OpenClawPluginService {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> | undefined;
  return {
    id: OUTBOX_SERVICE_ID,
    async start(ctx) {
      const every = retryMs();
      if (every === 0) return;
      timer = setInterval(() => {
        running ??= getLink()
          .outbox.flush()
          .then((reports) => {
            const delivered = reports.filter((report) => report.ok).length;
            if (reports.length > 0) ctx.logger.info(`inter-instance outbox: ${delivered} of ${reports.length} waiting message(s) delivered`);
          })
          .catch((error: unknown) => ctx.logger.warn(`inter-instance outbox: ${String(error)}`))
          .finally(() => {
            running = undefined;
          });
      }, every);
      timer.unref();
    },
    async stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
      await running;
    },
  };
}
