import { setTimeout as delay } from "node:timers/promises";
import type { A2aTarget, Instance } from "../config/registry.js";
import type { Envelope } from "../core/envelope.js";
import { FatalError, TransientError, UnavailableError } from "../core/errors.js";
import { isPlaintextAllowed } from "../gateway/url-policy.js";
import { formatSessionMessage, trailingWhitespaceRefusal } from "../session-message.js";
import { APPLIES, notApplicable, type Applicability, type DeliveryContext, type Receipt, type Transport } from "../core/transport.js";
import { SessionQueueGate } from "./session-queue-gate.js";

/**
 * The channel answers at most `rateLimitPerMinute` (default 30) requests per peer, polls included,
 * so polls start at 1 s and slow down to 4 s; a rate-limited poll waits and tries again.
 */
const A2A_FIRST_POLL_MS = 1_000;
const A2A_MAX_POLL_MS = 4_000;
const A2A_RATE_LIMITED_WAIT_MS = 5_000;
/** How often a send waiting behind an unfinished task asks whether it has finished. */
const A2A_PREVIOUS_TASK_POLL_MS = 2_500;

/** The A2A channel caps extracted message text here and truncates beyond it; we refuse instead. */
export const A2A_MAX_TEXT_BYTES = 64 * 1024;

export type A2aTaskState = "TASK_STATE_SUBMITTED" | "TASK_STATE_WORKING" | "TASK_STATE_COMPLETED" | "TASK_STATE_FAILED" | "TASK_STATE_REJECTED" | (string & {});

/**
 * A task is open until the channel finishes it. `returnImmediately` can hand back a task still
 * SUBMITTED (created, its turn not yet started) as well as WORKING: both hold the conversation.
 */
