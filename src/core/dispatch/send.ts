import type { Logger } from "pino";
import type { Instance } from "../../config/registry.js";
import type { TransportId } from "../../config/schema.js";
import type { Envelope } from "../envelope.js";
import type { Transport } from "../transport.js";
import { attempt } from "./attempt.js";
import type { DispatchContext } from "./context.js";
import { endpointOf } from "./endpoint.js";
import type { Attempt, DeliveryReport, SendOptions } from "./report.js";

export interface TryOptions extends SendOptions {
  /** Transports that must not carry this envelope, each with the reason. */
  readonly avoid?: ReadonlyMap<string, string>;
}

/**
 * Signs the envelope and tries the instance's transports in order until one takes it. A fatal
 * failure stops at once; a send nobody can settle waits for its transport (another could show
 * it twice); transports skipped for an open circuit are tried last, when every other path failed.
 */
export async function tryTransports(context: DispatchContext, unsigned: Envelope, instance: Instance, options: TryOptions): Promise<DeliveryReport> {
  const envelope = context.sign ? context.sign(unsigned) : unsigned;
  const logger = context.logger.child({ envelopeId: envelope.id, to: instance.name });
  const attempts: Attempt[] = [];
  const circuitSkipped: Transport[] = [];
  const tryTransport = (transport: Transport) => tryOne(context, transport, envelope, instance, logger, attempts, options.signal);

  for (const id of options.transports ?? instance.transports) {
    options.signal?.throwIfAborted();
    const transport = context.transports.get(id);
    const skippedBecause = reasonToSkip(context, transport, id, envelope, instance, options.avoid?.get(id));
    if (skippedBecause !== undefined) {
      attempts.push({ transport: id, outcome: "skipped", tries: 0, ms: 0, skippedBecause: skippedBecause.reason });
      if (transport && skippedBecause.circuitOpen) circuitSkipped.push(transport);
      logger.debug({ transport: id, reason: skippedBecause.reason }, "transport skipped");
      continue;
    }
    const result = await tryTransport(transport!);
    if (result === "stop") return failed(envelope, instance, attempts, logger);
    if (result) return result;
  }
  // Every open path failed: the ones skipped for an open circuit are better than nothing.
  for (const transport of circuitSkipped) {
    options.signal?.throwIfAborted();
    const result = await tryTransport(transport);
    if (result === "stop") break;
    if (result) return result;
  }
  return failed(envelope, instance, attempts, logger);
}

/** Why this transport is passed over for this envelope now, if it is. */
function reasonToSkip(
  context: DispatchContext,
  transport: Transport | undefined,
  id: TransportId,
  envelope: Envelope,
  instance: Instance,
  avoided: string | undefined,
): { reason: string; circuitOpen: boolean } | undefined {
  const applicability = !transport
    ? { ok: false as const, reason: `no ${id} transport is registered` }
    : avoided !== undefined
      ? { ok: false as const, reason: `cannot carry this message (${avoided})` }
      : transport.applies(instance, envelope);
  if (!applicability.ok) return { reason: applicability.reason, circuitOpen: false };
  const circuit = context.circuits.state(instance.name, id);
  if (circuit.open) return { reason: circuit.reason ?? "", circuitOpen: true };
  // Not tried even as a last resort: the endpoint itself refused moments ago.
  const endpoint = context.circuits.endpointState(endpointOf(id, instance));
  return endpoint.open ? { reason: endpoint.reason ?? "", circuitOpen: false } : undefined;
}

/** One transport: a report when it settled the delivery, "stop" after a fatal failure, undefined to go on. */
async function tryOne(
  context: DispatchContext,
  transport: Transport,
  envelope: Envelope,
  instance: Instance,
  logger: Logger,
  attempts: Attempt[],
  signal: AbortSignal | undefined,
): Promise<DeliveryReport | "stop" | undefined> {
  const result = await attempt(context, transport, envelope, instance, logger, signal);
  attempts.push(result.report);
  // A message this path cannot carry says nothing about the path.
  if (!result.aboutTheMessage) {
    context.circuits.record(
      instance.name,
      transport.id,
      result.receipt ? { ok: true } : { ok: false, failureClass: result.report.error?.class ?? "unavailable", code: result.report.error?.code ?? "ERROR" },
      endpointOf(transport.id, instance),
    );
  }
  if (result.receipt) {
    logger.info({ transport: transport.id, status: result.receipt.status, ms: result.report.ms }, "delivered");
    return { ok: true, id: envelope.id, to: instance.name, status: result.receipt.status, via: transport.id, receipt: result.receipt, attempts };
  }
  // It may have landed and nobody can tell: another transport could show it twice, so it waits for this one.
  if (result.report.checked?.startsWith("could not check")) return { ...failed(envelope, instance, attempts, logger), unsettledOn: transport.id };
  return result.report.outcome === "fatal" ? "stop" : undefined;
}

function failed(envelope: Envelope, instance: Instance, attempts: Attempt[], logger: Logger): DeliveryReport {
  logger.warn({ attempts: attempts.map((a) => `${a.transport}:${a.outcome}`) }, "not delivered");
  return { ok: false, id: envelope.id, to: instance.name, status: "failed", attempts };
}
