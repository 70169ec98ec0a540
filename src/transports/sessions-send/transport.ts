import { setTimeout as delay } from "node:timers/promises";
import { missingCredential } from "../../config/names.js";
import type { Instance } from "../../config/registry.js";
import type { Envelope } from "../../core/envelope.js";
import { FatalError, type TransportError, UnavailableError, UnsuitableMessageError } from "../../core/errors.js";
import {
  APPLIES,
  type Applicability,
  type Confirmation,
  type DeliveryContext,
  type FollowUp,
  notApplicable,
  type Receipt,
  type Transport,
} from "../../core/transport.js";
import type { GatewayConnection, GatewayPool } from "../../gateway/connection.js";
import { FIRST_CONTACT_HEAD_START_MS } from "../../gateway/link-latency.js";
import { readContextWindow, readQueuedCount, readTranscript } from "../../gateway/transcript.js";
import {
  chatMessageRefusal,
  confirmInSession,
  estimatedTokens,
  formatSessionMessage,
  isContextOverflow,
  replyInTranscript,
  sessionIdempotencyKey,
  turnOutcome,
} from "../shared/session-message.js";
import { refuseOverLimits, sessionAttachments } from "./attachments.js";
import { custodyInSession } from "./custody.js";
import { SessionQueueGate } from "./queue-gate.js";

interface SessionsSendResult {
  readonly runId?: string;
  readonly status?: string;
}

interface AgentWaitResult {
  readonly status?: "ok" | "error" | "timeout" | "pending";
  readonly error?: string;
  readonly terminalReply?: { readonly disposition?: string; readonly text?: string };
}

/** Most inputs left waiting in the target session when a redelivery joins it (the Gateway drops follow-ups past 20). */
const REDELIVERY_QUEUE_ROOM = 5;

/** How long one `agent.wait` long-poll lasts before the transcript is looked at again. */
const REPLY_POLL_MS = 5_000;

/** Bodies from this size on are checked against the target model's context window before sending. */
const WINDOW_CHECK_BYTES = 8 * 1024;
/** OpenClaw keeps a quarter of the window in reserve for the answer and the system prompt. */
const PROMPT_SHARE_OF_WINDOW = 0.75;
const WINDOW_CACHE_MS = 10 * 60_000;

function tooLargeHint(instance: string): string {
  return `Send it as a file (\`openclaw-inter-instance sync files ${instance} <file> <path>\`) or give ${instance}'s model a larger context window; the next transport in the order carries it meanwhile.`;
}

