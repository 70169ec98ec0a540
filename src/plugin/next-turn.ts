import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import type { OpenClawPluginApi } from "openclaw/plugin-sdk/plugin-entry";
import { inboxDir } from "../inbox/ledger.js";
import { writeFileAtomic } from "../util/atomic-write.js";
import { PLUGIN_ID } from "./id.js";

const RETRY_WAKE_INTERVAL_MS = 5_000;

/**
 * Asks the Gateway for a heartbeat of the session, so the turn carrying a queued message comes now.
 * A queued message always asks (the host coalesces bursts); one that could not be queued yet (no
 * session) asks at most every few seconds, so its retries are no heartbeat storm.
 */
export function heartbeatWaker(api: OpenClawPluginApi, sessionKey: string): (reason: string, retry: boolean) => void {
  let lastRetryWakeAt = 0;
  return (reason, retry) => {
    if (retry && Date.now() - lastRetryWakeAt < RETRY_WAKE_INTERVAL_MS) return;
    if (retry) lastRetryWakeAt = Date.now();
    api.runtime.system.requestHeartbeat({ source: "other", intent: "immediate", reason, sessionKey });
  };
}

export interface IncomingMessage {
  readonly id: string;
  readonly from: string;
  /** What the agent reads: who sent it, the id, and the body as written. */
  readonly text: string;
  /** The receiving path, kept in the injection's metadata ("nats": its turn's answer goes back to the fleet). */
  readonly via?: "nats";
  /** Its conversation and hop, kept in the metadata: what the agent sends while handling it continues that conversation. */
  readonly conversation?: string | undefined;
  readonly hop?: number | undefined;
}

export interface TurnTarget {
  readonly sessionKey: string;
  /** Where a message too long for one injection is kept whole for the agent to read. */
  readonly workspace: string;
  readonly wake: ((reason: string, retry: boolean) => void) | undefined;
}

// OpenClaw's own limits on one plugin's next-turn injections (src/plugins/host-hook-state.ts):
// longer texts and injections past the 32nd pending one are refused, with no error.
const MAX_INJECTION_TEXT_LENGTH = 32_768;
const LONG_MESSAGE_PREVIEW_LENGTH = 24_000;

/** A message too long for one injection: kept whole in the workspace, the agent reads the start and where the rest is. */
async function injectionText(target: TurnTarget, message: IncomingMessage): Promise<string> {
  if (message.text.trim().length <= MAX_INJECTION_TEXT_LENGTH) return message.text;
  const dir = join(inboxDir(target.workspace), "long-messages");
  await mkdir(dir, { recursive: true });
  const path = join(dir, `${message.id.replace(/[^A-Za-z0-9_-]/gu, "_")}.txt`);
  await writeFileAtomic()(path, message.text, { mode: 0o600 });
  return `${message.text.slice(0, LONG_MESSAGE_PREVIEW_LENGTH)}\n\n[… this message is ${message.text.length} characters long; the first ${LONG_MESSAGE_PREVIEW_LENGTH} are above. Read all of it, as written, in ${path}]`;
}

/**
 * Queues one incoming message into the agent's next turn through OpenClaw's durable next-turn
 * injection (de-duplicated by envelope id while it is pending) and asks for a heartbeat so that
 * turn comes now. Resolves true once the next turn holds it; false when it cannot be queued yet
 * (the session does not exist, or 32 of our injections already wait for its next turn): the
 * caller tries again later. Every receiving path (daily notes, node drops, NATS) comes in here.
 */
export async function queueIntoNextTurn(
  api: OpenClawPluginApi,
  logger: { info(message: string): void },
  target: TurnTarget,
  message: IncomingMessage,
): Promise<boolean> {
  const idempotencyKey = `inter-instance:${message.id}`;
  const queued = await api.session.workflow.enqueueNextTurnInjection({
    sessionKey: target.sessionKey,
    text: await injectionText(target, message),
    idempotencyKey,
    placement: "prepend_context",
    metadata: {
      envelopeId: message.id,
      from: message.from,
      ...(message.via ? { via: message.via } : {}),
      ...(message.conversation ? { conversation: message.conversation, hop: message.hop ?? 1 } : {}),
    },
  });
  // No id: the session does not exist yet. A heartbeat creates it; the next attempt queues again.
  if (!queued.id) {
    target.wake?.(`waiting to deliver a message from ${message.from}`, true);
    return false;
  }
  // Not enqueued, with an id: either it is pending already (held) or the queue is full (not held).
  if (!queued.enqueued && !isPending(api, queued.sessionKey || target.sessionKey, idempotencyKey)) {
    target.wake?.(`messages from ${message.from} wait for a turn`, true);
    return false;
  }
  logger.info(`${PLUGIN_ID} inbox: message ${message.id} from ${message.from} queued for ${target.sessionKey}`);
  target.wake?.(`message from ${message.from}`, false);
  return true;
}

function isPending(api: OpenClawPluginApi, sessionKey: string, idempotencyKey: string): boolean {
  const entry = api.runtime.agent.session.getSessionEntry({ sessionKey, readConsistency: "latest" });
  return (entry?.pluginNextTurnInjections?.[PLUGIN_ID] ?? []).some((injection) => injection.idempotencyKey === idempotencyKey);
}
