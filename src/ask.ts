import pTimeout from "p-timeout";
import type { Logger } from "pino";
import type { InstanceRegistry } from "./config/registry.js";
import type { TransportId } from "./config/schema.js";
import type { AttemptError, DeliveryReport, Dispatcher, SendInput } from "./dispatcher.js";
import { createEnvelope } from "./envelope.js";
import { InterInstanceError, TransportTimeoutError } from "./errors.js";

export interface AskOptions {
  readonly signal?: AbortSignal;
  /** How long to wait for the answer after delivery (default 120 s, the seed's agent-turn budget). */
  readonly timeoutMs?: number;
  /** Override the order; only transports that can see a reply (sessions_send, a2a, agent_cli) are used. */
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

/**
 * Sends a message and waits for the target agent's answer to *that* message (correlated by the
 * envelope id / run id / task id, never "the latest message"). Never queued: an answer to a
 * question delivered hours later would reach nobody.
 */
export async function ask({ registry, dispatcher, logger }: AskDependencies, input: SendInput, options: AskOptions = {}): Promise<AskResult> {
  const instance = registry.resolve(input.to);
  const order = (options.transports ?? instance.transports).filter((id) => dispatcher.transport(id)?.awaitReply);
  if (order.length === 0) {
    throw new InterInstanceError(`None of ${instance.name}'s transports can bring an answer back.`, {
      code: "NO_REPLY_TRANSPORT",
      hint: "Configure sessions_send (gateway), a2a or agent_cli for this instance; the memory file and chat channels are one-way.",
    });
  }
  const envelope = createEnvelope({ to: instance.name, body: input.body, from: registry.self, id: input.id });
  const report = await dispatcher.deliver(envelope, instance, { transports: order, queue: false, ...(options.signal ? { signal: options.signal } : {}) });
  const transport = report.via && dispatcher.transport(report.via);
  if (!report.ok || !report.receipt || !transport?.awaitReply) return { ok: false, status: "not delivered", report };

  const timeoutMs = options.timeoutMs ?? DEFAULT_ASK_TIMEOUT_MS;
  const controller = new AbortController();
  const signal = options.signal ? AbortSignal.any([controller.signal, options.signal]) : controller.signal;
  try {
    const reply = await pTimeout(transport.awaitReply(envelope, report.receipt, { instance, signal, logger: logger.child({ envelopeId: envelope.id, transport: transport.id }) }), {
      milliseconds: timeoutMs,
      fallback: () => {
        const error = new TransportTimeoutError(`${instance.name} did not answer within ${timeoutMs} ms.`, { code: "NO_REPLY", hint: "Raise the ask timeout; an agent turn can take 60–120 s." });
        controller.abort(error);
        throw error;
      },
    });
    return { ok: true, status: "answered", reply, report };
  } catch (error) {
    if (options.signal?.aborted) throw options.signal.reason;
    const failure = error instanceof InterInstanceError ? error : new InterInstanceError(String(error));
    const failureClass = error instanceof TransportTimeoutError ? "timeout" : "unavailable";
    return { ok: false, status: "no reply", report, error: { class: failureClass, name: failure.name, code: failure.code, message: failure.message, ...(failure.hint ? { hint: failure.hint } : {}) } };
  } finally {
    controller.abort();
  }
}
