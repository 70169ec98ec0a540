import type { OpenClawPluginApi, OpenClawPluginService } from "openclaw/plugin-sdk/plugin-entry";
import type { Messenger } from "../../messenger/create.js";
import { taskPlumbing } from "../../messenger/internals.js";
import { taskOutcomeForAgent } from "../../trust/frame.js";
import { heartbeatWaker, queueIntoNextTurn } from "../next-turn.js";
import { agentWorkspace } from "../workspace.js";

export const TASK_SERVICE_ID = "inter-instance-tasks";

export interface TaskService extends OpenClawPluginService {
  /** A task was delegated: start following. */
  wake(): void;
}

export interface TaskServiceOptions {
  readonly api: OpenClawPluginApi;
  readonly link: () => Promise<Messenger>;
  /** Whether the outbox database (where tasks are kept) exists, without opening it. */
  readonly mayHoldState: () => boolean;
  /** How often open tasks are looked at (default 5 s). */
  readonly pollMs?: number;
}

/**
 * Follows the tasks this instance delegated while its Gateway runs: looks for each one's answer
 * (and its deadline), and brings each result, expiry or refusal into the session that delegated
 * it as a new turn (durable next-turn injection plus a wake). The tasks live in the outbox
 * database, so a Gateway restart picks them up where they were. Idle when no task is open.
 */
// register() runs more than once (discovery and full mode): a tool of one registry may delegate
// while another registry's service is the one started. A wake reaches every started one.
const started = new Set<() => void>();

/** While no task is open, the service still looks this often whether one appeared (another process delegated). */
const IDLE_LOOK_MS = 30_000;

export function createTaskService(options: TaskServiceOptions): TaskService {
  const pollMs = options.pollMs ?? 5_000;
  let timer: NodeJS.Timeout | undefined;
  let running: Promise<void> | undefined;
  let stopped = true;
  let again = false;
  let context: Parameters<OpenClawPluginService["start"]>[0] | undefined;

  const arm = (delayMs: number, run: () => void = () => tick()) => {
    if (stopped || timer) return;
    timer = setTimeout(run, delayMs);
    timer.unref();
  };
  const wakeNow = () => {
    if (timer) clearTimeout(timer);
    timer = undefined;
    arm(0);
  };
  const idleLook = () => {
    timer = undefined;
    if (options.mayHoldState()) tick();
    else arm(IDLE_LOOK_MS, idleLook);
  };
  const tick = () => {
    timer = undefined;
    if (running) {
      again = true;
      return;
    }
    running = (async () => {
      const link = await options.link();
      await link.tasks.follow();
      const workspace = context ? agentWorkspace(options.api, context) : undefined;
      for (const task of await taskPlumbing(link).toBring()) {
        if (!task.sessionKey || !workspace || task.state === "open") continue;
        const text = taskOutcomeForAgent({ id: task.id, target: task.target, state: task.state, result: task.result ?? "" });
        const wake = heartbeatWaker(options.api, task.sessionKey);
        if (
          await queueIntoNextTurn(
            options.api,
            context!.logger,
            { sessionKey: task.sessionKey, workspace, wake },
            { id: `${task.id}:${task.target}:result`, from: task.target, text },
          )
        ) {
          await taskPlumbing(link).markBrought(task);
          context?.logger.info(`inter-instance tasks: ${task.state} task ${task.id} (${task.target}) brought to ${task.sessionKey}`);
        }
      }
      const open = await link.tasks.open();
      const waiting = (await taskPlumbing(link).toBring()).length;
      const nextDeadline = open.length > 0 ? Math.min(...open.map((task) => Date.parse(task.deadline))) - Date.now() : pollMs;
      arm(open.length > 0 || waiting > 0 ? Math.max(50, Math.min(pollMs, nextDeadline)) : IDLE_LOOK_MS);
    })()
      .catch((error: unknown) => {
        context?.logger.warn(`inter-instance tasks: ${String(error)}`);
        arm(pollMs);
      })
      .finally(() => {
        running = undefined;
        if (again) {
          again = false;
          arm(0);
        }
      });
  };

  return {
    id: TASK_SERVICE_ID,
    async start(ctx) {
      context = ctx;
      stopped = false;
      started.add(wakeNow);
      arm(options.mayHoldState() ? pollMs : IDLE_LOOK_MS, options.mayHoldState() ? undefined : idleLook);
    },
    wake() {
      for (const wakeStarted of started) wakeStarted();
    },
    async stop() {
      stopped = true;
      started.delete(wakeNow);
      if (timer) clearTimeout(timer);
      timer = undefined;
      await running;
    },
  };
}
