import { setTimeout as delay } from "node:timers/promises";
import { Option, type Command } from "commander";
import type { Messenger } from "../messenger/create.js";
import { reached } from "../core/delivery-status.js";
import { describeGroupReport, describeReport, describeStatus } from "../present/report-text.js";
import { durationOption } from "./duration.js";

export interface CollaborationContext {
  readonly open: () => Promise<Messenger>;
  readonly readBody: (words: readonly string[]) => Promise<string>;
  readonly print: (value: unknown, text: string) => void;
  /** A line of progress on stderr, for a person. */
  readonly progress: (text: string) => void;
  readonly setExitCode: (code: "ok" | "notDelivered") => void;
}

const GOALS = ["accepted", "delivered", "seen", "answered"] as const;
/** How long a one-shot send waits, after acceptance, for the evidence that settles it. */
const DEFAULT_SETTLE_MS = 30_000;
const STILL_FOLLOWED =
  "Not settled in time: the next `openclaw-inter-instance outbox flush` (or the plugin's outbox service, where it shares this outbox) looks again and sends it again if it was lost; `--wait delivered` waits until it is certain.";
type Goal = (typeof GOALS)[number];

/** `send` (to an instance or a group, optionally waiting), `delegate`, `status`. */
export function registerCollaborationCommands(program: Command, context: CollaborationContext): void {
  program
    .command("send")
    .description('deliver a message to an instance or to each member of a group; "-" reads it from stdin')
    .argument("<to>", "instance name or alias (xiaom, 小m), or a group (all, or one from the config's groups)")
    .argument("<message...>", "the text")
    .addOption(new Option("--wait <state>", "wait until it got this far: accepted, delivered, seen, answered").choices(GOALS))
    .addOption(durationOption("-t, --timeout <duration>", "with --wait: how long to wait", 120_000))
    .addOption(durationOption("--settle <duration>", "after the target accepts it, how long to wait for the evidence that it reached its agent (0: return at acceptance)", DEFAULT_SETTLE_MS))
    .action(async (to: string, words: string[], options: { wait?: Goal; timeout: number; settle: number }) => {
      const link = await context.open();
      const body = await context.readBody(words);
      if (link.registry.group(to)) {
        const report = await link.groups.send({ to, body });
        context.print(report, describeGroupReport(report));
        return context.setExitCode(report.ok ? "ok" : "notDelivered");
      }
      // Waiting for delivered (or further) settles it first: a message the target loses is sent again meanwhile.
      const settleMs = options.wait && options.wait !== "accepted" ? options.timeout : options.settle;
      if (settleMs > 0) context.progress(`Sending to ${to}; waiting up to ${Math.round(settleMs / 1000)} s for its agent's session to show it…`);
      const report = await link.send({ to, body }, { settleMs });
      if (!options.wait || (!report.ok && report.status !== "queued")) {
        context.print(report, `${describeReport(report)}${report.status === "accepted" && settleMs > 0 ? ` ${STILL_FOLLOWED}` : ""}`);
        return context.setExitCode(report.ok ? "ok" : "notDelivered");
      }
      context.progress(`${describeReport(report)} Waiting until it is ${options.wait} (up to ${Math.round(options.timeout / 1000)} s)…`);
      const statuses = await link.waitFor(report.id, options.wait, { timeoutMs: options.timeout });
      const done = statuses.length > 0 && statuses.every((status) => reached(status.state, options.wait!) === "yes");
      context.print({ report, statuses }, `${describeStatus(report.id, statuses)}${done ? "" : `\nNot ${options.wait} within ${Math.round(options.timeout / 1000)} s.`}`);
      context.setExitCode(done ? "ok" : "notDelivered");
    });

  program
    .command("delegate")
    .description("hand a task to another instance (or each member of a group) and return at once with its id")
    .argument("<to>", "instance name or alias, or a group")
    .argument("<task...>", 'the task; "-" reads it from stdin')
    .addOption(durationOption("--deadline <duration>", "when it expires unanswered", 3_600_000))
    .option("--into <sessionKey>", "with the plugin on this machine's Gateway: the session the result is brought to (e.g. agent:main:main)")
    .action(async (to: string, words: string[], options: { deadline: number; into?: string }) => {
      const link = await context.open();
      const input = { body: await context.readBody(words), deadline: options.deadline, ...(options.into ? { sessionKey: options.into } : {}) };
      const where = options.into ? `it is brought into ${options.into} by the plugin when it comes` : "see it with";
      if (link.registry.group(to)) {
        const result = await link.groups.delegate({ to, ...input });
        const lines = result.members.map((member) => `- ${member.to}: ${member.report.status}; status ${member.id}`);
        context.print(result, [`Task ${result.id} handed to ${result.members.length} member(s) of ${result.group}; ${where} \`openclaw-inter-instance status <id>\`.`, ...lines].join("\n"));
        return context.setExitCode(result.members.every((member) => member.report.ok || member.report.status === "queued") ? "ok" : "notDelivered");
      }
      const result = await link.delegate({ to, ...input });
      context.print(result, `Task ${result.id} handed to ${result.to} (${result.report.status}); it expires at ${result.deadline}; ${options.into ? `the result is brought into ${options.into} when it comes; ` : ""}see where it stands: openclaw-inter-instance status ${result.id}`);
      context.setExitCode(result.report.ok || result.report.status === "queued" ? "ok" : "notDelivered");
    });

  program
    .command("status")
    .description("where a message or task stands: queued, accepted, delivered, seen, answered, held, refused, expired, lost (with the evidence)")
    .argument("<id>", "the id a send, ask or delegate printed")
    .option("-w, --watch", "look again every 2 s until it is answered or can go no further (Ctrl-C stops)")
    .action(async (id: string, options: { watch?: boolean }) => {
      const link = await context.open();
      await link.tasks.follow().catch(() => []);
      let statuses = await link.track(id);
      let last = "";
      for (;;) {
        const text = describeStatus(id, statuses);
        if (options.watch && text !== last) context.progress(text);
        last = text;
        const settled = statuses.length === 0 || statuses.every((status) => reached(status.state, "answered") !== "not yet");
        if (!options.watch || settled) break;
        await delay(2_000);
        await link.tasks.follow().catch(() => []);
        statuses = await link.track(id);
      }
      const task = await link.tasks.get(id).catch(() => undefined);
      const result = task?.result !== undefined && task.state !== "open" ? `\n${task.state === "answered" ? `Result from ${task.target}` : "Outcome"}:\n${task.result}` : "";
      context.print({ id, statuses, ...(task ? { task } : {}) }, `${describeStatus(id, statuses)}${result}`);
      context.setExitCode(statuses.length > 0 ? "ok" : "notDelivered");
    });
}
