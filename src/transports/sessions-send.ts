import type { Instance } from "../config/registry.js";
import type { Envelope } from "../envelope.js";
import type { GatewayPool } from "../gateway/connection.js";
import { readQueuedCount, readTranscript } from "../gateway/transcript.js";
import { setTimeout as delay } from "node:timers/promises";
import { chatMessageRefusal, confirmInSession, findInTranscript, formatSessionMessage, replyInTranscript, sessionIdempotencyKey } from "../session-message.js";
import { SessionQueueGate } from "./session-queue-gate.js";
import { APPLIES, notApplicable, type Applicability, type Confirmation, type DeliveryContext, type FollowUp, type Receipt, type Transport } from "../transport.js";

interface SessionsSendResult {
  readonly runId?: string;
  readonly status?: string;
}

interface AgentWaitResult {
  readonly status?: "ok" | "error" | "timeout" | "pending";
  readonly terminalReply?: { readonly disposition?: string; readonly text?: string };
}

/** How long one `agent.wait` long-poll lasts before the transcript is looked at again. */
const REPLY_POLL_MS = 5_000;

/**
 * Delivers into a session of the target's Gateway through its `sessions.send` RPC, over a kept-open
 * WebSocket. The envelope id is the idempotency key: the Gateway answers a repeat with
 * `in_flight` or `ok` and shows the message once. Sends into one session are paced so that at most
 * `maxQueued` wait in its queue, below the cap past which the Gateway drops them.
 */
export class SessionsSendTransport implements Transport {
  readonly id = "sessions_send";
  readonly #pool: GatewayPool;
  /** Envelopes whose request left this host but got no answer: only those can have landed unseen. */
  readonly #sentUnanswered = new Set<string>();
  readonly #gate = new SessionQueueGate();

  constructor(pool: GatewayPool) {
    this.#pool = pool;
  }

  applies(instance: Instance, envelope: Envelope): Applicability {
    if (!instance.gateway) return notApplicable("no gateway.url is configured for this instance");
    if (!instance.gateway.token) return notApplicable(`no token: ${instance.gateway.tokenSource} is not set`);
    const refusal = chatMessageRefusal(envelope);
    return refusal ? notApplicable(refusal) : APPLIES;
  }

  async deliver(envelope: Envelope, context: DeliveryContext): Promise<Receipt> {
    const connection = this.#connection(context.instance);
    const { sessionKey, maxQueued } = context.instance;
    const giveBackPlace = await this.#gate.admit(`${context.instance.gateway?.url} ${sessionKey}`, maxQueued, (signal) => readQueuedCount(connection, sessionKey, signal), context.signal);
    const idempotencyKey = sessionIdempotencyKey(envelope);
    try {
      const result = await connection.request<SessionsSendResult>(
        "sessions.send",
        { key: sessionKey, message: formatSessionMessage(envelope), idempotencyKey },
        { signal: context.signal, onSent: () => this.#sentUnanswered.add(envelope.id) },
      );
      this.#sentUnanswered.delete(envelope.id);
      return {
        status: "accepted",
        detail: { runId: result.runId ?? idempotencyKey, gatewayStatus: result.status ?? "unknown", sessionKey },
      };
    } catch (error) {
      if (!this.#sentUnanswered.has(envelope.id)) giveBackPlace();
      // No answer in time: the socket is suspect, so the next request (a retry, a confirmation) gets a fresh one.
      if (context.signal.aborted) await connection.reset();
      throw error;
    }
  }

  /** Looks for the envelope's idempotency key in the target session's transcript and pending inputs. */
  async confirm(envelope: Envelope, context: DeliveryContext): Promise<Confirmation> {
    if (!this.#sentUnanswered.delete(envelope.id)) return { landed: false, reason: "never sent" };
    return confirmInSession(this.#connection(context.instance), context.instance.sessionKey, envelope.id, context.signal, { runId: sessionIdempotencyKey(envelope) });
  }

  /**
   * In the transcript: delivered. Still queued, or not found (it may sit beyond the rows read, or
   * the session was reset): waiting. Held but interrupted by a restart or cancelled: lost, since the
   * Gateway never runs those again by itself.
   */
  async followUp(envelope: Envelope, context: DeliveryContext): Promise<FollowUp> {
    const found = findInTranscript(await readTranscript(this.#connection(context.instance), context.instance.sessionKey, context.signal), envelope.id);
    if (found === "transcript") return { status: "delivered" };
    if (found === "lost") return { status: "lost", reason: "the target Gateway holds it as interrupted or cancelled input, which it never runs by itself" };
    return { status: "waiting" };
  }

  /**
   * `agent.wait` on the run (its id is the envelope id) gives the reply directly; a send that was
   * queued behind another turn is answered by a follow-up run, found in the transcript instead.
   */
  async awaitReply(envelope: Envelope, receipt: Receipt, context: DeliveryContext): Promise<string> {
    const connection = this.#connection(context.instance);
    const runId = String(receipt.detail.runId ?? envelope.id);
    for (;;) {
      context.signal.throwIfAborted();
      const wait = await connection.request<AgentWaitResult>("agent.wait", { runId, timeoutMs: REPLY_POLL_MS }, { signal: context.signal });
      if (wait.terminalReply?.disposition === "visible" && typeof wait.terminalReply.text === "string") return wait.terminalReply.text;
      const reply = replyInTranscript(await readTranscript(connection, context.instance.sessionKey, context.signal), envelope.id);
      if (reply !== undefined) return reply;
      if (wait.status !== "timeout") await delay(REPLY_POLL_MS / 10, undefined, { signal: context.signal });
    }
  }

  async probe(instance: Instance, signal: AbortSignal): Promise<string> {
    await readTranscript(this.#connection(instance), instance.sessionKey, signal);
    return `Gateway ${instance.gateway?.url} answered and let this device read ${instance.sessionKey}`;
  }

  #connection(instance: Instance) {
    return this.#pool.forInstance(instance);
  }

  async close(): Promise<void> {
    await this.#pool.closeAll();
  }
}
