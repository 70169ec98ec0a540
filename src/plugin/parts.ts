import { existsSync } from "node:fs";
import type { OpenClawPluginApi } from "openclaw/plugin-sdk/plugin-entry";
import { parseConfig } from "../config/parse.js";
import type { Config } from "../config/schema.js";
import { outboxPath } from "../config/state-paths.js";
import { createMessenger, type Messenger } from "../messenger/create.js";
import { taskPlumbing } from "../messenger/internals.js";
import { LinkMetrics } from "../metrics/link-metrics.js";
import { processShared } from "../util/process-shared.js";
import { CheckBook } from "./control-ui/overview.js";
import { ConversationThreads } from "./conversation-threads.js";
import { InboundGate, type ReplySettler } from "./gates/inbound.js";
import { gatewayLogDestination } from "./gateway-log.js";
import { createLostNotifier } from "./lost-notice.js";
import { pluginConfigOf } from "./secret-refs.js";
import { createHealthService, type HealthService } from "./services/health.js";
import { createOutboxService, type OutboxService } from "./services/outbox.js";
import { createTaskService, type TaskService } from "./services/tasks.js";

// One book for every registry register() runs in: the page may be served by another than the one
// whose health service ran the checks.
const checks = new CheckBook();
// The same for the numbers, across module copies too: the metrics route may be served by another
// registry than the one whose link sent or whose gate decided.
const metrics = processShared("metrics", () => new LinkMetrics());

/** What the plugin's services, hooks, tools and page share: built once per register(). */
export interface PluginParts {
  readonly api: OpenClawPluginApi;
  /** The plugin's config as given (SecretRefs unresolved), for its settings. */
  readonly config: () => Config;
  /** With the SecretRefs resolved by the Gateway, for what connects. */
  readonly resolvedConfig: () => Promise<Config>;
  /** The link (connections, outbox): built on first use, built again after a failed build. */
  readonly link: () => Promise<Messenger>;
  /** One gate for every way a message comes in (the inbound policy, held messages, the audit log). */
  readonly gate: InboundGate;
  readonly warnHeld: (error: unknown) => void;
  readonly threads: ConversationThreads;
  readonly settleReply: ReplySettler;
  readonly outbox: OutboxService;
  readonly tasks: TaskService;
  readonly health: HealthService;
  readonly checks: CheckBook;
  /** What the link sends and the gate decides, counted for the metrics route. */
  readonly metrics: LinkMetrics;
}

/** The link, built on first use: `register()` runs more than once (discovery and full mode), so it only registers. */
function lazyLink(api: OpenClawPluginApi, config: () => Config, resolvedConfig: () => Promise<Config>, outbox: () => OutboxService): () => Promise<Messenger> {
  let link: Promise<Messenger> | undefined;
  // Inside the Gateway our lines go through its logger (its format, levels and redaction); fixes
  // name the plugin's settings in openclaw.json, not the CLI's config file.
  const build = async (): Promise<Messenger> =>
    createMessenger({
      config: await resolvedConfig(),
      log: { destination: gatewayLogDestination(api.logger) },
      onWaiting: () => outbox().wake(),
      onLost: createLostNotifier(api, () => config().inbox.sessionKey),
      configuredIn: "plugin",
      metrics,
    });
  return () =>
    (link ??= build().catch((error: unknown) => {
      link = undefined;
      throw error;
    }));
}

export function createPluginParts(api: OpenClawPluginApi): PluginParts {
  const config = () => parseConfig(api.pluginConfig ?? {});
  const resolvedConfig = () => pluginConfigOf(api, (line) => api.logger.warn(line));
  const mayHoldState = () => existsSync(outboxPath(config()));
  const link = lazyLink(api, config, resolvedConfig, () => outbox);
  const outbox = createOutboxService({
    link,
    retryMs: () => {
      const { outbox: settings, instances } = config();
      return settings.enabled && Object.keys(instances).length > 0 ? settings.retryMs : 0;
    },
    mayHoldState,
  });
  const tasks = createTaskService({ api, link, mayHoldState });
  // A verified message that answers one of our open tasks (replyTo) settles it; its result is
  // brought to the session that delegated it (at once when that is where it came in).
  const settleReply: ReplySettler = async (reply) => {
    const messenger = await link();
    const task = await taskPlumbing(messenger).answerByReply(reply);
    if (!task) return false;
    if (reply.sessionKey !== undefined && reply.sessionKey === task.sessionKey) await taskPlumbing(messenger).markBrought(task);
    else tasks.wake();
    return true;
  };
  const gate = new InboundGate(config, api.logger);
  gate.countIn(metrics);
  return {
    api,
    config,
    resolvedConfig,
    link,
    gate,
    warnHeld: (error) => api.logger.warn(`inter-instance: could not keep or record an inbound message: ${String(error)}`),
    threads: new ConversationThreads(),
    settleReply,
    outbox,
    tasks,
    health: createHealthService({ link, book: checks, intervalMs: () => config().health.intervalMs }),
    checks,
    metrics,
  };
}
