import { setTimeout as delay } from "node:timers/promises";
import type { A2aTarget, Instance } from "../../config/registry.js";
import { cannotCarryFiles } from "../../core/attachments/carrying.js";
import type { Envelope } from "../../core/envelope.js";
import { FatalError, TransientError, UnavailableError } from "../../core/errors.js";
import { APPLIES, type Applicability, type DeliveryContext, type FollowUp, notApplicable, type Receipt, type Transport } from "../../core/transport.js";
import { isPlaintextAllowed } from "../../gateway/url-policy.js";
import { formatSessionMessage, sessionIdempotencyKey, trailingWhitespaceRefusal } from "../shared/session-message.js";
import { A2A_SENDING_STALE_MS, A2aLedger, type A2aSent, freshA2aContextId } from "./ledger.js";

export { a2aContextId } from "./ledger.js";

/**
 * The channel answers at most `rateLimitPerMinute` (default 30) requests per peer, polls included,
 * so polls start at 1 s and slow down to 4 s; a rate-limited poll waits and tries again.
 */
const A2A_FIRST_POLL_MS = 1_000;
const A2A_MAX_POLL_MS = 4_000;
const A2A_RATE_LIMITED_WAIT_MS = 5_000;
/** How often a send waiting behind an unfinished task asks whether it has finished. */
const A2A_PREVIOUS_TASK_POLL_MS = 2_500;
/**
 * A task of this sender still open this long after it was sent counts as wedged: the channel
 * gives each reply to the oldest open task of the conversation, so one task left open (a
 * duplicate message id the Gateway de-duplicated, a turn that ended without reply text, messages
 * folded into one turn) shifts every later reply onto the task before it, and the next send
 * would wait for good. A turn can legitimately run longer (an exec approval keeps its task open):
 * moving on then only starts a new session beside it.
 */
export const A2A_WEDGED_AFTER_MS = 5 * 60_000;
/** How often a send of an envelope another flusher is sending right now looks whether that request has settled. */
const A2A_SENDING_POLL_MS = 250;

/** The A2A channel caps extracted message text here and truncates beyond it; we refuse instead. */
export const A2A_MAX_TEXT_BYTES = 64 * 1024;

export type A2aTaskState =
  | "TASK_STATE_SUBMITTED"
  | "TASK_STATE_WORKING"
  | "TASK_STATE_COMPLETED"
  | "TASK_STATE_FAILED"
  | "TASK_STATE_CANCELED"
  | "TASK_STATE_REJECTED"
  | (string & {});

/**
 * A task is open until the channel finishes it. `returnImmediately` can hand back a task still
 * SUBMITTED (created, its turn not yet started) as well as WORKING: both hold the conversation.
 */
function isOpenTask(state: A2aTaskState | undefined): boolean {
  return state === "TASK_STATE_SUBMITTED" || state === "TASK_STATE_WORKING";
}

/** Ended without the agent's answer: the channel failed it, refused it, or (other servers) cancelled it. */
export function isFailedTask(state: A2aTaskState | undefined): boolean {
  return state === "TASK_STATE_FAILED" || state === "TASK_STATE_REJECTED" || state === "TASK_STATE_CANCELED";
}

export interface A2aTask {
  readonly id: string;
  readonly contextId?: string;
  readonly status?: { readonly state?: A2aTaskState; readonly message?: { readonly parts?: readonly { readonly text?: string }[] } };
  readonly artifacts?: readonly { readonly parts?: readonly { readonly text?: string }[] }[];
}

interface JsonRpcAnswer<T> {
  readonly result?: T;
  readonly error?: { readonly code?: number; readonly message?: string };
}

/** The text of a task's artifacts (the agent's reply), or of its status message. */
export function a2aTaskText(task: A2aTask): string {
  const parts = (task.artifacts ?? []).flatMap((artifact) => artifact.parts ?? []);
  const source = parts.length > 0 ? parts : (task.status?.message?.parts ?? []);
  return source.map((part) => part.text ?? "").join("");
}

