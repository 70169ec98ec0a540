import type { OpenClawPluginService } from "openclaw/plugin-sdk/plugin-entry";
import type { Messenger } from "../../messenger/create.js";

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

// register() runs more than once (discovery and full mode): a tool of one registry may queue a
// message while another registry's service is the one started. A wake reaches every started one.
const started = new Set<() => void>();

/** However far off the next due envelope is, the outbox is looked at again within this. */
const LONGEST_WAIT_MS = 3_600_000;

/**
 * Retries what waits in the outbox while the Gateway runs. At rest it costs nothing: the timer is
 * armed only while something waits (at start if the outbox holds anything, then on `wake()`), and
 * disarmed once a flush leaves nothing queued or to follow up. While only queued envelopes wait,
 * each backed off on its own, the timer is set for the first one's due time rather than every
 * `retryMs`: a target down for a day costs a few wake-ups, not one a minute.
 */
export function createOutboxService(options: OutboxServiceOptions): OutboxService {
  let every = 0;
  let timer: NodeJS.Timeout | undefined;
  let armedFor = 0;
  let running: Promise<unknown> | undefined;
  let woken = false;
  let logger: { info(message: string): void; warn(message: string): void } | undefined;

  const arm = (delayMs: number) => {
    if (every === 0 || running) return;
    const at = Date.now() + delayMs;
    if (timer && armedFor <= at) return;
    if (timer) clearTimeout(timer);
    armedFor = at;
    timer = setTimeout(tick, delayMs);
    timer.unref();
  };
  const tick = () => {
    timer = undefined;
    woken = false;
    running = options
      .link()
      .then(async (link): Promise<number | undefined> => {
        const reports = await link.outbox.flush();
        const delivered = reports.filter((report) => report.ok).length;
        if (reports.length > 0) logger?.info(`inter-instance outbox: ${delivered} of ${reports.length} waiting message(s) delivered`);
        const { queued, followingUp, nextAttemptAt } = await link.outbox.waiting();
        if (followingUp > 0) return every;
        if (queued === 0) return undefined;
        return Math.min(Math.max(every, (nextAttemptAt?.getTime() ?? 0) - Date.now()), LONGEST_WAIT_MS);
      })
      .catch((error: unknown) => {
        logger?.warn(`inter-instance outbox: ${String(error)}`);
        return every;
      })
      .then((nextInMs) => {
        running = undefined;
        if (woken) arm(every);
        else if (nextInMs !== undefined) arm(nextInMs);
      });
  };

  const wakeHere = () => {
    woken = true;
    arm(every);
  };

  return {
    id: OUTBOX_SERVICE_ID,
    async start(ctx) {
      logger = ctx.logger;
      every = options.retryMs();
      started.add(wakeHere);
      if (every > 0 && options.mayHoldState()) arm(every);
    },
    wake() {
      for (const wakeStarted of started) wakeStarted();
    },
    async stop() {
      started.delete(wakeHere);
      every = 0;
      if (timer) clearTimeout(timer);
      timer = undefined;
      await running;
    },
  };
}
