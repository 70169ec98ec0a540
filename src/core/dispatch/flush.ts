import type { TransportId } from "../../config/schema.js";
import type { Outbox } from "../outbox.js";
import type { DispatchContext } from "./context.js";
import type { TargetLeases } from "./leases.js";
import type { DeliveryReport, FlushOptions } from "./report.js";
import { tryTransports } from "./send.js";

const FLUSH_BACKOFF_MS = 30_000;
const MAX_FLUSH_BACKOFF_MS = 3_600_000;

/**
 * Tries queued envelopes again in arrival order per target. A target whose oldest envelope still
 * fails keeps the rest queued behind it (order is never broken) and backs off.
 */
export async function flushQueued(context: DispatchContext, outbox: Outbox, leases: TargetLeases, options: FlushOptions): Promise<DeliveryReport[]> {
  const now = new Date();
  const blocked = new Set<string>();
  const reports: DeliveryReport[] = [];
  for (const listed of outbox.list(options.all ? {} : { dueBy: now })) {
    options.signal?.throwIfAborted();
    if (options.limit !== undefined && reports.length >= options.limit) break;
    if (blocked.has(listed.target)) continue;
    // Another process holds this target: its envelopes are that process's to send, in order.
    if (!leases.claim(listed.target)) {
      blocked.add(listed.target);
      continue;
    }
    // Read again under the lease: another flusher may have sent it since the list was read.
    const queued = outbox.queued(listed.envelope.id);
    if (!queued) continue;
    const instance = context.registry.find(queued.target);
    if (!instance) {
      blocked.add(queued.target);
      outbox.markFailed(queued.envelope.id, `no instance "${queued.target}" in the config`, new Date(now.getTime() + MAX_FLUSH_BACKOFF_MS));
      continue;
    }
    const report = await tryTransports(context, queued.envelope, instance, {
      signal: options.signal,
      ...(queued.pinnedTo ? { transports: [queued.pinnedTo as TransportId] } : {}),
      avoid: new Map(queued.avoid.map((id) => [id, queued.lastError])),
    });
    reports.push(report);
    context.onReport?.(queued.envelope, report, "flush");
    // The target answered that it does not hold it: it is no longer bound to the transport that sent it.
    if (!report.ok && queued.pinnedTo && report.attempts.some((a) => a.transport === queued.pinnedTo && a.checked === "not found"))
      outbox.unpin(queued.envelope.id);
    if (report.ok && report.via) {
      outbox.markDelivered(queued.envelope.id, report.via, report.status, report.receipt);
      if (report.status === "accepted") context.onWaiting?.();
    } else {
      blocked.add(queued.target);
      const backoff = Math.min(FLUSH_BACKOFF_MS * 2 ** queued.attempts, MAX_FLUSH_BACKOFF_MS);
      outbox.markFailed(
        queued.envelope.id,
        report.attempts.map((a) => `${a.transport}: ${a.error?.code ?? a.outcome}`).join("; "),
        new Date(Date.now() + backoff),
      );
    }
  }
  return reports;
}
