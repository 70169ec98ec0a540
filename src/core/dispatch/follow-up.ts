import { setTimeout as delay } from "node:timers/promises";
import pLimit from "p-limit";
import type { Instance } from "../../config/registry.js";
import type { TransportId } from "../../config/schema.js";
import { deadlineSignal } from "../../util/deadline.js";
import type { Envelope } from "../envelope.js";
import type { AwaitingFollowUp, Outbox } from "../outbox.js";
import type { DispatchContext } from "./context.js";
import { describeError } from "./diagnose.js";
import type { TargetLeases } from "./leases.js";
import { type DeliveryReport, type FollowUpLook, type FollowUpStep, settledStatus, withStep } from "./report.js";
import { tryTransports } from "./send.js";

/** A message the target lost after accepting it is sent again at most this often, and only while this young. */
export const MAX_REDELIVERIES = 3;
export const MAX_REDELIVERY_AGE_MS = 60 * 60_000;
/** Targets looked at side by side, except those a pipelined transport (a broker) carried: all of them at once. */
const FOLLOW_UP_CONCURRENCY = 8;
/** How long after acceptance an envelope is still followed up. */
export const FOLLOW_UP_WINDOW_MS = 24 * 60 * 60 * 1000;

/**
 * Looks at accepted envelopes (all, or those with these ids) on their targets, one target at a
 * time under its lease, and acts on what is found. Keyed `<id> <target>`.
 */
export async function followUpAccepted(
  context: DispatchContext,
  outbox: Outbox,
  leases: TargetLeases,
  signal: AbortSignal | undefined,
  ids?: ReadonlySet<string>,
  /** Looks at no more envelopes after this time (ms since the epoch); the one in hand finishes. */
  deadline?: number,
): Promise<Map<string, FollowUpLook>> {
  const looks = new Map<string, FollowUpLook>();
  const awaiting = () => outbox.awaitingFollowUp(new Date(Date.now() - FOLLOW_UP_WINDOW_MS), ids ? { ids } : {});
  const first = awaiting();
  const followTarget = async (target: string) => {
    if (!leases.claim(target)) return;
    // Read again under the lease: another process may have settled or redelivered them meanwhile.
    for (const item of awaiting().filter((candidate) => candidate.envelope.to === target)) {
      signal?.throwIfAborted();
      if (deadline !== undefined && Date.now() >= deadline) return;
      leases.claim(target);
      const look = await followOne(context, outbox, item, signal);
      if (look) looks.set(`${item.envelope.id} ${target}`, look);
    }
  };
  // Targets are looked at side by side (in order within each): a broadcast's receipts are read together, not one member after another.
  const limit = pLimit(FOLLOW_UP_CONCURRENCY);
  await Promise.all(
    [...new Set(first.map((item) => item.envelope.to))].map((target) => {
      const pipelined = first.every((item) => item.envelope.to !== target || context.transports.get(item.via as TransportId)?.pipelined === true);
      return pipelined ? followTarget(target) : limit(() => followTarget(target));
    }),
  );
  return looks;
}

/** `Dispatcher.settle`: looks again and again, backing off, until each report settles or the time is up. */
export async function settleReports(
  context: DispatchContext,
  outbox: Outbox,
  leases: TargetLeases,
  reports: readonly DeliveryReport[],
  options: { readonly timeoutMs: number; readonly signal?: AbortSignal | undefined },
): Promise<DeliveryReport[]> {
  const keyOf = (report: { readonly id: string; readonly to: string }) => `${report.id} ${report.to}`;
  const current = new Map(reports.map((report) => [keyOf(report), report]));
  const open = new Set(reports.filter((report) => report.status === "accepted").map(keyOf));
  const deadline = Date.now() + options.timeoutMs;
  let pause = 250;
  while (open.size > 0) {
    const ids = new Set([...open].map((key) => current.get(key)!.id));
    // A pass over many messages (each look a request, a redelivery waiting for room) must not outlast the caller's wait.
    const looks = await followUpAccepted(context, outbox, leases, options.signal, ids, deadline);
    for (const key of open) {
      const report = current.get(key)!;
      const look = looks.get(key);
      const updated = look ? withStep(report, look.step, look.redelivered) : report;
      // Not followed any more without a settling look (queued again elsewhere): the outbox says where it is.
      const status =
        (look && settledStatus(look.step)) ?? (outbox.delivery(report.id, report.to)?.status !== "accepted" && outbox.queued(report.id) ? "queued" : undefined);
      current.set(key, status ? { ...updated, status, ok: status === "delivered" || status === "queued" } : updated);
      if (status) open.delete(key);
    }
    if (open.size === 0 || Date.now() + pause > deadline) break;
    await delay(pause, undefined, options.signal ? { signal: options.signal } : {});
    pause = Math.min(pause * 2, 4_000);
  }
  return reports.map((report) => current.get(keyOf(report))!);
}

