import type { OpenClawPluginService } from "openclaw/plugin-sdk/plugin-entry";
import type { Messenger } from "../../messenger/create.js";
import type { CheckBook } from "../control-ui/overview.js";

export const HEALTH_SERVICE_ID = "inter-instance-doctor";

/** The first run waits this long after start (or the interval, if shorter): the Gateway is busy starting. */
const FIRST_RUN_MS = 15_000;

export interface HealthService extends OpenClawPluginService {
  /** Runs the doctor's checks now (every instance, or one), records them, and updates the health report. */
  check(instance?: string): Promise<void>;
}

type Reporter = { reportFailure(error: unknown): void; clearFailure(): void };

// register() runs in more than one registry; the page's check may run in another than the one whose
// service OpenClaw started (and whose health slot it reads). Every started reporter hears of it.
const reporters = new Set<Reporter>();

/**
 * The doctor's checklist inside the Gateway: run at start and every `intervalMs`, its failing checks
 * go to OpenClaw's health report (`openclaw health`, the `health` RPC: `plugins.errors`), each with
 * its fix; they clear once the checks pass. Inside `openclaw doctor` no seam runs an installed
 * plugin's checks (only bundled ones), so this is where they show.
 */
export function createHealthService(options: {
  readonly link: () => Promise<Messenger>;
  readonly book: CheckBook;
  readonly intervalMs: () => number;
}): HealthService {
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let reporter: Reporter | undefined;

  const report = () => {
    const failing = options.book.failing();
    for (const each of reporters) {
      if (failing.length === 0) each.clearFailure();
      else
        each.reportFailure(
          new Error(
            `inter-instance doctor: ${failing.length} check(s) failing: ${failing.map((c) => `${c.instance} ${c.check}: ${c.summary}${c.fix ? ` (fix: ${c.fix})` : ""}`).join("; ")}`,
          ),
        );
    }
  };
  const check = async (instance?: string) => {
    const link = await options.link();
    options.book.record(await link.doctor(instance === undefined ? {} : { instance }));
    report();
  };
  const schedule = (delayMs: number) => {
    timer = setTimeout(() => {
      running = check()
        .catch((error: unknown) => {
          for (const each of reporters) each.reportFailure(error);
        })
        .finally(() => {
          running = undefined;
          if (reporter) schedule(options.intervalMs());
        });
    }, delayMs);
    timer.unref();
  };

  return {
    id: HEALTH_SERVICE_ID,
    async start(ctx) {
      const every = options.intervalMs();
      if (every === 0 || !ctx.serviceHealth) return;
      reporter = ctx.serviceHealth;
      reporters.add(reporter);
      schedule(Math.min(every, FIRST_RUN_MS));
    },
    check,
    async stop() {
      if (reporter) reporters.delete(reporter);
      reporter = undefined;
      if (timer) clearTimeout(timer);
      timer = undefined;
      await running;
    },
  };
}
