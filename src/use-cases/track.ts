import { setTimeout as delay } from "node:timers/promises";
import type { Logger } from "pino";
import type { InstanceRegistry } from "../config/registry.js";
import { type DeliveryState, type DeliveryStatus, deliveryStatus, type Evidence, reached } from "../core/delivery-status.js";
import type { Dispatcher } from "../core/dispatcher.js";
import type { Outbox } from "../core/outbox.js";
import type { Receipt } from "../core/transport.js";
import type { FileReceipt } from "../inbox/receipts.js";
import { deadlineSignal } from "../util/deadline.js";

export interface TrackedMessage extends DeliveryStatus {
  /** The instance it went to. */
  readonly to: string;
}

export interface TrackDependencies {
  readonly registry: InstanceRegistry;
  readonly dispatcher: Dispatcher;
  readonly outbox: () => Promise<Outbox>;
  readonly logger: Logger;
  readonly fileReceipt: (to: string, id: string) => Promise<FileReceipt>;
}

export interface TrackOptions {
  readonly signal?: AbortSignal;
  /** Also ask the target now (its transcript, its receipts); default true. Off: only what this sender recorded. */
  readonly live?: boolean;
}

// What the outbox's delivery record says, in the status vocabulary.
const RECORDED: Record<string, DeliveryState> = {
  accepted: "accepted",
  written: "accepted",
  delivered: "delivered",
  held: "held",
  refused: "refused",
  lost: "lost",
};
const RECEIPT: Record<FileReceipt["state"], DeliveryState | undefined> = {
  written: undefined,
  surfaced: "delivered",
  seen: "seen",
  held: "held",
  refused: "refused",
};

/**
 * Where a message stands, with the evidence for it: what this sender recorded (queued,
 * accepted, the follow-ups), the task record for a delegated one, and, asked live, the target
 * itself (the transcript of its session, an A2A task, the receipts of its memory file).
 */
export async function track(dependencies: TrackDependencies, id: string, options: TrackOptions = {}): Promise<TrackedMessage[]> {
  const outbox = await dependencies.outbox();
  const byTarget = new Map<string, Evidence[]>();
  const add = (target: string, fact: Evidence) => (byTarget.get(target) ?? byTarget.set(target, []).get(target)!).push(fact);

  for (const queued of outbox.list().filter((entry) => entry.envelope.id === id)) {
    add(queued.target, {
      state: "queued",
      at: queued.queuedAt,
      source: "outbox",
      detail: { attempts: queued.attempts, lastError: queued.lastError, nextAttemptAt: queued.nextAttemptAt },
    });
  }
  for (const record of outbox.deliveries(id)) {
    const state = RECORDED[record.status];
    const detail = {
      via: record.via,
      ...Object.fromEntries(Object.entries(record.receipt?.detail ?? {}).filter(([key]) => key !== "reply")),
      ...(record.note ? { reason: record.note } : {}),
    };
    if (state) add(record.target, { state, at: record.deliveredAt, source: "outbox", detail });
    if (options.live === false) continue;
    if (record.via === "memory_file") await addFileReceipt(dependencies, record.target, id, add);
    else if (record.status === "accepted" || record.status === "delivered") await addLiveLook(dependencies, outbox, record, id, options.signal, add);
  }
  const task = outbox.tasks.get(id);
  if (task && task.state !== "open")
    add(task.target, {
      state: task.state,
      at: task.settledAt ?? task.createdAt,
      source: "task",
      detail: { result: task.result ?? "", deadline: task.deadline },
    });

  return [...byTarget].flatMap(([to, evidence]) => {
    const status = deliveryStatus(id, evidence);
    return status ? [{ ...status, to }] : [];
  });
}

async function addFileReceipt(dependencies: TrackDependencies, target: string, id: string, add: (target: string, fact: Evidence) => void): Promise<void> {
  const receipt = await dependencies.fileReceipt(target, id).catch(() => undefined);
  const state = receipt && RECEIPT[receipt.state];
  if (receipt && state) add(target, { state, at: receipt.at ?? new Date().toISOString(), source: "receipt", detail: { receiver: receipt.receiver } });
}

/** Asks the transport that took it: is it in the target session, answered, held, refused, lost? */
async function addLiveLook(
  { registry, dispatcher, logger }: TrackDependencies,
  outbox: Outbox,
  record: { target: string; via: string; receipt?: Receipt; deliveredAt: string },
  id: string,
  signal: AbortSignal | undefined,
  add: (target: string, fact: Evidence) => void,
): Promise<void> {
  const instance = registry.find(record.target);
  const transport = dispatcher.transport(record.via as never);
  // The copy the target holds now (a redelivery has a key of its own), while it is followed up.
  const accepted = outbox.awaitingFollowUp(new Date(0), { ids: new Set([id]) }).find((item) => item.envelope.to === record.target);
  const envelope = accepted?.envelope ??
    outbox.tasks.get(id, record.target)?.envelope ?? {
      id,
      kind: "message" as const,
      from: registry.self,
      to: record.target,
      body: "",
      createdAt: new Date(0).toISOString(),
    };
  if (!instance || !transport || !record.receipt) return;
  const context = {
    instance,
    signal: deadlineSignal(instance.timeouts[transport.id], signal),
    logger: logger.child({ envelopeId: id, transport: transport.id }),
  };
  const now = () => new Date().toISOString();
  try {
    const followUp = await transport.followUp?.(envelope, context, { acceptedAt: accepted?.acceptedAt ?? new Date(record.deliveredAt) });
    if (followUp?.status === "held" || followUp?.status === "refused" || followUp?.status === "lost") {
      return add(record.target, {
        state: followUp.status,
        at: now(),
        source: followUp.status === "lost" ? "transcript" : "policy",
        detail: { reason: followUp.reason },
      });
    }
    if (followUp?.status === "delivered" || (followUp?.status === "waiting" && followUp.custody === "in session"))
      add(record.target, { state: "delivered", at: now(), source: "transcript", detail: { via: transport.id } });
    const reply = await transport.checkReply?.(envelope, record.receipt, context);
    if (reply !== undefined) add(record.target, { state: "answered", at: now(), source: "reply", detail: { via: transport.id, replyChars: reply.length } });
  } catch (error) {
    logger.debug({ envelopeId: id, err: String(error) }, "could not ask the target where the message is");
  }
}

/**
 * Looks again every `pollMs` (default 2 s) until every target's copy got at least as far as
 * `goal` or can no longer get there (refused, lost), or `timeoutMs` (default 120 s) passes;
 * resolves with the last look either way.
 */
export async function waitFor(
  look: (options: TrackOptions) => Promise<TrackedMessage[]>,
  goal: "accepted" | "delivered" | "seen" | "answered",
  options: { timeoutMs?: number; signal?: AbortSignal; pollMs?: number } = {},
): Promise<TrackedMessage[]> {
  const until = Date.now() + (options.timeoutMs ?? 120_000);
  for (;;) {
    const statuses = await look(options.signal ? { signal: options.signal } : {});
    if (statuses.length > 0 && statuses.every((status) => reached(status.state, goal) !== "not yet")) return statuses;
    if (Date.now() >= until) return statuses;
    await delay(Math.min(options.pollMs ?? 2_000, Math.max(0, until - Date.now())), undefined, options.signal ? { signal: options.signal } : {});
  }
}
