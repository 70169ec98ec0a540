import type { FSWatcher } from "node:fs";
import type { OpenClawPluginApi, OpenClawPluginService } from "openclaw/plugin-sdk/plugin-entry";
import { parseConfig } from "../../config/parse.js";
import type { Config } from "../../config/schema.js";
import { InboxWatcher } from "../../inbox/watcher.js";
import type { MemoryEntry } from "../../transports/memory-file/entry.js";
import { frameForAgent, howToAnswerTask, type SenderVerdict } from "../../trust/frame.js";
import { pinnedKeysOf } from "../../trust/pins.js";
import { type PinnedKeys, verifySender } from "../../trust/sign-envelope.js";
import type { InboundGate, ReplySettler } from "../gates/inbound.js";
import { PLUGIN_ID } from "../id.js";
import { incomingFilesText } from "../incoming-files-text.js";
import { heartbeatWaker, queueIntoNextTurn } from "../next-turn.js";
import { agentWorkspace } from "../workspace.js";

export const INBOX_SERVICE_ID = "inter-instance-inbox";

/** "Seen" receipts come from the agent_turn_prepare hook, which OpenClaw runs for this plugin only with conversation access. */
export function seenReceiptsAllowed(config: unknown): boolean {
  const entry = (config as PluginEntries | undefined)?.plugins?.entries?.[PLUGIN_ID];
  return entry?.hooks?.allowConversationAccess === true;
}

/** Who sent an entry, as far as its signature proves it. */
export function entryVerdict(entry: MemoryEntry, pinned: PinnedKeys): SenderVerdict {
  if (entry.altered) return { verified: false, claimedFrom: entry.from, reason: "the note was edited after this entry was written" };
  const signed = entry.signed;
  const fields = {
    id: entry.id,
    from: entry.from,
    body: entry.body,
    to: signed?.to ?? "",
    createdAt: signed?.createdAt ?? "",
    redelivery: signed?.redelivery,
    conversation: signed?.conversation,
    hop: signed?.hop,
    replyTo: signed?.replyTo,
    task: signed?.task,
    files: signed?.files,
  };
  return verifySender(fields, signed?.signature, pinned);
}

/** What the agent reads: the verdict on who sent it, the envelope id, and the body as written, framed. */
export function inboxInjectionText(entry: MemoryEntry, verdict: SenderVerdict, files?: string): string {
  const task = entry.signed?.task && verdict.verified ? `; ${howToAnswerTask(verdict.from, entry.id)}` : "";
  return frameForAgent(verdict, entry.id, entry.body, `written ${entry.time} into your memory notes${task}`, files).text;
}

/** The entry's signed files, each checked in the workspace's incoming folder, as the frame lists them. */
export function entryFilesText(entry: MemoryEntry, verdict: SenderVerdict, workspace: string): Promise<string | undefined> {
  return incomingFilesText(entry.signed?.files, verdict.verified, workspace);
}

/**
 * The receiving side: watches this Gateway's daily notes for entries the memory-file transport
 * wrote, queues each once into the agent's next turn through OpenClaw's durable next-turn
 * injection (de-duplicated by envelope id), and asks for a heartbeat so that turn comes now.
 */

type PluginEntries = { plugins?: { entries?: Record<string, { config?: unknown; hooks?: { allowConversationAccess?: boolean } }> } };

/** This plugin's registry as the committed Gateway config has it now (a reload restarts the service with it). */
function registryFrom(config: unknown, fallback: unknown): Config {
  return parseConfig((config as PluginEntries | undefined)?.plugins?.entries?.[PLUGIN_ID]?.config ?? fallback ?? {});
}

/** What the agent reads for a held message its owner approved. */
export function approvedInjectionText(message: { id: string; body: string; reason: string }, verdict: SenderVerdict): string {
  return frameForAgent(verdict, message.id, message.body, `held (${message.reason}) until your owner approved it`).text;
}

