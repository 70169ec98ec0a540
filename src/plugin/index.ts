import { existsSync } from "node:fs";
import { definePluginEntry } from "openclaw/plugin-sdk/plugin-entry";
import { createMessenger, type Messenger } from "../messenger/create.js";
import { auditPath, outboxPath } from "../config/state-paths.js";
import { parseConfig } from "../config/parse.js";
import { InboxLedger } from "../inbox/ledger.js";
import { createReplyRecorder } from "./services/nats-replies.js";
import { PLUGIN_ID } from "./id.js";
import { createInboxService, seenReceiptsAllowed } from "./services/inbox.js";
import { createOutboxService } from "./services/outbox.js";
import { gatewayLogDestination } from "./gateway-log.js";
import { pluginConfigOf } from "./secret-refs.js";
import { createNatsService } from "./services/nats.js";
import { pinnedKeysOf } from "../trust/pins.js";
import { ConversationThreads } from "./conversation-threads.js";
import { InboundGate, senderName, type ReplySettler } from "./gates/inbound.js";
import { createLostNotifier } from "./lost-notice.js";
import { heartbeatWaker, queueIntoNextTurn } from "./next-turn.js";
import { gateSessionTurn, rewrittenContent, storedText, turnVerdicts } from "./gates/session.js";
import { frameForAgent } from "../trust/frame.js";
import { ASK_PARAMETERS, DELEGATE_PARAMETERS, EXEC_PARAMETERS, instanceAsk, instanceDelegate, instanceExec, instanceSend, instanceStatus, instanceSync, SEND_PARAMETERS, STATUS_PARAMETERS, SYNC_PARAMETERS } from "./tools/index.js";
import { createTaskService } from "./services/tasks.js";
import { createHealthService } from "./services/health.js";
import { CheckBook } from "./control-ui/overview.js";
import { registerInstancesFeature } from "./control-ui/feature.js";
import { registerInterInstanceCli, INTER_INSTANCE_CLI } from "./cli-command.js";
import { AuditLog } from "../audit/audit-log.js";

export { PLUGIN_ID };

// One book for every registry register() runs in: the page may be served by another than the one
// whose health service ran the checks.
const checks = new CheckBook();

/**
 * The OpenClaw plugin: agent tools over the library. `register()` runs more than once (discovery
 * and full mode), so it only registers; the link (connections, outbox) is built on first use.
 */
