import type { OpenClawPluginService } from "openclaw/plugin-sdk/plugin-entry";
import type { Messenger } from "../client.js";

export const OUTBOX_SERVICE_ID = "inter-instance-outbox";

export interface OutboxService extends OpenClawPluginService {
  /** Something started to wait (the link's `onWaiting`): arms the retry timer if it is not armed. */
  wake(): void;
}

export interface OutboxServiceOptions {
  readonly link: () => Promise<Messenger>;
  /** Between retries; 0 turns the service off. */
  readonly retryMs: () => number;
  /** Whether an outbox from an earlier run may hold something, without opening it (its file exists). */
  readonly mayHoldState: () => boolean;
}

/**
 * Retries what waits in the outbox while the Gateway runs. At rest it costs nothing: the timer is
 * armed only while something waits (at start if the outbox holds anything, then on `wake()`), and
 * disarmed once a flush leaves nothing queued or to follow up.
 */
export function createOutboxService(options: OutboxServiceOptions): OutboxService {
  let every = 0;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<unknown> | undefined;
  let woken = false;
  let logger: { info(message: string): void; warn(message: string): void } | undefined;

  const arm = () => {
    if (every === 0 || timer || running) return;
    timer = setTimeout(tick, every);
    timer.unref();
  };
  const tick = () => {
    timer = undefined;
    woken = false;
    running = options
      .link()
      .then(async (link) => {
        const reports = await link.outbox.flush();
        const delivered = reports.filter((report) => report.ok).length;
        if (reports.length > 0) logger?.info(`inter-instance outbox: ${delivered} of ${reports.length} waiting message(s) delivered`);
        const { queued, followingUp } = await link.outbox.waiting();
        return queued + followingUp > 0;
      })
      .catch((error: unknown) => {
        logger?.warn(`inter-instance outbox: ${String(error)}`);
        return true;
      })
      .then((stillWaiting) => {
        running = undefined;
        if (stillWaiting || woken) arm();
      });
  };

  return {
    id: OUTBOX_SERVICE_ID,
    async start(ctx) {
      logger = ctx.logger;
      every = options.retryMs();
      if (every > 0 && options.mayHoldState()) arm();
    },
    wake() {
      woken = true;
      arm();
    },
    async stop() {
      every = 0;
      if (timer) clearTimeout(timer);
      timer = undefined;
      await running;
    },
  };
}
