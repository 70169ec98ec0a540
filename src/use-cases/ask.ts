import pLimit, { type LimitFunction } from "p-limit";
import type { Logger } from "pino";
import type { Instance, InstanceRegistry } from "../config/registry.js";
import type { TransportId } from "../config/schema.js";
import type { AttemptError, DeliveryReport, Dispatcher, SendInput } from "../core/dispatcher.js";
import { createEnvelope } from "../core/envelope.js";
import { InterInstanceError, TransportTimeoutError } from "../core/errors.js";
import { withDeadline } from "../util/deadline.js";

export interface AskOptions {
  readonly signal?: AbortSignal;
  /** How long to wait for the answer after delivery (default 120 s, the seed's agent-turn budget). */
  readonly timeoutMs?: number;
  /** Override the order; only transports that can see a reply (sessions_send, a2a, agent_cli, nats) are used. */
  readonly transports?: readonly TransportId[];
}

export interface AskResult {
  /** True when the target's agent answered. */
  readonly ok: boolean;
  /** `answered`; `not delivered` (no transport took it); `no reply` (delivered, but no answer in time). */
  readonly status: "answered" | "not delivered" | "no reply";
  readonly reply?: string;
  readonly report: DeliveryReport;
  readonly error?: AttemptError;
}

export const DEFAULT_ASK_TIMEOUT_MS = 120_000;

export interface AskDependencies {
  readonly registry: InstanceRegistry;
  readonly dispatcher: Dispatcher;
  readonly logger: Logger;
}

/** Per dispatcher and instance: the questions waiting for their turn. */
const questionTurns = new WeakMap<Dispatcher, Map<string, LimitFunction>>();

function turnsFor(dispatcher: Dispatcher, instance: string): LimitFunction {
  let byInstance = questionTurns.get(dispatcher);
  if (!byInstance) questionTurns.set(dispatcher, (byInstance = new Map()));
  let turns = byInstance.get(instance);
  if (!turns) byInstance.set(instance, (turns = pLimit(1)));
  return turns;
}

/**
 * Sends a message and waits for the target agent's answer to *that* message (correlated by the
 * envelope id / run id / task id, never "the latest message"). Never queued: an answer to a
 * question delivered hours later would reach nobody. Questions to one instance take turns: one
 * sent while the agent still answers the previous would be steered into that turn, and a single
 * reply would answer both.
 */
export async function ask(dependencies: AskDependencies, input: SendInput, options: AskOptions = {}): Promise<AskResult> {
  const instance = dependencies.registry.resolve(input.to);
  return turnsFor(dependencies.dispatcher, instance.name)(() => askNow(dependencies, instance, input, options));
}

async function askNow({ registry, dispatcher, logger }: AskDependencies, instance: Instance, input: SendInput, options: AskOptions): Promise<AskResult> {
  const order = (options.transports ?? instance.transports).filter((id) => dispatcher.transport(id)?.awaitReply);
  if (order.length === 0) {
    throw new InterInstanceError(`None of ${instance.name}'s transports can bring an answer back.`, {
      code: "NO_REPLY_TRANSPORT",
      hint: "Configure sessions_send (gateway), a2a, agent_cli or nats (a fleet) for this instance; the memory file and chat channels are one-way.",
    });
  }
  const envelope = createEnvelope({ to: instance.name, body: input.body, from: registry.self, id: input.id });
  const report = await dispatcher.deliver(envelope, instance, { transports: order, queue: false, ...(options.signal ? { signal: options.signal } : {}) });
  const transport = report.via && dispatcher.transport(report.via);
  if (!report.ok || !report.receipt || !transport?.awaitReply) return { ok: false, status: "not delivered", report };

  const timeoutMs = options.timeoutMs ?? DEFAULT_ASK_TIMEOUT_MS;
  try {
    const reply = await withDeadline(
      (signal) =>
        transport.awaitReply!(envelope, report.receipt!, { instance, signal, logger: logger.child({ envelopeId: envelope.id, transport: transport.id }) }),
      {
        milliseconds: timeoutMs,
        signal: options.signal,
        onTimeout: () =>
          new TransportTimeoutError(`${instance.name} did not answer within ${timeoutMs} ms.`, {
            code: "NO_REPLY",
            hint: "Raise the ask timeout; an agent turn can take 60–120 s.",
          }),
      },
    );
    return { ok: true, status: "answered", reply, report };
  } catch (error) {
    if (options.signal?.aborted) throw options.signal.reason;
    const failure = error instanceof InterInstanceError ? error : new InterInstanceError(String(error));
    const failureClass = error instanceof TransportTimeoutError ? "timeout" : "unavailable";
    return {
      ok: false,
      status: "no reply",
      report,
      error: { class: failureClass, name: failure.name, code: failure.code, message: failure.message, ...(failure.hint ? { hint: failure.hint } : {}) },
    };
  }
}