export default definePluginEntry({
  id: PLUGIN_ID,
  name: "Inter-instance messaging",
  description: "Send messages to OpenClaw instances on other machines, with fallback and a durable outbox.",
  register(api) {
    // `openclaw inter-instance …` runs in the CLI's own process, which loads plugins for their
    // commands only ("cli-metadata"); nothing else is needed there.
    api.registerCli(registerInterInstanceCli(api), { descriptors: [INTER_INSTANCE_CLI] });
    if (api.registrationMode === "cli-metadata") return;
    let link: Promise<Messenger> | undefined;
    const config = () => parseConfig(api.pluginConfig ?? {});
    const outbox = createOutboxService({
      link: () => getLink(),
      retryMs: () => {
        const { outbox: settings, instances } = config();
        return settings.enabled && Object.keys(instances).length > 0 ? settings.retryMs : 0;
      },
      mayHoldState: () => existsSync(outboxPath(config())),
    });
    const resolvedConfig = () => pluginConfigOf(api, (line) => api.logger.warn(line));
    // Inside the Gateway our lines go through its logger (its format, levels and redaction); fixes
    // name the plugin's settings in openclaw.json, not the CLI's config file.
    const buildLink = async (): Promise<Messenger> =>
      createMessenger({
        config: await resolvedConfig(),
        log: { destination: gatewayLogDestination(api.logger) },
        onWaiting: () => outbox.wake(),
        onLost: createLostNotifier(api, () => config().inbox.sessionKey),
        configuredIn: "plugin",
      });
    const getLink = () =>
      (link ??= buildLink().catch((error: unknown) => {
        link = undefined;
        throw error;
      }));
    // One gate for every way a message comes in (the inbound policy, held messages, the audit log).
    const gate = new InboundGate(config, api.logger);
    const warnHeld = (error: unknown) => api.logger.warn(`inter-instance: could not keep or record an inbound message: ${String(error)}`);
    const threads = new ConversationThreads();
    const tasks = createTaskService({ api, link: () => getLink(), mayHoldState: () => existsSync(outboxPath(config())) });
    // A verified message that answers one of our open tasks (replyTo) settles it; its result is
    // brought to the session that delegated it (at once when that is where it came in).
    const settleReply: ReplySettler = async (reply) => {
      const link = await getLink();
      const task = await link.tasks.answerByReply(reply);
      if (!task) return false;
      if (reply.sessionKey !== undefined && reply.sessionKey === task.sessionKey) await link.tasks.markBrought(task);
      else tasks.wake();
      return true;
    };
    api.registerService(createInboxService(api, gate, settleReply));
    api.registerService(outbox);
    api.registerService(tasks);
    api.registerService(createNatsService(api, config, resolvedConfig, gate, settleReply));
    const health = createHealthService({ link: () => getLink(), book: checks, intervalMs: () => config().health.intervalMs });
    api.registerService(health);
    registerInstancesFeature(api, {
      link: () => getLink(),
      book: checks,
      check: (instance) => health.check(instance),
      held: async () => (await gate.held()).list({ pending: true }),
      audit: async () => {
        const log = await AuditLog.open(auditPath(config()));
        try {
          return log.list({ since: new Date(Date.now() - 7 * 86_400_000) });
        } finally {
          log.close();
        }
      },
      decideHeld: async (id, decision) => {
        const result = await (await gate.held()).decide(id, decision);
        if (result.ok) return { ok: true, text: `${decision === "approved" ? "Approved" : "Refused"} ${id} from ${result.message.from}. ${decision === "approved" ? "It goes into the agent's next turn now." : "Its sender's receipt says refused."}` };
        return { ok: false, text: result.reason === "decided" ? `${id} was already ${result.message?.decision}; nothing changed.` : `No held message has the id ${id}.` };
      },
    });
    // A turn prepared with our injection carries it to the model: that is the "seen" receipt.
    // register() may run in several registries; the hook keeps no state of its own and reads the
    // ledger of the workspace the turn runs in.
    // OpenClaw blocks (with a warning) this hook for plugins without conversation access, so it is
    // only registered when the operator granted it; without it, file deliveries stay "surfaced".
    if (seenReceiptsAllowed(api.config)) {
      const replies = createReplyRecorder(resolvedConfig, (line) => api.logger.warn(line));
      api.on("agent_turn_prepare", async (event, ctx) => {
        const ours = event.queuedInjections.flatMap((injection) => {
          const metadata = injection.metadata;
          if (injection.pluginId !== PLUGIN_ID || !metadata || typeof metadata !== "object" || Array.isArray(metadata)) return [];
          if (typeof metadata.envelopeId !== "string") return [];
          const thread = typeof metadata.conversation === "string" && typeof metadata.hop === "number" ? { conversation: metadata.conversation, hop: metadata.hop, peer: String(metadata.from) } : undefined;
          return [{ id: metadata.envelopeId, viaNats: metadata.via === "nats", thread }];
        });
        threads.turnStarted(ctx.sessionKey, ours.flatMap((injection) => (injection.thread ? [injection.thread] : [])));
        const ids = ours.map((injection) => injection.id);
        replies.turnPrepared(ctx.runId, ours.filter((injection) => injection.viaNats).map((injection) => injection.id));
        if (ids.length === 0 || !ctx.workspaceDir) return;
        const ledger = new InboxLedger(ctx.workspaceDir);
        await ledger.load();
        for (const id of ids) await ledger.record(id, "seen");
        api.logger.info(`inter-instance inbox: ${ids.length} message(s) in the prompt of ${ctx.sessionKey ?? "a turn"}`);
      });
      // The answer of a turn that carried fleet messages goes back through the broker (ask over nats).
      api.on("agent_end", (event, ctx) => replies.turnEnded(event.runId ?? ctx.runId, event.messages, event.success));
      // Text that came in as a chat message (sessions_send, agent_cli, a2a) cannot be rewritten by a
      // plugin; the agent is told before it reads the turn which of its inter-instance headers are
      // signed by the key pinned for the sender they name.
      // The decisions are the gate's, per copy (see session-gate.ts); this hook also notes the turn's own text.
      api.on("before_prompt_build", (event, ctx) => {
        const list = turnVerdicts(event.prompt, { sessionKey: ctx.sessionKey ?? config().inbox.sessionKey, runId: ctx.runId }, { gate, pinned: pinnedKeysOf(config()) }, warnHeld);
        return list === undefined ? undefined : { prependContext: list };
      });
      // A chat message that holds messages the policy keeps from the agent is stored with each of
      // them replaced by its receipt line: on sessions.send that stored text is the prompt, and a
      // queued turn's stored text is history the agent would read later.
      api.on("before_message_write", (event, ctx) => {
        if (event.message.role !== "user") return undefined;
        const sessionKey = event.sessionKey ?? ctx.sessionKey ?? config().inbox.sessionKey;
        const pinned = pinnedKeysOf(config());
        // The Gateway key of this chat message (`<key>:user`): the turn hooks know it as their run id.
        const key = (event.message as { idempotencyKey?: unknown }).idempotencyKey;
        const messageKey = typeof key === "string" && key !== "" ? key.replace(/:user$/u, "") : undefined;
        let changed = false;
        const rewrite = (text: string): string => {
          const rewritten = storedText(text, { sessionKey, messageKey }, { gate, pinned }, warnHeld);
          if (rewritten !== text) changed = true;
          return rewritten;
        };
        const content = rewrittenContent(event.message.content, rewrite);
        return changed ? { message: { ...event.message, content } as typeof event.message } : undefined;
      });
      // ...and the inbound policy gets the last word before the model reads them: a turn holding a
      // message it holds or refuses is blocked, and OpenClaw keeps only our receipt line in its place.
      api.on("before_agent_run", (event, ctx) =>
        gateSessionTurn(event.prompt, { sessionKey: ctx.sessionKey, runId: ctx.runId }, {
          gate,
          threads,
          settleReply,
          pinned: pinnedKeysOf(config()),
          requeue: (message, verdict) => {
            const sessionKey = ctx.sessionKey ?? config().inbox.sessionKey;
            const workspace = ctx.workspaceDir ?? api.runtime.agent.resolveAgentWorkspaceDir(api.config, "main");
            const text = frameForAgent(verdict, message.id, message.body, "sent as a chat message").text;
            return queueIntoNextTurn(api, api.logger, { sessionKey, workspace, wake: heartbeatWaker(api, sessionKey) }, { id: message.id, from: senderName(verdict), text, conversation: message.conversation, hop: message.hop });
          },
          requeueFrame: (frame) => {
            const sessionKey = ctx.sessionKey ?? config().inbox.sessionKey;
            const workspace = ctx.workspaceDir ?? api.runtime.agent.resolveAgentWorkspaceDir(api.config, "main");
            return queueIntoNextTurn(api, api.logger, { sessionKey, workspace, wake: heartbeatWaker(api, sessionKey) }, { id: frame.id, from: "a blocked turn", text: frame.text });
          },
        }),
      );
    }
    // A factory, so a send knows its session: one made while handling another instance's message
    // continues that conversation, and the loop budget counts it.
    api.registerTool(
      (toolContext) => ({
        name: "instance_send",
        label: "Message another OpenClaw instance",
        description:
          "Send a message to an agent on another machine's OpenClaw Gateway (by instance name or alias, e.g. 小m). Tries sessions_send, then the fallbacks; returns the delivery report.",
        parameters: SEND_PARAMETERS,
        execute: (_toolCallId: string, params: unknown) => {
          const next = threads.next(toolContext.sessionKey);
          return instanceSend(getLink, params, next && { ...next, withinBudget: (to) => gate.outgoingHop(next.conversation, next.hop, to) });
        },
      }),
      { name: "instance_send" },
    );
    api.registerTool(
      (toolContext) => ({
        name: "instance_delegate",
        label: "Delegate a task to another OpenClaw instance",
        description:
          "Hand a task to an agent on another machine (or to each member of a group) and return at once with its id. Its result comes back into this session later as a new turn, framed \"Result from <instance> for task <id>\"; if none comes by the deadline you are told it expired.",
        parameters: DELEGATE_PARAMETERS,
        execute: async (_toolCallId: string, params: unknown) => {
          const next = threads.next(toolContext.sessionKey);
          const result = await instanceDelegate(getLink, params, toolContext.sessionKey, next);
          tasks.wake();
          return result;
        },
      }),
      { name: "instance_delegate" },
    );
    api.registerTool({
      name: "instance_ask",
      label: "Ask another OpenClaw instance",
      description:
        "Send a question to an agent on another machine's Gateway and wait for its answer (sessions_send, a2a, agent_cli, or nats on a fleet). Returns the answer text and the delivery report.",
      parameters: ASK_PARAMETERS,
      execute: (_toolCallId: string, params: unknown) => instanceAsk(getLink, params),
    });
    api.registerTool({
      name: "instance_status",
      label: "Inter-instance status",
      description: "List the configured OpenClaw instances, their transports and messages waiting in the outbox; with check=true also probe every transport (doctor).",
      parameters: STATUS_PARAMETERS,
      execute: (_toolCallId: string, params: unknown) => instanceStatus(getLink, params, async () => (await gate.held()).list({ pending: true })),
    });
    // Commands and file writes on another machine: optional, so an operator opts in with tools.allow.
    api.registerTool(
      {
        name: "instance_exec",
        label: "Run a command on another instance's machine",
        description:
          "Run a program (argv array, no shell) on another OpenClaw instance's machine through the node host paired there; returns exit code, stdout and stderr. Proxy variables are unset unless keepProxy.",
        parameters: EXEC_PARAMETERS,
        execute: (_toolCallId: string, params: unknown) => instanceExec(getLink, params),
      },
      { optional: true },
    );
    api.registerTool(
      {
        name: "instance_sync",
        label: "Sync to another instance's machine",
        description:
          "Bring a git repository (https URL; cloned or fast-forwarded, optional symlink repointed and checked with readlink) or local files (SHA-256 checked) to another OpenClaw instance's machine.",
        parameters: SYNC_PARAMETERS,
        execute: (_toolCallId: string, params: unknown) => instanceSync(getLink, params),
      },
      { optional: true },
    );
  },
});