/** One JSON-RPC call to the target's `/a2a/v1`, with every failure classified. */
export async function a2aCall<T>(target: A2aTarget, method: string, params: unknown, signal: AbortSignal): Promise<T> {
  if (!target.token) throw new UnavailableError(`No A2A token: ${target.tokenSource} is not set.`, { code: "NO_TOKEN" });
  let response: Response;
  try {
    response = await fetch(target.endpoint, {
      method: "POST",
      headers: { authorization: `Bearer ${target.token}`, "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: crypto.randomUUID(), method, params }),
      signal,
    });
  } catch (error) {
    if (signal.aborted) throw signal.reason;
    throw new UnavailableError(`A2A endpoint ${target.endpoint} is not reachable.`, {
      code: "UNREACHABLE",
      cause: error,
      hint: "Is the target's Gateway running and reachable from here?",
    });
  }
  if (response.status === 401 || response.status === 403) {
    throw new UnavailableError(`A2A endpoint ${target.endpoint} refused the bearer token.`, {
      code: "AUTH_FAILED",
      hint: `The token (${target.tokenSource}) must equal channels.a2a.peers.<this side>.token on the target.`,
    });
  }
  if (response.status === 404) {
    throw new UnavailableError(`No A2A endpoint at ${target.endpoint}.`, {
      code: "A2A_DISABLED",
      hint: "Enable it on the target: channels.a2a.enabled = true with a peer for this side (right after a Gateway start the route appears only once channels are up).",
    });
  }
  if (response.status === 429 || response.status >= 500) throw new TransientError(`A2A endpoint answered HTTP ${response.status}.`, { code: "BUSY" });
  if (!response.ok) throw new UnavailableError(`A2A endpoint answered HTTP ${response.status}.`, { code: "HTTP_ERROR" });
  const answer = (await response.json()) as JsonRpcAnswer<T>;
  if (answer.error) {
    const message = answer.error.message ?? "unknown error";
    if (/rate limit/iu.test(message)) {
      throw new TransientError(`A2A: ${message}`, {
        code: "RATE_LIMITED",
        retryAfterMs: 2_000,
        hint: "The target takes channels.a2a.rateLimitPerMinute requests per peer (default 30); raise it there, or send less often.",
      });
    }
    throw new UnavailableError(`A2A ${method} failed: ${message} (${answer.error.code ?? "no code"})`, { code: "A2A_ERROR" });
  }
  if (answer.result === undefined) throw new UnavailableError(`A2A ${method} answered without a result.`, { code: "A2A_ERROR" });
  return answer.result;
}

/** What a follow-up makes of a task this sender's envelope started, as the target last showed it. */
export function a2aFollowUpOf(task: A2aTask): FollowUp {
  const state = task.status?.state;
  if (state === "TASK_STATE_COMPLETED") return { status: "delivered" };
  if (!isFailedTask(state)) return { status: "waiting" };
  const why = a2aTaskText(task) || "no reason given";
  // The receiver's channel policy kept it from the agent: sending it again would only be refused again.
  if (state === "TASK_STATE_REJECTED" && /ingress policy/iu.test(why)) return { status: "refused", reason: `the target's A2A channel refused it: ${why}` };
  return { status: "lost", reason: `the target's A2A task ended ${state} after it had accepted it: ${why}` };
}

/**
 * The open task that shows the conversation is wedged: one of them open `wedgedAfterMs` after it
 * was sent. Claims still being sent (no task id yet) do not count; they go stale by themselves.
 */
export function wedgedTaskOf(open: readonly A2aSent[], now: number, wedgedAfterMs: number): A2aSent | undefined {
  return open.find((sent) => sent.taskId !== undefined && now - sent.sentAt >= wedgedAfterMs);
}

/** Failures that prove the target made no task: it answered, with an error or a refusal. */
const NO_TASK_CODES = new Set(["NO_TOKEN", "AUTH_FAILED", "A2A_DISABLED", "HTTP_ERROR", "RATE_LIMITED", "A2A_ERROR"]);

/** Whether a failed `SendMessage` certainly left no task on the target (otherwise it may have). */
export function sendLeftNoTask(error: unknown): boolean {
  return (error instanceof UnavailableError || error instanceof TransientError) && NO_TASK_CODES.has(error.code);
}

const isTaskNotFound = (error: unknown) => error instanceof UnavailableError && error.code === "A2A_ERROR" && /task not found/iu.test(error.message);

export interface A2aTransportOptions {
  /**
   * The library's state dir: the conversation and the tasks sent there are kept in `a2a.sqlite`,
   * shared by every process sending from this instance. Without it they live as long as the transport.
   */
  readonly stateDir?: string | undefined;
  /** How long a task may stay open before its conversation counts as wedged (`A2A_WEDGED_AFTER_MS`). */
  readonly wedgedAfterMs?: number | undefined;
}

/**
 * Sends through the target Gateway's bundled A2A channel: authenticated by a peer token (not the
 * Gateway token), so it works where the operator RPC is closed. Returns as soon as the target has
 * the task (`returnImmediately`); the agent's reply can be polled with `GetTask`.
 *
 * One task at a time per conversation: on 2026.9.x the channel completes the *oldest* open task of
 * a conversation with each reply, and a message that arrives while a turn runs is folded into it,
 * so a send waits until the conversation's previous task (this process's or another's, from the
 * ledger) has finished. A task still open after `wedgedAfterMs` wedges the conversation for good;
 * the sender then moves to a fresh `contextId` (a new session on the target) instead of stalling.
 *
 * The message id is the envelope's delivery key (fresh for each redelivery). The target's inbound
 * de-duplication (20 min, by peer and message id, whatever the context) turns a repeat into a task
 * that never ends: a repeat whose first request may have landed goes to a one-off context, where
 * such a task wedges nothing.
 */
export class A2aTransport implements Transport {
  readonly id = "a2a";
  readonly #self: string;
  readonly #env: NodeJS.ProcessEnv;
  readonly #stateDir: string | undefined;
  readonly #wedgedAfterMs: number;
  #ledgerOpening: Promise<A2aLedger> | undefined;
  /** Sends to one endpoint run one at a time in this process, from the wait for the conversation to the answer. */
  readonly #lanes = new Map<string, Promise<void>>();

  constructor(self: string, env: NodeJS.ProcessEnv = process.env, options: A2aTransportOptions = {}) {
    this.#self = self;
    this.#env = env;
    this.#stateDir = options.stateDir;
    this.#wedgedAfterMs = options.wedgedAfterMs ?? A2A_WEDGED_AFTER_MS;
  }

  applies(instance: Instance, envelope: Envelope): Applicability {
    // OpenClaw's a2a channel (2026.9.x) reads a part's `text` and `data` only: a file part (`raw`, `url`)
    // is dropped without a word, and its whole request is capped at 1 MiB, its text at 64 KiB.
    const files = cannotCarryFiles(
      envelope,
      "OpenClaw's A2A channel takes text and data parts only and drops file parts (raw, url) unread; its requests are capped at 1 MiB",
    );
    if (files) return files;
    if (!instance.a2a) return notApplicable("no a2a.url is configured for this instance");
    if (!instance.a2a.token) return notApplicable(`no A2A token: ${instance.a2a.tokenSource} is not set`);
    if (!isPlaintextAllowed(instance.a2a.endpoint, this.#env))
      return notApplicable(`refusing plaintext http:// to a public host (${instance.a2a.endpoint}); use https://`);
    if (envelope.body.includes("\r")) return notApplicable("the body has carriage returns, which the A2A channel turns into plain line feeds");
    const trailing = trailingWhitespaceRefusal(envelope);
    if (trailing) return notApplicable(trailing);
    const bytes = Buffer.byteLength(formatSessionMessage(envelope), "utf8");
    if (bytes > A2A_MAX_TEXT_BYTES)
      return notApplicable(`the message is ${bytes} bytes; the A2A channel takes at most ${A2A_MAX_TEXT_BYTES} (it would truncate)`);
    return APPLIES;
  }

  /** Polls `GetTask` until the task ends; the reply is the text of its artifacts. */
  async awaitReply(_envelope: Envelope, receipt: Receipt, context: DeliveryContext): Promise<string> {
    const target = context.instance.a2a;
    if (!target) throw new UnavailableError("a2a used without a2a config", { code: "NOT_CONFIGURED" });
    if (receipt.status === "delivered" && typeof receipt.detail.reply === "string") return receipt.detail.reply;
    for (let wait = A2A_FIRST_POLL_MS; ; wait = Math.min(wait * 1.5, A2A_MAX_POLL_MS)) {
      let task: A2aTask;
      try {
        task = await this.#getTask(target, String(receipt.detail.taskId), context.signal);
      } catch (error) {
        if (!(error instanceof TransientError && error.code === "RATE_LIMITED")) throw error;
        await delay(A2A_RATE_LIMITED_WAIT_MS, undefined, { signal: context.signal });
        continue;
      }
      const state = task.status?.state;
      if (state === "TASK_STATE_COMPLETED") return a2aTaskText(task);
      if (isFailedTask(state)) {
        throw new UnavailableError(`The target's task ended ${state}: ${a2aTaskText(task)}`, { code: "A2A_TASK_FAILED" });
      }
      await delay(wait, undefined, { signal: context.signal });
    }
  }

  async checkReply(_envelope: Envelope, receipt: Receipt, context: DeliveryContext): Promise<string | undefined> {
    const target = context.instance.a2a;
    if (!target) throw new UnavailableError("a2a used without a2a config", { code: "NOT_CONFIGURED" });
    if (receipt.status === "delivered" && typeof receipt.detail.reply === "string") return receipt.detail.reply;
    let task: A2aTask;
    try {
      task = await this.#getTask(target, String(receipt.detail.taskId), context.signal);
    } catch (error) {
      if (error instanceof TransientError && error.code === "RATE_LIMITED") return undefined;
      throw error;
    }
    const state = task.status?.state;
    if (state === "TASK_STATE_COMPLETED") return a2aTaskText(task);
    if (isFailedTask(state)) throw new FatalError(`The target's task ended ${state}: ${a2aTaskText(task)}`, { code: "A2A_TASK_FAILED" });
    return undefined;
  }

  /**
   * Where the task this envelope's last request made stands: completed is delivered; failed,
   * rejected or cancelled after the target had accepted it is lost (the dispatcher sends it again,
   * under a fresh message id); open, or unknown to the target now (its channel keeps tasks in
   * memory only), is waiting.
   */
  async followUp(envelope: Envelope, context: DeliveryContext): Promise<FollowUp> {
    const target = context.instance.a2a;
    if (!target) throw new UnavailableError("a2a used without a2a config", { code: "NOT_CONFIGURED" });
    const ledger = await this.#ledger();
    const sent = ledger.last(target.endpoint, sessionIdempotencyKey(envelope));
    if (!sent?.taskId || sent.state === "NOT_FOUND") return { status: "waiting" };
    try {
      return a2aFollowUpOf(await this.#getTask(target, sent.taskId, context.signal));
    } catch (error) {
      if (isTaskNotFound(error)) return { status: "waiting" };
      throw error;
    }
  }

  /** A `GetTask` for an id that cannot exist: "Task not found" proves the endpoint is up and takes our token. */
  async probe(instance: Instance, signal: AbortSignal): Promise<string> {
    const target = instance.a2a;
    if (!target) throw new UnavailableError("a2a has no url", { code: "NOT_CONFIGURED" });
    try {
      await a2aCall(target, "GetTask", { id: "openclaw-inter-instance-probe" }, signal);
    } catch (error) {
      if (!isTaskNotFound(error)) throw error;
    }
    return `A2A endpoint ${target.endpoint} answered and accepted the peer token`;
  }

  async deliver(envelope: Envelope, context: DeliveryContext): Promise<Receipt> {
    const target = context.instance.a2a;
    if (!target) throw new UnavailableError("a2a used without a2a config", { code: "NOT_CONFIGURED" });
    const ledger = await this.#ledger();
    const messageId = sessionIdempotencyKey(envelope);
    for (;;) {
      const earlier = await this.#settledEarlier(ledger, target.endpoint, messageId, context.signal);
      if (earlier && earlier.state !== "REFUSED") {
        const known = await this.#earlierReceipt(target, earlier, context.signal);
        if (known) return known;
        // The first request may have landed: the target would de-duplicate this one into a task that never ends.
        const contextId = freshA2aContextId(this.#self, "repeat");
        const seq = ledger.claim(target.endpoint, messageId, contextId, { exclusive: false }) as number;
        context.logger.info(
          { messageId, contextId, earlier: earlier.state },
          "a2a: sent before without a known outcome; this request goes to a one-off conversation",
        );
        const receipt = await this.#send(target, ledger, seq, envelope, messageId, contextId, context.signal);
        return { ...receipt, detail: { ...receipt.detail, repeat: true } };
      }
      const leave = await this.#enterLane(target.endpoint, context.signal);
      try {
        const turn = await this.#takeTurn(target, ledger, messageId, context);
        // Undefined: another flusher sent this envelope meanwhile; look at what its request came to.
        if (turn) return await this.#send(target, ledger, turn.seq, envelope, messageId, turn.contextId, context.signal);
      } finally {
        leave();
      }
    }
  }

  /** The latest request for this message id, once it has settled (another flusher may be sending it right now). */
  async #settledEarlier(ledger: A2aLedger, endpoint: string, messageId: string, signal: AbortSignal): Promise<A2aSent | undefined> {
    let earlier = ledger.last(endpoint, messageId);
    while (earlier?.state === "SENDING" && Date.now() - earlier.sentAt < A2A_SENDING_STALE_MS) {
      await delay(A2A_SENDING_POLL_MS, undefined, { signal });
      earlier = ledger.last(endpoint, messageId);
    }
    return earlier;
  }

  async close(): Promise<void> {
    const opening = this.#ledgerOpening;
    this.#ledgerOpening = undefined;
    if (opening) (await opening.catch(() => undefined))?.close();
  }

  #ledger(): Promise<A2aLedger> {
    return (this.#ledgerOpening ??= A2aLedger.open(this.#stateDir));
  }

  /** `GetTask`, noting in the ledger the state the task was seen in. */
  async #getTask(target: A2aTarget, taskId: string, signal: AbortSignal): Promise<A2aTask> {
    const ledger = await this.#ledger();
    try {
      const task = await a2aCall<A2aTask>(target, "GetTask", { id: taskId }, signal);
      ledger.observe(taskId, task.status?.state ?? "unknown");
      return task;
    } catch (error) {
      if (isTaskNotFound(error)) ledger.observe(taskId, "NOT_FOUND");
      throw error;
    }
  }

  /** The receipt of an earlier request for the same message id whose task is open or done: it is not sent again. */
  async #earlierReceipt(target: A2aTarget, earlier: A2aSent, signal: AbortSignal): Promise<Receipt | undefined> {
    if (!earlier.taskId) return undefined;
    let task: A2aTask;
    try {
      task = await this.#getTask(target, earlier.taskId, signal);
    } catch (error) {
      if (isTaskNotFound(error)) return undefined;
      throw error;
    }
    const state = task.status?.state ?? "unknown";
    const detail = { taskId: task.id, contextId: task.contextId ?? earlier.contextId, taskState: state, sentBefore: true };
    if (state === "TASK_STATE_COMPLETED") return { status: "delivered", detail: { ...detail, reply: a2aTaskText(task) } };
    return isOpenTask(state) ? { status: "accepted", detail } : undefined;
  }

  /**
   * Waits until the conversation has no open task (this process's or another's), then claims it
   * for one request. A task open past the bound wedges it: the sender moves on to a fresh one.
   * Undefined when a request for the same message id was made meanwhile (another flusher).
   */
  async #takeTurn(target: A2aTarget, ledger: A2aLedger, messageId: string, context: DeliveryContext): Promise<{ contextId: string; seq: number } | undefined> {
    const { signal } = context;
    for (;;) {
      signal.throwIfAborted();
      const contextId = ledger.context(target.endpoint, this.#self);
      const stillOpen: A2aSent[] = [];
      for (const sent of ledger.open(target.endpoint, contextId)) {
        if (!sent.taskId) {
          stillOpen.push(sent);
          continue;
        }
        try {
          if (isOpenTask((await this.#getTask(target, sent.taskId, signal)).status?.state)) stillOpen.push(sent);
        } catch (error) {
          if (error instanceof TransientError && error.code === "RATE_LIMITED") stillOpen.push(sent);
          else if (!isTaskNotFound(error)) throw error;
        }
      }
      const wedged = wedgedTaskOf(stillOpen, Date.now(), this.#wedgedAfterMs);
      if (wedged) {
        const next = ledger.moveOn(target.endpoint, this.#self, contextId);
        context.logger.warn(
          { contextId, next, taskId: wedged.taskId, openForMs: Date.now() - wedged.sentAt },
          "a2a: the conversation is wedged (a task stays open while replies go to others); moving to a fresh contextId",
        );
        continue;
      }
      if (stillOpen.length === 0) {
        const seq = ledger.claim(target.endpoint, messageId, contextId, { exclusive: true, fresh: true });
        if (seq === "sent") return undefined;
        if (seq !== "busy") return { contextId, seq };
      }
      await delay(A2A_PREVIOUS_TASK_POLL_MS, undefined, { signal });
    }
  }

  async #send(
    target: A2aTarget,
    ledger: A2aLedger,
    seq: number,
    envelope: Envelope,
    messageId: string,
    contextId: string,
    signal: AbortSignal,
  ): Promise<Receipt> {
    let task: A2aTask;
    try {
      ({ task } = await a2aCall<{ task: A2aTask }>(
        target,
        "SendMessage",
        {
          message: { messageId, role: "ROLE_USER", contextId, parts: [{ text: formatSessionMessage(envelope) }] },
          configuration: { returnImmediately: true },
        },
        signal,
      ));
    } catch (error) {
      ledger.settle(seq, undefined, sendLeftNoTask(error) ? "REFUSED" : "UNKNOWN");
      throw error;
    }
    const state = task.status?.state ?? "unknown";
    ledger.settle(seq, task.id, state);
    if (isFailedTask(state)) {
      // Not transient: the target's policy refused it. Another transport may still be allowed.
      throw new UnavailableError(`The target's A2A channel refused the task: ${a2aTaskText(task) || state}`, { code: "A2A_REJECTED" });
    }
    const detail = { taskId: task.id, contextId: task.contextId ?? contextId, taskState: state };
    return state === "TASK_STATE_COMPLETED" ? { status: "delivered", detail: { ...detail, reply: a2aTaskText(task) } } : { status: "accepted", detail };
  }

  /** Waits for the sends to this endpoint before this one in this process; the returned function lets the next one go. */
  async #enterLane(key: string, signal: AbortSignal): Promise<() => void> {
    const previous = this.#lanes.get(key) ?? Promise.resolve();
    let leave!: () => void;
    const mine = new Promise<void>((resolve) => (leave = resolve));
    const tail = previous.then(() => mine);
    this.#lanes.set(key, tail);
    void tail.then(() => {
      if (this.#lanes.get(key) === tail) this.#lanes.delete(key);
    });
    try {
      await untilAborted(previous, signal);
    } catch (error) {
      leave();
      throw error;
    }
    return leave;
  }
}

/** `promise`, or the signal's reason as soon as it aborts. */
async function untilAborted(promise: Promise<void>, signal: AbortSignal): Promise<void> {
  signal.throwIfAborted();
  let onAbort: (() => void) | undefined;
  try {
    await Promise.race([
      promise,
      new Promise<never>((_, reject) => {
        onAbort = () => reject(signal.reason);
        signal.addEventListener("abort", onAbort, { once: true });
      }),
    ]);
  } finally {
    if (onAbort) signal.removeEventListener("abort", onAbort);
  }
}