/** One look at one accepted envelope; undefined when its target could not be asked (asked next time). */
async function followOne(
  context: DispatchContext,
  outbox: Outbox,
  { envelope, via, acceptedAt }: AwaitingFollowUp,
  signal: AbortSignal | undefined,
): Promise<FollowUpLook | undefined> {
  const transport = context.transports.get(via as TransportId);
  const instance = context.registry.find(envelope.to);
  if (!transport?.followUp || !instance) return undefined;
  const lookSignal = deadlineSignal(instance.timeouts[transport.id], signal);
  const outcome = await transport.followUp(envelope, { instance, signal: lookSignal, logger: context.logger }, { acceptedAt }).catch((error: unknown) => {
    context.logger.debug(
      { envelopeId: envelope.id, transport: transport.id, error: describeError(error, context.secrets) },
      "follow-up could not ask the target",
    );
    return undefined;
  });
  if (!outcome) return undefined;
  const step = { at: new Date().toISOString(), via: transport.id };
  const fields = { envelopeId: envelope.id, to: envelope.to, transport: transport.id };
  switch (outcome.status) {
    case "delivered":
      outbox.markFollowedUp(envelope.id, envelope.to);
      return { step: { ...step, found: "delivered" } };
    case "waiting":
      return { step: { ...step, found: outcome.custody ?? "not settled" } };
    case "held":
    case "refused":
      outbox.markFollowedUp(envelope.id, envelope.to, outcome.status);
      context.logger.warn({ ...fields, reason: outcome.reason }, `${outcome.status} by the receiver's policy`);
      return { step: { ...step, found: outcome.status, reason: outcome.reason } };
    case "unsuitable":
      outbox.requeue(envelope, `${transport.id}: ${outcome.reason}`, new Date(), [transport.id]);
      context.logger.warn({ ...fields, reason: outcome.reason }, "the target could not use it; queued for another transport");
      return { step: { ...step, found: "unsuitable", reason: outcome.reason, action: "queued again" } };
    case "lost":
      return redeliver(context, outbox, envelope, instance, { ...step, found: "lost", reason: outcome.reason }, signal);
  }
}

/** A target lost an envelope after accepting it: sent again now under a fresh key, or given up past the bound. */
async function redeliver(
  context: DispatchContext,
  outbox: Outbox,
  envelope: Envelope,
  instance: Instance,
  step: FollowUpStep,
  signal: AbortSignal | undefined,
): Promise<FollowUpLook> {
  const redelivery = (envelope.redelivery ?? 0) + 1;
  const ageMs = Date.now() - Date.parse(envelope.createdAt);
  if (redelivery > MAX_REDELIVERIES || ageMs > MAX_REDELIVERY_AGE_MS) {
    const bound = redelivery > MAX_REDELIVERIES ? `sent ${MAX_REDELIVERIES + 1} times` : `older than ${MAX_REDELIVERY_AGE_MS / 60_000} minutes`;
    const reason = `${step.reason ?? "lost by the target"}; not sent again (${bound})`;
    outbox.markLost(envelope.id, envelope.to, reason);
    const given: FollowUpStep = { ...step, reason, action: "given up" };
    const report: DeliveryReport = { ok: false, id: envelope.id, to: envelope.to, status: "lost", via: step.via, attempts: [], followUp: [given] };
    context.logger.error({ envelopeId: envelope.id, to: envelope.to, reason }, "lost by the target after it accepted the message; given up");
    context.onReport?.(envelope, report, "follow-up");
    context.onLost?.(envelope, report);
    return { step: given };
  }
  const again: Envelope = { ...envelope, redelivery };
  context.logger.warn({ envelopeId: envelope.id, to: envelope.to, redelivery, reason: step.reason }, "accepted but lost by the target; sending it again");
  const report = await tryTransports(context, again, instance, signal ? { signal } : {});
  context.onReport?.(again, report, "follow-up");
  if (report.ok && report.via && report.receipt) {
    outbox.recordDelivery(again.id, again.to, report.via, report.status, report.receipt, new Date(), again);
    return { step: { ...step, action: "redelivered", redelivery }, redelivered: report };
  }
  outbox.requeue(again, `${step.via}: ${step.reason ?? "lost"}`);
  if (report.unsettledOn) outbox.pin(again.id, report.unsettledOn);
  context.onWaiting?.();
  return { step: { ...step, action: "queued again", redelivery }, redelivered: { ...report, status: "queued" } };
}
