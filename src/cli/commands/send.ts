import { Command, Option } from "commander";
import { reached } from "../../core/delivery-status.js";
import { ValidationError } from "../../core/errors.js";
import { describeGroupReport, describeReport, describeStatus } from "../../present/report-text.js";
import type { CliContext } from "../context.js";
import { durationOption } from "../duration.js";

const GOALS = ["accepted", "delivered", "seen", "answered"] as const;
type Goal = (typeof GOALS)[number];
/** How long a one-shot send waits, after acceptance, for the evidence that settles it. */
const DEFAULT_SETTLE_MS = 30_000;
const STILL_FOLLOWED =
  "Not settled in time: the next `openclaw-inter-instance outbox flush` (or the plugin's outbox service, where it shares this outbox) looks again and sends it again if it was lost; `--wait delivered` waits until it is certain.";

/** `send`: to an instance or a group, optionally waiting until it got this far. */
export function sendCommand(context: CliContext): Command {
  return new Command("send")
    .description('deliver a message to an instance or to each member of a group; "-" reads it from stdin')
    .argument("<to>", "instance name or alias (xiaom, 小m), or a group (all, or one from the config's groups)")
    .argument("<message...>", "the text")
    .addOption(
      new Option("--file <path>", "a file to carry with the message (repeat for more); the receiver gets it with its checked SHA-256").argParser(
        (path: string, earlier: string[] | undefined) => [...(earlier ?? []), path],
      ),
    )
    .addOption(new Option("--wait <state>", "wait until it got this far: accepted, delivered, seen, answered").choices(GOALS))
    .addOption(durationOption("-t, --timeout <duration>", "with --wait: how long to wait", { defaultMs: 120_000 }))
    .addOption(
      durationOption(
        "--settle <duration>",
        "after the target accepts it, how long to wait for the evidence that it reached its agent (0: return at acceptance)",
        { defaultMs: DEFAULT_SETTLE_MS, zeroAllowed: true },
      ),
    )
    .action(async (to: string, words: string[], options: { wait?: Goal; timeout: number; settle: number; file?: string[] }) => {
      const link = await context.open();
      const body = await context.readBody(words);
      const files = (options.file ?? []).map((path) => ({ path }));
      if (link.registry.group(to)) {
        if (files.length > 0)
          throw new ValidationError(
            "Invalid message: files: --file sends to one instance at a time, not to a group",
            [{ path: "files", message: "not for a group" }],
            {
              hint: `Send the files to each member of ${to} by name.`,
            },
          );
        const report = await link.groups.send({ to, body });
        context.print(report, describeGroupReport(report));
        return context.conclude(report.ok ? "ok" : "notDelivered");
      }
      // Waiting for delivered (or further) settles it first: a message the target loses is sent again meanwhile.
      const settleMs = options.wait && options.wait !== "accepted" ? options.timeout : options.settle;
      if (settleMs > 0) context.progress(`Sending to ${to}; waiting up to ${Math.round(settleMs / 1000)} s for its agent's session to show it…`);
      const report = await link.send({ to, body, ...(files.length > 0 ? { files } : {}) }, { settleMs });
      if (!options.wait || (!report.ok && report.status !== "queued")) {
        context.print(report, `${describeReport(report)}${report.status === "accepted" && settleMs > 0 ? ` ${STILL_FOLLOWED}` : ""}`);
        return context.conclude(report.ok ? "ok" : "notDelivered");
      }
      context.progress(`${describeReport(report)} Waiting until it is ${options.wait} (up to ${Math.round(options.timeout / 1000)} s)…`);
      const statuses = await link.waitFor(report.id, options.wait, { timeoutMs: options.timeout });
      const done = statuses.length > 0 && statuses.every((status) => reached(status.state, options.wait!) === "yes");
      context.print(
        { report, statuses },
        `${describeStatus(report.id, statuses)}${done ? "" : `\nNot ${options.wait} within ${Math.round(options.timeout / 1000)} s.`}`,
      );
      context.conclude(done ? "ok" : "notDelivered");
    });
}
