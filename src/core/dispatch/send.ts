import type { Logger } from "pino";
import type { Instance } from "../../config/registry.js";
import type { TransportId } from "../../config/schema.js";
import type { Envelope } from "../envelope.js";
import type { Transport } from "../transport.js";
import { attempt } from "./attempt.js";
import { type DispatchContext, msSince } from "./context.js";
import { DeliveryGate } from "./delivery-gate.js";
import { endpointOf } from "./endpoint.js";
import { probeTransports } from "./probe.js";
import type { Attempt, DeliveryReport, SendOptions } from "./report.js";

export interface TryOptions extends SendOptions {
  /** Transports that must not carry this envelope, each with the reason. */
  readonly avoid?: ReadonlyMap<string, string>;
}

/**
 * Signs the envelope and tries the instance's transports in order until one takes it. A fatal
 * failure stops at once; a send nobody can settle waits for its transport (another could show
 * it twice); transports skipped for an open circuit are tried last, when every other path failed.
 * A transport on a first contact (`headStartMs`) is raced: past its head start the next ones run
 * alongside, and a delivery gate lets only one path have the message out at a time.
 */
export async function tryTransports(context: DispatchContext, unsigned: Envelope, instance: Instance, options: TryOptions): Promise<DeliveryReport> {
  const envelope = context.sign ? context.sign(unsigned) : unsigned;
  const logger = context.logger.child({ envelopeId: envelope.id, to: instance.name });
  const attempts: Attempt[] = [];
  const circuitSkipped: Transport[] = [];
  const ids = options.transports ?? instance.transports;
  const tryTransport = (transport: Transport, signal = options.signal, claim?: () => Promise<void>) =>
    tryOne(context, transport, envelope, instance, logger, attempts, signal, claim);

  /** The transports from `start` on, in order; with `gate`, each enters it before it runs. */
  const tryFrom = async (start: number, gate?: DeliveryGate): Promise<TryResult> => {
    for (let index = start; index < ids.length; index += 1) {
      options.signal?.throwIfAborted();
      const id = ids[index]!;
      const transport = context.transports.get(id);
      const skippedBecause = reasonToSkip(context, transport, id, envelope, instance, options.avoid?.get(id));
      if (skippedBecause !== undefined) {
        attempts.push({ transport: id, outcome: "skipped", tries: 0, ms: 0, skippedBecause: skippedBecause.reason });
        if (transport && skippedBecause.circuitOpen) circuitSkipped.push(transport);
        logger.debug({ transport: id, reason: skippedBecause.reason }, "transport skipped");
        continue;
      }
      // Raced only outside a race, and only with something left to race against.
      const headStartMs = gate || index === ids.length - 1 ? undefined : transport!.headStartMs?.(instance);
      if (headStartMs !== undefined) return race(transport!, headStartMs, (raceGate) => tryFrom(index + 1, raceGate));
      const result = gate ? await throughGate(gate, id, () => tryTransport(transport!)) : await tryTransport(transport!);
      if (result) return result;
      if (gate?.settled) return undefined;
    }
    return undefined;
  };

  /**
   * A first contact: `top` alone for its head start; if it has not settled by then, the transports
   * after it run alongside. The first to deliver wins; the other never sends (the gate), and a top
   * still in its handshake is stopped.
   */
  const race = async (top: Transport, headStartMs: number, rest: (gate?: DeliveryGate) => Promise<TryResult>): Promise<TryResult> => {
    const stopTop = new AbortController();
    const gate = new DeliveryGate((by) => by !== top.id && stopTop.abort(new Error(`${by} delivered it first`)));
    const signal = options.signal ? AbortSignal.any([options.signal, stopTop.signal]) : stopTop.signal;
    const started = performance.now();
    const claim = async () => {
      if (!(await gate.enter(top.id))) throw signal.reason;
    };
    const topRun: Promise<TryResult | typeof SUPERSEDED> = tryTransport(top, signal, claim).then(
      (result) => {
        gate.leave(top.id, typeof result === "object");
        return result;
      },
      (error: unknown) => {
        gate.leave(top.id, false);
        if (options.signal?.aborted || !stopTop.signal.aborted) throw error;
        return SUPERSEDED;
      },
    );
    const early = await settledWithin(topRun, headStartMs);
    // Settled in time (taken, refused, failed): as without a race, the next transports only if it failed.
    if (early.settled) return early.value === SUPERSEDED ? undefined : (early.value ?? rest());
    logger.info({ transport: top.id, headStartMs }, "no answer within the head start on a first contact; trying the next transports alongside");
    const [topResult, restResult] = await Promise.all([topRun, rest(gate)]);
    if (topResult === SUPERSEDED) {
      checkSupersededPath(context, top, instance);
      attempts.push({
        transport: top.id,
        outcome: "skipped",
        tries: 1,
        ms: msSince(started),
        skippedBecause: `a first contact: no answer within ${headStartMs} ms, and ${(restResult as DeliveryReport).via ?? "another transport"} carried it meanwhile; stopped before it was sent`,
      });
    }
    if (typeof restResult === "object") return restResult;
    if (typeof topResult === "object") return topResult;
    return topResult === "stop" || restResult === "stop" ? "stop" : undefined;
  };

  const result = await tryFrom(0);
  if (result === "stop") return failed(envelope, instance, attempts, logger);
  if (result) return result;
  // Every open path failed: the ones skipped for an open circuit are better than nothing.
  for (const transport of circuitSkipped) {
    options.signal?.throwIfAborted();
    const last = await tryTransport(transport);
    if (last === "stop") break;
    if (last) return last;
  }
  return failed(envelope, instance, attempts, logger);
}

/** A report when a transport settled the delivery, "stop" after a fatal failure, undefined to go on. */
type TryResult = DeliveryReport | "stop" | undefined;

/** The top of a race, stopped because the other path delivered first. */
const SUPERSEDED = Symbol("superseded");

/** One transport's turn inside a race: only while the other path is not sending, and never after it delivered. */
async function throughGate(gate: DeliveryGate, path: string, run: () => Promise<TryResult>): Promise<TryResult> {
  if (!(await gate.enter(path))) return undefined;
  let result: TryResult;
  try {
    result = await run();
  } finally {
    gate.leave(path, typeof result === "object");
  }
  return result;
}

/**
 * The top of a race was stopped before it answered, so nothing was learned of its path: a link that
 * drops silently would stay "never seen" and make every later message wait out the head start. A
 * probe of that path in the background (bounded, one at a time per path) opens its circuit if it is
 * dead, so the next messages skip it, and closes it if it answers.
 */
function checkSupersededPath(context: DispatchContext, top: Transport, instance: Instance): void {
  if (!top.probe) return;
  context.background.start(`${instance.name}\u0000${top.id}`, (signal) => probeTransports(context, instance.name, { transports: [top.id], signal }));
}

/** Whether `promise` settles within `ms`, and with what. */
async function settledWithin<T>(promise: Promise<T>, ms: number): Promise<{ settled: true; value: T } | { settled: false }> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<{ settled: false }>((resolve) => {
    timer = setTimeout(() => resolve({ settled: false }), ms);
  });
  try {
    return await Promise.race([promise.then((value) => ({ settled: true as const, value })), late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Why this transport is passed over for this envelope now, if it is. */
export function reasonToSkip(
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
  claim?: () => Promise<void>,
): Promise<TryResult> {
  const result = await attempt(context, transport, envelope, instance, logger, signal, claim);
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