export function createInboxService(api: OpenClawPluginApi, gate: InboundGate, settleReply?: ReplySettler): OpenClawPluginService {
  let watcher: InboxWatcher | undefined;
  let decisions: FSWatcher | undefined;
  let decisionPoll: NodeJS.Timeout | undefined;
  const service: OpenClawPluginService = {
    id: INBOX_SERVICE_ID,
    // A changed registry (e.g. inbox.wake) restarts the service with the committed config.
    reload: { configPrefixes: [`plugins.entries.${PLUGIN_ID}.config`] },
    async start(ctx) {
      const registry = registryFrom(ctx.config, api.pluginConfig);
      const { inbox } = registry;
      if (!inbox.enabled) return;
      const pinned = pinnedKeysOf(registry);
      const wakers = new Map<string, ReturnType<typeof heartbeatWaker>>();
      const wakeFor = (sessionKey: string) =>
        inbox.wake ? (wakers.get(sessionKey) ?? wakers.set(sessionKey, heartbeatWaker(api, sessionKey)).get(sessionKey)) : undefined;
      const workspace = agentWorkspace(api, ctx);
      const inboxWatcher = (watcher = new InboxWatcher({
        workspace,
        sessionKey: inbox.sessionKey,
        pollMs: inbox.pollMs,
        resurfaceUnseen: seenReceiptsAllowed(ctx.config),
        onError: (error) => ctx.logger.warn(`inter-instance inbox: ${String(error)}`),
        surface: async (entry) => {
          const signedFor = entry.signed && { to: entry.signed.to, createdAt: entry.signed.createdAt };
          const arriving = {
            id: entry.id,
            verdict: entryVerdict(entry, pinned),
            body: entry.body,
            transport: "memory_file",
            sessionKey: inbox.sessionKey,
            conversation: entry.signed?.conversation,
            hop: entry.signed?.hop,
            replyTo: entry.signed?.replyTo,
            signedFor,
          };
          const decision = await gate.admit(arriving);
          // A copy of a message the session was already shown (by another path) is not shown again.
          if (decision.action === "suppress") return "surfaced";
          if (decision.action !== "allow") return decision.action === "hold" ? "held" : "refused";
          // The verdict the gate decided with: a signature for another instance, or too old, no longer verifies.
          const { verdict } = decision;
          // A verified answer to one of our tasks settles it (its text brought as the task's result);
          // one with files is also shown as it came, so that its files are listed and checked.
          const files = entry.signed?.files;
          if (!files && (await gate.answersTask({ ...arriving, verdict }, settleReply))) return "surfaced";
          const queued = await queueIntoNextTurn(
            api,
            ctx.logger,
            { sessionKey: inbox.sessionKey, workspace, wake: wakeFor(inbox.sessionKey) },
            {
              id: entry.id,
              from: entry.from,
              text: inboxInjectionText(entry, verdict, await entryFilesText(entry, verdict, workspace)),
              conversation: decision.conversation,
              hop: decision.hop,
            },
          );
          if (queued && files) await gate.answersTask({ ...arriving, verdict }, settleReply);
          if (queued) gate.record({ ...arriving, verdict }, "surfaced");
          return queued ? "surfaced" : false;
        },
      }));
      await watcher.start();
      // The owner's decisions on held messages (from any transport): approved ones go into the
      // session they were for, and a file delivery's receipt follows, so its sender learns of it.
      const settle = () =>
        gate
          .settleDecisions(async (message, verdict) => {
            if (message.decision === "approved") {
              const queued = await queueIntoNextTurn(
                api,
                ctx.logger,
                { sessionKey: message.sessionKey, workspace, wake: wakeFor(message.sessionKey) },
                { id: message.id, from: message.from, text: approvedInjectionText(message, verdict), conversation: message.conversation, hop: message.hop },
              );
              if (!queued) return false;
            }
            if (message.transport !== "session")
              await inboxWatcher.ledger.record(message.id, message.decision === "approved" ? "surfaced" : "refused", message.from);
            return true;
          })
          .catch((error: unknown) => ctx.logger.warn(`inter-instance inbox: held messages: ${String(error)}`));
      decisions = (await gate.held()).onDecision(() => void settle());
      decisionPoll = setInterval(() => void settle(), inbox.pollMs);
      decisionPoll.unref();
      await settle();
      ctx.logger.info(`inter-instance inbox: watching ${workspace} for ${inbox.sessionKey} (wake ${inbox.wake ? "on" : "off"})`);
    },
    async stop() {
      decisions?.close();
      if (decisionPoll) clearInterval(decisionPoll);
      await watcher?.stop();
      watcher = undefined;
    },
  };
  return service;
}
