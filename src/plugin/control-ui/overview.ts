import type { AuditEntry } from "../../audit/audit-log.js";
import { describeSender, type HeldMessage } from "../../inbox/held.js";
import type { Messenger } from "../../messenger/create.js";
import type { LinkMetrics } from "../../metrics/link-metrics.js";
import type { DoctorCheck, DoctorReport } from "../../use-cases/doctor/index.js";
import type { DeliveryView, InstanceView, Overview } from "./operations.js";

/** How many deliveries the page lists, and how many of the newest outgoing ones it follows up. */
const RECENT = 20;
const FOLLOWED = 8;
const FOLLOW_UP_BUDGET_MS = 3_000;

/**
 * The last doctor run of each instance: what the page, `/instances` and the Gateway's health
 * report show, so none of them has to probe every transport again to answer.
 */
export class CheckBook {
  readonly #byInstance = new Map<string, { readonly at: string; readonly checks: readonly DoctorCheck[] }>();

  record(report: DoctorReport, at: Date = new Date()): void {
    const byInstance = Map.groupBy(report.checks, (check) => check.instance);
    for (const [instance, checks] of byInstance) this.#byInstance.set(instance, { at: at.toISOString(), checks });
  }

  last(instance: string): { readonly at: string; readonly checks: readonly DoctorCheck[] } | undefined {
    return this.#byInstance.get(instance);
  }

  /** Every failing check of the last runs, for the health report. */
  failing(): DoctorCheck[] {
    return [...this.#byInstance.values()].flatMap((run) => run.checks.filter((check) => check.status === "fail"));
  }
}

export interface OverviewSources {
  readonly link: Messenger;
  readonly book: CheckBook;
  readonly held: () => Promise<readonly HeldMessage[]>;
  readonly audit: () => Promise<readonly AuditEntry[]>;
  /** The delivery times the metrics keep (the page's latency table). */
  readonly metrics?: Pick<LinkMetrics, "latencies"> | undefined;
}

function instanceView(link: Messenger, book: CheckBook, name: string): InstanceView {
  const instance = link.registry.resolve(name);
  const last = book.last(instance.name);
  const route = link.route(instance.name);
  const transports = instance.transports.map((id) => {
    const check = last?.checks.find((c) => c.check === `transport:${id}`);
    const skipped = route.skipped.find((s) => s.transport === id && s.reason.startsWith("circuit open"));
    return {
      id,
      state: check?.status ?? ("unchecked" as const),
      summary: check?.summary ?? "not checked yet",
      ...(check?.fix ? { fix: check.fix } : {}),
      ...(skipped ? { skippedNow: skipped.reason } : {}),
    };
  });
  const otherChecks = (last?.checks ?? [])
    .filter((c) => !c.check.startsWith("transport:") && (c.status === "fail" || c.status === "warn"))
    .map((c) => ({ check: c.check, state: c.status, summary: c.summary, ...(c.fix ? { fix: c.fix } : {}) }));
  return {
    name: instance.name,
    displayName: instance.displayName,
    aliases: instance.aliases,
    transports,
    otherChecks,
    ...(route.via ? { route: route.via } : {}),
    ...(last ? { checkedAt: last.at } : {}),
  };
}

/** Where a message stands now, by the same evidence `track` reads; the audit's status when that takes too long. */
async function followedStatus(link: Messenger, entry: AuditEntry): Promise<string> {
  const signal = AbortSignal.timeout(FOLLOW_UP_BUDGET_MS);
  try {
    const [tracked] = await link.track(entry.id, { signal });
    return tracked && tracked.state !== entry.status ? `${entry.status}, now ${tracked.state}` : entry.status;
  } catch {
    return entry.status;
  }
}

async function recentDeliveries(link: Messenger, entries: readonly AuditEntry[]): Promise<DeliveryView[]> {
  const newest = entries.slice(-RECENT).reverse();
  const followed = new Set(newest.filter((entry) => entry.direction === "out").slice(0, FOLLOWED));
  return Promise.all(
    newest.map(async (entry) => ({
      at: entry.at,
      direction: entry.direction,
      id: entry.id,
      from: entry.from,
      to: entry.to,
      transport: entry.transport,
      status: followed.has(entry) ? await followedStatus(link, entry) : entry.status,
      verdict: entry.verdict,
    })),
  );
}

/** Everything the Instances page shows; no body of any message (held ones least of all). */
export async function buildOverview({ link, book, held, audit, metrics }: OverviewSources): Promise<Overview> {
  const [waiting, deadLetters, entries, heldMessages] = await Promise.all([
    link.outbox.list(),
    link.fleet ? link.fleet.deadLetters().catch(() => []) : Promise.resolve([]),
    audit().catch(() => []),
    held().catch(() => []),
  ]);
  const oldest = waiting.map((q) => q.queuedAt).sort()[0];
  return {
    self: link.registry.self,
    at: new Date().toISOString(),
    instances: link.registry.list().map((instance) => instanceView(link, book, instance.name)),
    outbox: waiting.map((q) => ({
      id: q.envelope.id,
      to: q.target,
      queuedAt: q.queuedAt,
      attempts: q.attempts,
      lastError: q.lastError,
      nextAttemptAt: q.nextAttemptAt,
    })),
    deadLetters: deadLetters.map((d) => ({ seq: d.seq, id: d.envelope?.id ?? "(unreadable)", from: d.envelope?.from ?? "?", reason: d.reason })),
    recent: await recentDeliveries(link, entries),
    held: heldMessages.map((m) => ({ id: m.id, from: m.from, transport: m.transport, verdict: describeSender(m), reason: m.reason, receivedAt: m.receivedAt })),
    latency: metrics?.latencies() ?? [],
    ...(oldest === undefined ? {} : { oldestWaitingSeconds: Math.max(0, Math.round((Date.now() - Date.parse(oldest)) / 1000)) }),
  };
}

/** `/instances` in chat, and the CLI's words for the same overview. */
export function describeOverview(overview: Overview): string {
  if (overview.problem) return overview.problem;
  const lines = [`${overview.instances.length} instance(s) known to ${overview.self}:`];
  for (const instance of overview.instances) {
    const failing = instance.transports.filter((t) => t.state === "fail");
    const route = instance.route ? `messages go by ${instance.route}` : "no transport is open: messages wait in the outbox";
    lines.push(
      `- ${instance.displayName}${instance.aliases.length ? ` (${instance.aliases.join(", ")})` : ""}: ${route}; ${instance.checkedAt ? `${failing.length} of ${instance.transports.length} transport(s) failing at the last check` : "not checked yet"}.`,
    );
    for (const t of failing) lines.push(`    ${t.id}: ${t.summary}${t.fix ? ` (fix: ${t.fix})` : ""}`);
  }
  lines.push(overview.outbox.length === 0 ? "Nothing waits in the outbox." : `${overview.outbox.length} message(s) wait in the outbox:`);
  for (const w of overview.outbox) lines.push(`- ${w.id} to ${w.to}, ${w.attempts} attempt(s), last error: ${w.lastError}`);
  if (overview.held.length > 0) lines.push(`${overview.held.length} incoming message(s) held for the owner (openclaw inter-instance inbox list).`);
  return lines.join("\n");
}