/** The Gateway's answer to an idempotency key it already holds under different input (2026.9.x). */
const ALREADY_HELD = /already used for different input/iu;

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
  readonly #windows = new Map<string, { tokens: number | undefined; until: number }>();

  constructor(pool: GatewayPool) {
    this.#pool = pool;
  }

  applies(instance: Instance, envelope: Envelope): Applicability {
    if (!instance.gateway) return notApplicable("no gateway.url is configured for this instance");
    const refusal = missingCredential(instance.gateway) ?? chatMessageRefusal(envelope);
    return refusal ? notApplicable(refusal) : APPLIES;
  }

  /** A Gateway never reached before gets a head start only: a silently dropping link must not hold the fallback for the whole handshake budget. */
  headStartMs(instance: Instance): number | undefined {
    return this.#configuredConnection(instance)?.firstContact ? FIRST_CONTACT_HEAD_START_MS : undefined;
  }

  async prepare(instance: Instance): Promise<void> {
    await this.#configuredConnection(instance)?.start();
  }

  async deliver(envelope: Envelope, context: DeliveryContext): Promise<Receipt> {
    const connection = this.#connection(context.instance);
    const { sessionKey, maxQueued } = context.instance;
    if (Buffer.byteLength(envelope.body, "utf8") >= WINDOW_CHECK_BYTES) await this.#refuseIfTooLarge(envelope, context);
    const message = formatSessionMessage(envelope);
    // Limits of this connection's hello: a reconnect reads them again.
    if (envelope.files) refuseOverLimits(envelope.files, Buffer.byteLength(message, "utf8"), await connection.policy(context.signal), context.instance.name);
    const attachments = envelope.files ? await sessionAttachments(envelope.files, context.files) : undefined;
    // A redelivery follows a loss inside the target: it never joins a crowded queue, whatever the configured pace.
    const room = envelope.redelivery ? Math.min(maxQueued, REDELIVERY_QUEUE_ROOM) : maxQueued;
    const giveBackPlace = await this.#gate.admit(
      `${context.instance.gateway?.url} ${sessionKey}`,
      room,
      (signal) => readQueuedCount(connection, sessionKey, signal),
      context.signal,
    );
    const idempotencyKey = sessionIdempotencyKey(envelope);
    try {
      if (context.claim) {
        // Raced against another path: the handshake first (that path runs meanwhile), then the turn to send.
        await connection.connect(context.signal);
        await context.claim();
      }
      const result = await connection.request<SessionsSendResult>(
        "sessions.send",
        { key: sessionKey, message, idempotencyKey, ...(attachments ? { attachments } : {}) },
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
      // The same envelope sent before with other bytes (a resend from a process without the record
      // signs a new creation time): the Gateway keeps the first under this key. Found there, it is this message.
      if (error instanceof Error && ALREADY_HELD.test(error.message)) {
        const held = await confirmInSession(connection, sessionKey, envelope.id, context.signal, { runId: idempotencyKey });
        if (held.landed) return held.receipt;
      }
      throw error;
    }
  }

  /** Looks for the envelope's idempotency key in the target session's transcript and pending inputs. */
  async confirm(envelope: Envelope, context: DeliveryContext): Promise<Confirmation> {
    if (!this.#sentUnanswered.delete(envelope.id)) return { landed: false, reason: "never sent" };
    return confirmInSession(this.#connection(context.instance), context.instance.sessionKey, envelope.id, context.signal, {
      runId: sessionIdempotencyKey(envelope),
    });
  }

  /**
   * Settles an accepted message on the target's evidence (`custodyInSession`): a turn answered it,
   * delivered; its row is in the session, in custody of the session; a queued pending input, in the
   * Gateway's custody; interrupted, cancelled, dropped past the queue cap or in nobody's custody
   * while the session is quiet, lost (the dispatcher redelivers it under a fresh key). A turn that
   * failed on context overflow: unsuitable, for another transport to carry.
   */
  async followUp(envelope: Envelope, context: DeliveryContext, record?: { readonly acceptedAt: Date }): Promise<FollowUp> {
    const custody = await custodyInSession(envelope, {
      connection: this.#connection(context.instance),
      sessionKey: context.instance.sessionKey,
      signal: context.signal,
      acceptedAt: record?.acceptedAt.getTime() ?? 0,
    });
    switch (custody.state) {
      case "ran":
        return { status: "delivered" };
      case "held":
      case "refused":
        return { status: custody.state, reason: custody.why };
      case "too_large":
        return { status: "unsuitable", reason: `too large for ${context.instance.name}'s model: ${custody.error}` };
      case "lost":
        return { status: "lost", reason: custody.reason };
      case "pending":
        return { status: "waiting", custody: "in session" };
      case "queued":
        return { status: "waiting", custody: "queued" };
      case "unsettled":
        return { status: "waiting" };
    }
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
      if (wait.status === "error") throw turnFailed(context.instance.name, wait.error ?? "the run ended with an error");
      if (wait.terminalReply?.disposition === "visible" && typeof wait.terminalReply.text === "string") return wait.terminalReply.text;
      const transcript = await readTranscript(connection, context.instance.sessionKey, context.signal);
      const reply = replyInTranscript(transcript, envelope.id);
      if (reply !== undefined) return reply;
      const outcome = turnOutcome(transcript, envelope);
      if (outcome.state === "held" || outcome.state === "refused") throw keptFromAgent(context.instance.name, outcome.state, outcome.why);
      if (wait.status !== "timeout") await delay(REPLY_POLL_MS / 10, undefined, { signal: context.signal });
    }
  }

  async checkReply(envelope: Envelope, _receipt: Receipt, context: DeliveryContext): Promise<string | undefined> {
    const transcript = await readTranscript(this.#connection(context.instance), context.instance.sessionKey, context.signal);
    const reply = replyInTranscript(transcript, envelope.id);
    if (reply !== undefined) return reply;
    const outcome = turnOutcome(transcript, envelope);
    if (outcome.state === "refused") throw keptFromAgent(context.instance.name, outcome.state, outcome.why);
    return undefined;
  }

  async probe(instance: Instance, signal: AbortSignal): Promise<string> {
    await readTranscript(this.#connection(instance), instance.sessionKey, signal);
    return `Gateway ${instance.gateway?.url} answered and let this device read ${instance.sessionKey}`;
  }

  /** Refuses a body the target's model cannot hold, before it is sent: the turn would only fail. */
  async #refuseIfTooLarge(envelope: Envelope, context: DeliveryContext): Promise<void> {
    const { instance } = context;
    const key = `${instance.gateway?.url} ${instance.sessionKey}`;
    let window = this.#windows.get(key);
    if (!window || window.until < Date.now()) {
      window = { tokens: await readContextWindow(this.#connection(instance), instance.sessionKey, context.signal), until: Date.now() + WINDOW_CACHE_MS };
      this.#windows.set(key, window);
    }
    const tokens = estimatedTokens(envelope.body);
    if (window.tokens === undefined || tokens <= window.tokens * PROMPT_SHARE_OF_WINDOW) return;
    throw new UnsuitableMessageError(
      `The body (about ${tokens.toLocaleString("en-US")} tokens) does not fit ${instance.name}'s model, whose context window is ${window.tokens.toLocaleString("en-US")} tokens.`,
      { code: "TOO_LARGE_FOR_TARGET", hint: tooLargeHint(instance.name) },
    );
  }

  #connection(instance: Instance) {
    return this.#pool.forInstance(instance);
  }

  /** The connection to the instance's Gateway when one is configured with its credential; otherwise none. */
  #configuredConnection(instance: Instance): GatewayConnection | undefined {
    return instance.gateway && !missingCredential(instance.gateway) ? this.#connection(instance) : undefined;
  }

  async close(): Promise<void> {
    await this.#pool.closeAll();
  }
}

/** The target's inbound policy kept the question from its agent: no answer will come. */
function keptFromAgent(instance: string, state: "held" | "refused", why: string): TransportError {
  return new FatalError(`${instance}'s inbound policy ${state} the message (${why}); its agent did not get it.`, {
    code: state === "held" ? "HELD_BY_RECEIVER" : "REFUSED_BY_RECEIVER",
    hint:
      state === "held"
        ? `${instance}'s owner can approve it there (openclaw-inter-instance inbox approve <id>); the answer then comes to their session, not to this ask.`
        : `Ask ${instance}'s owner to allow this instance (instances.<name>.inbound) and to pin its key (openclaw-inter-instance keys shows it).`,
  });
}

function turnFailed(instance: string, error: string): TransportError {
  return isContextOverflow(error)
    ? new UnsuitableMessageError(`${instance}'s turn failed: the message does not fit its model (${error.split("\n")[0]})`, {
        code: "TOO_LARGE_FOR_TARGET",
        hint: tooLargeHint(instance),
      })
    : new UnavailableError(`${instance}'s turn failed: ${error.split("\n")[0]}`, {
        code: "TURN_FAILED",
        hint: `Look at ${instance}'s Gateway log for the run's error.`,
      });
}
