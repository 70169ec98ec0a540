import type { Counter, Histogram, Registry } from "prom-client";
import type { DeliveryReport, ReportOrigin } from "../core/dispatch/report.js";
import type { TargetDepth } from "../core/outbox.js";
import type { ReceiptStatus } from "../core/transport.js";
import { lazyRequire } from "../util/lazy.js";

const promClient = lazyRequire<typeof import("prom-client")>("prom-client");

const PREFIX = "openclaw_inter_instance_";
const RECENT_LATENCIES = 200;
/** Observations kept before the instruments exist; past this many they are built and take them. */
const MAX_PENDING = 1_000;

/** Statuses an attempt ends with when the target took the message. */
const TAKEN: ReadonlySet<string> = new Set<ReceiptStatus>(["accepted", "delivered", "written"]);

/** Why an inbound message was held, refused or suppressed, in a few words (labels stay bounded). */
export type InboundReason = "none" | "unverified" | "policy" | "changed" | "repeat" | "replay" | "loop";

/** What the gauges read at each scrape. */
export interface MetricSources {
  /** Per target: waiting, oldest waiting, awaiting evidence, lost (the outbox's aggregates). */
  readonly depths?: (() => Promise<readonly TargetDepth[]> | readonly TargetDepth[]) | undefined;
  /** The instance and transport pairs whose circuit is open now, of all configured pairs. */
  readonly circuits?: (() => readonly { readonly instance: string; readonly transport: string; readonly open: boolean }[]) | undefined;
}

interface Instruments {
  readonly registry: Registry;
  readonly sends: Counter<"peer" | "transport" | "status">;
  readonly latency: Histogram<"transport">;
  readonly outboxTries: Counter<"peer" | "transport" | "status">;
  readonly redeliveries: Counter<"peer">;
  readonly inbound: Counter<"transport" | "status" | "reason">;
  readonly verdicts: Counter<"verdict">;
  readonly loopStops: Counter;
}

/**
 * The link's numbers in the Prometheus text format: what it sent and how, what waits, what came
 * in and what was done with it. Labels are instance names (as `peer`: Prometheus keeps `instance`
 * for the scraped target), transport ids and statuses only, never an envelope id or a body. One
 * registry per link, not prom-client's global one.
 *
 * prom-client is loaded when the numbers are first read (or many observations wait): a one-shot CLI
 * send, which never reads them, does not pay its ~25 ms load. Until then observations wait in order.
 */
export class LinkMetrics {
  #instruments: Instruments | undefined;
  #pending: ((instruments: Instruments) => void)[] = [];
  #sources: MetricSources = {};
  /** The outbox's aggregates read once for the scrape under way: four gauges come from one query. */
  #scrapeDepths: Promise<readonly TargetDepth[]> | undefined;
  /** The newest attempt times per transport, for the percentiles the Instances page shows. */
  readonly #recentMs = new Map<string, number[]>();

  get registry(): Registry {
    return this.#built().registry;
  }