function isOpenTask(state: A2aTaskState | undefined): boolean {
  return state === "TASK_STATE_SUBMITTED" || state === "TASK_STATE_WORKING";
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

/** The conversation this sender keeps on the target: one session per sending instance. */
export function a2aContextId(self: string): string {
  return `openclaw-inter-instance:${self.replace(/[^A-Za-z0-9._:-]/gu, "-")}`.slice(0, 128);
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
    throw new UnavailableError(`A2A endpoint ${target.endpoint} is not reachable.`, { code: "UNREACHABLE", cause: error, hint: "Is the target's Gateway running and reachable from here?" });
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

/**
 * Sends through the target Gateway's bundled A2A channel: authenticated by a peer token (not the
 * Gateway token), so it works where the operator RPC is closed. Returns as soon as the target has
 * the task (`returnImmediately`); the agent's reply can be polled with `GetTask`.
 *
 * One task at a time per conversation: on 2026.9.x a task sent while an earlier one of the same
 * context is still open (SUBMITTED or WORKING) stays open and never reaches the agent, so a send
 * waits until this sender's previous task there has finished.
 */
export class A2aTransport implements Transport {
  readonly id = "a2a";
  readonly #self: string;
  readonly #env: NodeJS.ProcessEnv;
  readonly #gate = new SessionQueueGate();
  /** Tasks this sender started that were still working when last seen, per conversation. */
  readonly #working = new Map<string, Set<string>>();

  constructor(self: string, env: NodeJS.ProcessEnv = process.env) {
    this.#self = self;
    this.#env = env;
  }

  applies(instance: Instance, envelope: Envelope): Applicability {
    if (!instance.a2a) return notApplicable("no a2a.url is configured for this instance");
    if (!instance.a2a.token) return notApplicable(`no A2A token: ${instance.a2a.tokenSource} is not set`);
    if (!isPlaintextAllowed(instance.a2a.endpoint, this.#env)) return notApplicable(`refusing plaintext http:// to a public host (${instance.a2a.endpoint}); use https://`);
    if (envelope.body.includes("\r")) return notApplicable("the body has carriage returns, which the A2A channel turns into plain line feeds");
    const trailing = trailingWhitespaceRefusal(envelope);
    if (trailing) return notApplicable(trailing);
    const bytes = Buffer.byteLength(formatSessionMessage(envelope), "utf8");
    if (bytes > A2A_MAX_TEXT_BYTES) return notApplicable(`the message is ${bytes} bytes; the A2A channel takes at most ${A2A_MAX_TEXT_BYTES} (it would truncate)`);
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
        task = await a2aCall<A2aTask>(target, "GetTask", { id: String(receipt.detail.taskId) }, context.signal);
      } catch (error) {
        if (!(error instanceof TransientError && error.code === "RATE_LIMITED")) throw error;
        await delay(A2A_RATE_LIMITED_WAIT_MS, undefined, { signal: context.signal });
        continue;
      }
      const state = task.status?.state;
      if (state === "TASK_STATE_COMPLETED") return a2aTaskText(task);
      if (state === "TASK_STATE_FAILED" || state === "TASK_STATE_REJECTED") {
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
      task = await a2aCall<A2aTask>(target, "GetTask", { id: String(receipt.detail.taskId) }, context.signal);
    } catch (error) {
      if (error instanceof TransientError && error.code === "RATE_LIMITED") return undefined;
      throw error;
    }
    const state = task.status?.state;
    if (state === "TASK_STATE_COMPLETED") return a2aTaskText(task);
    if (state === "TASK_STATE_FAILED" || state === "TASK_STATE_REJECTED") throw new FatalError(`The target's task ended ${state}: ${a2aTaskText(task)}`, { code: "A2A_TASK_FAILED" });
    return undefined;
  }

  #workingIn(conversation: string): Set<string> {
    let tasks = this.#working.get(conversation);
    if (!tasks) this.#working.set(conversation, (tasks = new Set()));
    return tasks;
  }

  /** How many of this sender's tasks in the conversation are still working (a rate-limited look counts them all). */
  async #stillWorking(target: A2aTarget, conversation: string, signal: AbortSignal): Promise<number> {
    const tasks = this.#workingIn(conversation);
    for (const id of [...tasks]) {
      try {
        const task = await a2aCall<A2aTask>(target, "GetTask", { id }, signal);
        if (!isOpenTask(task.status?.state)) tasks.delete(id);
      } catch (error) {
        if (error instanceof TransientError && error.code === "RATE_LIMITED") return tasks.size;
        if (error instanceof UnavailableError && /task not found/iu.test(error.message)) tasks.delete(id);
        else throw error;
      }
    }
    return tasks.size;
  }

  /** A `GetTask` for an id that cannot exist: "Task not found" proves the endpoint is up and takes our token. */
  async probe(instance: Instance, signal: AbortSignal): Promise<string> {
    const target = instance.a2a;
    if (!target) throw new UnavailableError("a2a has no url", { code: "NOT_CONFIGURED" });
    try {
      await a2aCall(target, "GetTask", { id: "openclaw-inter-instance-probe" }, signal);
    } catch (error) {
      if (!(error instanceof UnavailableError && error.code === "A2A_ERROR" && /task not found/iu.test(error.message))) throw error;
    }
    return `A2A endpoint ${target.endpoint} answered and accepted the peer token`;
  }

  async deliver(envelope: Envelope, context: DeliveryContext): Promise<Receipt> {
    const target = context.instance.a2a;
    if (!target) throw new UnavailableError("a2a used without a2a config", { code: "NOT_CONFIGURED" });
    const contextId = a2aContextId(this.#self);
    const conversation = `${target.endpoint} ${contextId}`;
    const giveBackTurn = await this.#gate.admit(conversation, 1, (signal) => this.#stillWorking(target, conversation, signal), context.signal, A2A_PREVIOUS_TASK_POLL_MS);
    let task: A2aTask;
    try {
      ({ task } = await a2aCall<{ task: A2aTask }>(
        target,
        "SendMessage",
        {
          message: { messageId: envelope.id, role: "ROLE_USER", contextId, parts: [{ text: formatSessionMessage(envelope) }] },
          configuration: { returnImmediately: true },
        },
        context.signal,
      ));
    } catch (error) {
      giveBackTurn();
      throw error;
    }
    const state = task.status?.state ?? "unknown";
    if (isOpenTask(state)) this.#workingIn(conversation).add(task.id);
    else giveBackTurn();
    if (state === "TASK_STATE_REJECTED" || state === "TASK_STATE_FAILED") {
      // Not transient: the target's policy refused it. Another transport may still be allowed.
      throw new UnavailableError(`The target's A2A channel refused the task: ${a2aTaskText(task) || state}`, { code: "A2A_REJECTED" });
    }
    const detail = { taskId: task.id, contextId: task.contextId ?? contextId, taskState: state };
    return state === "TASK_STATE_COMPLETED" ? { status: "delivered", detail: { ...detail, reply: a2aTaskText(task) } } : { status: "accepted", detail };
  }
}

