import type { Logger } from "pino";
import type { InstanceRegistry } from "../config/registry.js";
import type { DeliveryReport, Dispatcher } from "../core/dispatcher.js";
import { createEnvelope } from "../core/envelope.js";
import { FatalError, InterInstanceError, ValidationError } from "../core/errors.js";
import type { Outbox } from "../core/outbox.js";
import type { Task } from "../core/task-book.js";
import { deadlineSignal } from "../util/deadline.js";

export const DEFAULT_TASK_DEADLINE_MS = 3_600_000;
const LONGEST_DEADLINE_MS = 7 * 86_400_000;

export interface DelegateInput {
  /** Instance name or alias. */
  readonly to: string;
  readonly body: string;
  readonly id?: string;
  /** When an unanswered task expires: a time, or milliseconds from now (default one hour, at most a week). */
  readonly deadline?: Date | number;
  /** The session that delegated it, where the plugin brings the result (absent: read it with `track`). */
  readonly sessionKey?: string;
  readonly conversation?: string;
  readonly hop?: number;
  /** The group send this task is part of. */
  readonly group?: string;
}

export interface DelegateResult {
  readonly id: string;
  readonly to: string;
  readonly deadline: string;
  /** How the task went out: delivered or accepted, or queued in the outbox (still followed). */
  readonly report: DeliveryReport;
}

export interface DelegateDependencies {
  readonly registry: InstanceRegistry;
  readonly dispatcher: Dispatcher;
  readonly outbox: () => Promise<Outbox>;
  readonly logger: Logger;
}

function deadlineOf(deadline: DelegateInput["deadline"], now: number): Date {
  const at = deadline === undefined ? now + DEFAULT_TASK_DEADLINE_MS : typeof deadline === "number" ? now + deadline : deadline.getTime();
  if (!Number.isFinite(at) || at <= now || at > now + LONGEST_DEADLINE_MS) {
    throw new ValidationError("The task's deadline must be in the future and at most a week away.", [
      { path: "deadline", message: "must be in the future, at most 7 days away" },
    ]);
  }
  return new Date(at);
}

/**
 * Hands a task to another instance's agent and returns at once with its id. The task is recorded
 * before it is sent (so a crash in between still follows it) and is followed until its answer
 * comes or its deadline passes (`followTasks`, which the plugin runs and `track` runs once).
 */
export async function delegate(dependencies: DelegateDependencies, input: DelegateInput): Promise<DelegateResult> {
  const { registry, dispatcher } = dependencies;
  const instance = registry.resolve(input.to);
  const deadline = deadlineOf(input.deadline, Date.now());
  const envelope = createEnvelope({
    to: instance.name,
    body: input.body,
    from: registry.self,
    id: input.id,
    conversation: input.conversation,
    hop: input.hop,
    task: true,
  });
  const outbox = await dependencies.outbox();
  outbox.tasks.add({ envelope, deadline: deadline.toISOString(), sessionKey: input.sessionKey, group: input.group });
  const report = await dispatcher.deliver(envelope, instance, { queue: true });
  if (!report.ok && report.status === "failed")
    outbox.tasks.settle(
      envelope.id,
      instance.name,
      "refused",
      `No transport could deliver it: ${report.attempts.map((a) => a.error?.message ?? a.skippedBecause ?? a.outcome).join("; ")}`,
    );
  return { id: envelope.id, to: instance.name, deadline: deadline.toISOString(), report };
}

/** A task whose outcome `followTasks` just learned. */
export interface SettledTask {
  readonly task: Task;
  readonly state: "answered" | "expired" | "refused";
  readonly result: string;
}

/**
 * Looks once at every open task: its deadline, then its target's answer through the transport
 * that delivered it (the target session's transcript, the A2A task). Settles each at most once.
 */
export async function followTasks(dependencies: DelegateDependencies, options: { signal?: AbortSignal; only?: string } = {}): Promise<SettledTask[]> {
  const { registry, dispatcher, logger } = dependencies;
  const outbox = await dependencies.outbox();
  const settled: SettledTask[] = [];
  const settle = (task: Task, state: SettledTask["state"], result: string) => {
    if (outbox.tasks.settle(task.id, task.target, state, result)) settled.push({ task, state, result });
  };
  for (const task of outbox.tasks.open()) {
    if (options.only !== undefined && task.id !== options.only) continue;
    options.signal?.throwIfAborted();
    if (Date.parse(task.deadline) <= Date.now()) {
      settle(task, "expired", `${task.target} did not answer task ${task.id} by its deadline (${task.deadline}).`);
      continue;
    }
    const record = outbox.delivery(task.id, task.target);
    if (record?.status === "refused") {
      settle(task, "refused", `${task.target}'s inbound policy refused task ${task.id}.`);
      continue;
    }
    const transport = record?.receipt && dispatcher.transport(record.via as never);
    const instance = registry.find(task.target);
    if (!record?.receipt || !transport?.checkReply || !instance) continue;
    const signal = deadlineSignal(instance.timeouts[transport.id], options.signal);
    try {
      const reply = await transport.checkReply(task.envelope, record.receipt, {
        instance,
        signal,
        logger: logger.child({ envelopeId: task.id, transport: transport.id }),
      });
      if (reply !== undefined) settle(task, "answered", reply);
    } catch (error) {
      if (error instanceof FatalError) settle(task, "refused", error.message);
      else
        logger.debug(
          { envelopeId: task.id, err: error instanceof InterInstanceError ? error.message : String(error) },
          "could not look for the task's answer yet",
        );
    }
  }
  return settled;
}

/**
 * An answer that came back as a message (`replyTo` = the task's id) from the instance the task
 * went to, verified. Settles the task; false when no such open task exists.
 */
export async function answerByReply(
  dependencies: Pick<DelegateDependencies, "outbox">,
  reply: { replyTo: string; from: string; body: string },
): Promise<Task | undefined> {
  const outbox = await dependencies.outbox();
  const task = outbox.tasks.get(reply.replyTo, reply.from);
  if (task?.state !== "open") return undefined;
  return outbox.tasks.settle(task.id, task.target, "answered", reply.body) ? task : undefined;
}
