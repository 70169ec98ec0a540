import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  APPLIES,
  createMessenger,
  type Envelope,
  LinkMetrics,
  type Messenger,
  parseConfig,
  type Receipt,
  type Transport,
  UnavailableError,
} from "../../src/index.js";
import { InboundGate } from "../../src/plugin/gates/inbound.js";
import { prometheusOrSkip, promtoolCheck } from "../harness/prometheus.js";

/** A transport that takes every message, or refuses every one as unreachable. */
function fake(id: "sessions_send" | "memory_file", takes: (envelope: Envelope) => boolean): Transport {
  return {
    id,
    applies: () => APPLIES,
    async deliver(envelope): Promise<Receipt> {
      if (!takes(envelope)) throw new UnavailableError("connection refused", { code: "UNREACHABLE" });
      return { status: "accepted", detail: {} };
    },
  };
}

/** The value of one sample in the Prometheus text, or undefined. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split("\n")) {
    if (line.startsWith("#")) continue;
    const match = /^([a-z_:]+)(?:\{(.*)\})? (\S+)$/u.exec(line);
    if (!match || match[1] !== name) continue;
    const found = Object.fromEntries([...(match[2] ?? "").matchAll(/(\w+)="([^"]*)"/gu)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([key, value]) => found[key] === value)) return Number(match[3]);
  }
  return undefined;
}

describe("link.metrics(): the link's numbers in the Prometheus text format", () => {
  let dir: string;
  let link: Messenger;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "oii-metrics-"));
  });
  afterEach(async () => {
    await link?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it("counts sends by instance, transport and status, times the attempts that got through, and reads the outbox and circuits at each scrape", async () => {
    const instances = Object.fromEntries(
      Array.from({ length: 20 }, (_, index) => [`peer${index}`, { transports: ["sessions_send" as const], timeouts: { sessions_send: 2000 } }]),
    );
    link = createMessenger({
      config: {
        self: { name: "xiaoa" },
        stateDir: dir,
        defaults: { retries: 0, circuitCooldownMs: 60_000 },
        instances: { ...instances, offline: { transports: ["sessions_send"] } },
      },
      transports: [fake("sessions_send", (envelope) => envelope.to !== "offline")],
      log: { level: "silent" },
    });
    for (let i = 0; i < 3; i += 1) expect(await link.send({ to: "peer1", body: `body-hello-${i}` })).toMatchObject({ ok: true, status: "accepted" });
    for (let i = 0; i < 2; i += 1) expect(await link.send({ to: "offline", body: `body-queued-${i}` })).toMatchObject({ ok: false, status: "queued" });
    const text = await link.metrics();
    expect(sample(text, "openclaw_inter_instance_sends_total", { peer: "peer1", transport: "sessions_send", status: "accepted" })).toBe(3);
    expect(sample(text, "openclaw_inter_instance_sends_total", { peer: "offline", transport: "none", status: "queued" })).toBe(2);
    expect(sample(text, "openclaw_inter_instance_delivery_seconds_count", { transport: "sessions_send" })).toBe(3);
    expect(sample(text, "openclaw_inter_instance_outbox_waiting", { peer: "offline" })).toBe(2);
    expect(sample(text, "openclaw_inter_instance_outbox_oldest_waiting_seconds", { peer: "offline" })).toBeGreaterThanOrEqual(0);
    expect(sample(text, "openclaw_inter_instance_awaiting_evidence", { peer: "peer1" })).toBe(3);
    expect(sample(text, "openclaw_inter_instance_circuit_open", { peer: "offline", transport: "sessions_send" })).toBe(1);
    expect(sample(text, "openclaw_inter_instance_circuit_open", { peer: "peer7", transport: "sessions_send" })).toBe(0);
    // Labels are names, transports and statuses: never an envelope id or a body.
    expect(text).not.toMatch(/body-/u);
    const labelValues = new Set([...text.matchAll(/="([^"]*)"/gu)].map((m) => m[1]));
    for (const value of labelValues) expect(value).toMatch(/^(peer\d+|offline|sessions_send|none|accepted|queued|\+Inf|[\d.]+)$/u);
  });

  it("the inbound gate counts what came in and what was done with it, with a reason in a word", async () => {
    const metrics = new LinkMetrics();
    const config = parseConfig({ self: { name: "xiaom" }, stateDir: dir, instances: { xiaoa: {} } });
    const gate = new InboundGate(() => config, { info: () => undefined, warn: () => undefined }, Date.now, false);
    gate.countIn(metrics);
    const unsigned = { verified: false, claimedFrom: "xiaoa", reason: "no signature" } as const;
    const decision = await gate.admit({ id: "inbound-metrics-1", body: "hi", transport: "session", sessionKey: "agent:main:main", verdict: unsigned });
    expect(decision.action).toBe("hold");
    gate.tellOwnerLoopStopped("conversation-1", "xiaoa");
    const text = await metrics.text();
    expect(sample(text, "openclaw_inter_instance_inbound_total", { transport: "session", status: "held", reason: "unverified" })).toBe(1);
    expect(sample(text, "openclaw_inter_instance_signature_verdicts_total", { verdict: "unverified" })).toBe(1);
    expect(sample(text, "openclaw_inter_instance_loop_stops_total")).toBe(1);
    await gate.close();
  });

  it("passes `promtool check metrics` (Prometheus' own linter)", async () => {
    if (!(await prometheusOrSkip("metrics.test promtool"))) return;
    link = createMessenger({
      config: {
        self: { name: "xiaoa" },
        stateDir: dir,
        defaults: { retries: 0 },
        instances: { xiaom: { transports: ["sessions_send"] }, offline: { transports: ["sessions_send"] } },
      },
      transports: [fake("sessions_send", (envelope) => envelope.to !== "offline")],
      log: { level: "silent" },
    });
    await link.send({ to: "xiaom", body: "one" });
    await link.send({ to: "offline", body: "two" });
    const checked = await promtoolCheck(await link.metrics());
    expect(checked).toEqual({ code: 0, output: "" });
  });
});
