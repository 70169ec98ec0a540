import type { TransportId } from "../../config/schema.js";
import { withDeadline } from "../../util/deadline.js";
import { once } from "../../util/lazy.js";
import { createEnvelope } from "../envelope.js";
import { TransportTimeoutError } from "../errors.js";
import { type DispatchContext, msSince } from "./context.js";
import { describeError } from "./diagnose.js";
import type { ProbeOptions, ProbeResult, Route } from "./report.js";

const PROBE_TIMEOUT_MS = 10_000;

/** Probes run `applies` with a stand-in message: they ask about the path, not about a body. */
const probeEnvelope = once(() => createEnvelope({ to: "probe", from: "probe", body: "probe", id: "probe-0000" }));

/** `Dispatcher.probe`: each transport asked whether it could deliver now; a dead path opens its circuit. */
export async function probeTransports(context: DispatchContext, target: string, options: ProbeOptions): Promise<ProbeResult[]> {
  const instance = context.registry.resolve(target);
  const results: ProbeResult[] = [];
  for (const id of options.transports ?? instance.transports) {
    options.signal?.throwIfAborted();
    const transport = context.transports.get(id);
    const applicability = transport ? transport.applies(instance, probeEnvelope()) : { ok: false as const, reason: `no ${id} transport is registered` };
    if (!transport?.probe || !applicability.ok) {
      results.push({ transport: id, ok: false, ms: 0, skippedBecause: applicability.ok ? "this transport has no probe" : applicability.reason });
      continue;
    }
    const started = performance.now();
    const timeoutMs = Math.min(PROBE_TIMEOUT_MS, instance.timeouts[id]);
    try {
      const detail = await withDeadline((signal) => transport.probe!(instance, signal), {
        milliseconds: timeoutMs,
        signal: options.signal,
        onTimeout: () => new TransportTimeoutError(`${id} probe got no answer within ${timeoutMs} ms.`, { code: "TIMEOUT" }),
      });
      context.circuits.record(instance.name, id, { ok: true });
      results.push({ transport: id, ok: true, ms: msSince(started), detail });
    } catch (error) {
      if (options.signal?.aborted) throw options.signal.reason;
      const described = describeError(error, context.secrets);
      context.circuits.record(instance.name, id, { ok: false, failureClass: described.class, code: `probe failed: ${described.code}` });
      results.push({ transport: id, ok: false, ms: msSince(started), error: described });
    }
  }
  return results;
}

/** `Dispatcher.route`: the first transport that applies and whose circuit is closed, and why each before it is passed over. */
export function routeOf(context: DispatchContext, target: string): Route {
  const instance = context.registry.resolve(target);
  const skipped: { transport: TransportId; reason: string }[] = [];
  for (const id of instance.transports) {
    const transport = context.transports.get(id);
    const applicability = transport ? transport.applies(instance, probeEnvelope()) : { ok: false as const, reason: `no ${id} transport is registered` };
    const circuit = context.circuits.state(instance.name, id);
    if (applicability.ok && !circuit.open) return { to: instance.name, via: id, skipped };
    skipped.push({ transport: id, reason: applicability.ok ? (circuit.reason ?? "circuit open") : applicability.reason });
  }
  return { to: instance.name, via: undefined, skipped };
}
