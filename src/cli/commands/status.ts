import { setTimeout as delay } from "node:timers/promises";
import { Command } from "commander";
import { reached } from "../../core/delivery-status.js";
import { describeStatus } from "../../present/report-text.js";
import type { CliContext } from "../context.js";

/** `status`: where a message or task stands, once or (--watch) until it can go no further. */
export function statusCommand(context: CliContext): Command {
  return new Command("status")
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
      const result =
        task?.result !== undefined && task.state !== "open" ? `\n${task.state === "answered" ? `Result from ${task.target}` : "Outcome"}:\n${task.result}` : "";
      context.print({ id, statuses, ...(task ? { task } : {}) }, `${describeStatus(id, statuses)}${result}`);
      context.conclude(statuses.length > 0 ? "ok" : "notDelivered");
    });
}