  #record(observe: (instruments: Instruments) => void): void {
    if (this.#instruments) observe(this.#instruments);
    else if (this.#pending.push(observe) > MAX_PENDING) this.#built();
  }

  #built(): Instruments {
    if (this.#instruments) return this.#instruments;
    const { Counter, Histogram, Registry } = promClient();
    const registry = new Registry();
    const registers = [registry];
    const instruments: Instruments = {
      registry,
      sends: new Counter({
        name: `${PREFIX}sends_total`,
        help: "Messages sent, by target instance, the transport that carried them (none when none did) and the status of the first report.",
        labelNames: ["peer", "transport", "status"],
        registers,
      }),
      latency: new Histogram({
        name: `${PREFIX}delivery_seconds`,
        help: "Time from the start of a transport's attempt until the target took the message, by transport.",
        labelNames: ["transport"],
        buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
        registers,
      }),
      outboxTries: new Counter({
        name: `${PREFIX}outbox_tries_total`,
        help: "Envelopes the outbox tried again, by target instance, the transport that carried them (none when none did) and the outcome.",
        labelNames: ["peer", "transport", "status"],
        registers,
      }),
      redeliveries: new Counter({
        name: `${PREFIX}redeliveries_total`,
        help: "Messages sent again because the target lost them after accepting them.",
        labelNames: ["peer"],
        registers,
      }),
      inbound: new Counter({
        name: `${PREFIX}inbound_total`,
        help: "Messages that came in, by transport, what was done with them (shown, held, refused, suppressed, …) and why, in a word.",
        labelNames: ["transport", "status", "reason"],
        registers,
      }),
      verdicts: new Counter({
        name: `${PREFIX}signature_verdicts_total`,
        help: "Sender verdicts on messages that came in: verified (signed by a pinned key, for this receiver, fresh) or unverified.",
        labelNames: ["verdict"],
        registers,
      }),
      loopStops: new Counter({
        name: `${PREFIX}loop_stops_total`,
        help: "Conversations stopped at their loop budget.",
        registers,
      }),
    };
    this.#gauges(registers);
    this.#instruments = instruments;
    for (const observe of this.#pending.splice(0)) observe(instruments);
    return instruments;
  }

  // Gauges are read at each scrape (prom-client calls `collect` with the gauge as `this`).
  #gauges(registers: Registry[]): void {
    const { Gauge } = promClient();
    const self = this;
    new Gauge({
      name: `${PREFIX}circuit_open`,
      help: "1 while the circuit of an instance's transport is open (the path just failed and is skipped for a cool-down).",
      labelNames: ["peer", "transport"],
      registers,
      collect() {
        this.reset();
        for (const pair of self.#sources.circuits?.() ?? []) this.set({ peer: pair.instance, transport: pair.transport }, pair.open ? 1 : 0);
      },
    });
    const depthGauge = (name: string, help: string, value: (depth: TargetDepth, now: number) => number) =>
      new Gauge({
        name: `${PREFIX}${name}`,
        help,
        labelNames: ["peer"],
        registers,
        async collect() {
          this.reset();
          const depths = (await (self.#scrapeDepths ?? self.#sources.depths?.())) ?? [];
          const now = Date.now();
          for (const depth of depths) this.set({ peer: depth.target }, value(depth, now));
        },
      });
    depthGauge("outbox_waiting", "Envelopes waiting in the durable outbox to be sent, by target instance.", (depth) => depth.waiting);
    depthGauge("outbox_oldest_waiting_seconds", "Age of the oldest envelope waiting in the outbox, by target instance (0 when none waits).", (depth, now) =>
      depth.oldestQueuedAt ? Math.max(0, (now - Date.parse(depth.oldestQueuedAt)) / 1000) : 0,
    );
    depthGauge(
      "awaiting_evidence",
      "Messages the target accepted whose arrival in its agent's session is not yet seen (followed up, sent again if lost).",
      (depth) => depth.awaitingEvidence,
    );
    depthGauge("dead_letters", "Messages lost for good: the target dropped them and the bounded redeliveries did not get them there.", (depth) => depth.lost);
  }

  /** Where the gauges read from; called once the link has an outbox and a circuit breaker. */
  watch(sources: MetricSources): void {
    this.#sources = sources;
  }

  /** Every report the dispatcher makes: a send's, the outbox's tries, a follow-up's redelivery or giving up. */
  observeReport(report: DeliveryReport, origin: ReportOrigin): void {
    const peer = report.to;
    const labels = { peer, transport: report.via ?? "none", status: report.repeatOf ? "repeat" : report.status };
    if (origin === "send") this.#record((i) => i.sends.inc(labels));
    else if (origin === "flush") this.#record((i) => i.outboxTries.inc(labels));
    else if (report.status !== "lost") this.#record((i) => i.redeliveries.inc({ peer }));
    for (const attempt of report.attempts) {
      if (!TAKEN.has(attempt.outcome)) continue;
      this.#record((i) => i.latency.observe({ transport: attempt.transport }, attempt.ms / 1000));
      const recent = this.#recentMs.get(attempt.transport) ?? [];
      if (recent.push(attempt.ms) > RECENT_LATENCIES) recent.shift();
      this.#recentMs.set(attempt.transport, recent);
    }
  }

  /** Per transport: how many of the newest attempts that got through are counted, and their median and 95th percentile. */
  latencies(): { transport: string; count: number; p50Ms: number; p95Ms: number }[] {
    return [...this.#recentMs].map(([transport, recent]) => {
      const sorted = [...recent].sort((a, b) => a - b);
      const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)] ?? 0;
      return { transport, count: sorted.length, p50Ms: at(0.5), p95Ms: at(0.95) };
    });
  }

  /** A message that came in and what was done with it. */
  observeInbound(message: { readonly transport: string; readonly status: string; readonly reason: InboundReason; readonly verified: boolean }): void {
    this.#record((i) => {
      i.inbound.inc({ transport: message.transport, status: message.status, reason: message.reason });
      i.verdicts.inc({ verdict: message.verified ? "verified" : "unverified" });
    });
  }

  observeLoopStop(): void {
    this.#record((i) => i.loopStops.inc());
  }

  /** The text a Prometheus server scrapes. */
  async text(): Promise<string> {
    this.#scrapeDepths = Promise.resolve(this.#sources.depths?.() ?? []);
    try {
      return await this.registry.metrics();
    } finally {
      this.#scrapeDepths = undefined;
    }
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
