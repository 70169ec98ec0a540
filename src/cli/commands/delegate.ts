import { Command } from "commander";
import type { CliContext } from "../context.js";
import { durationOption } from "../duration.js";

/** `delegate`: hand a task to an instance or a group and return with its id. */
export function delegateCommand(context: CliContext): Command {
  return new Command("delegate")
    .description("hand a task to another instance (or each member of a group) and return at once with its id")
    .argument("<to>", "instance name or alias, or a group")
    .argument("<task...>", 'the task; "-" reads it from stdin')
    .addOption(durationOption("--deadline <duration>", "when it expires unanswered", { defaultMs: 3_600_000 }))
    .option("--into <sessionKey>", "with the plugin on this machine's Gateway: the session the result is brought to (e.g. agent:main:main)")
    .action(async (to: string, words: string[], options: { deadline: number; into?: string }) => {
      const link = await context.open();
      const input = { body: await context.readBody(words), deadline: options.deadline, ...(options.into ? { sessionKey: options.into } : {}) };
      const where = options.into ? `it is brought into ${options.into} by the plugin when it comes` : "see it with";
      if (link.registry.group(to)) {
        const result = await link.groups.delegate({ to, ...input });
        const lines = result.members.map((member) => `- ${member.to}: ${member.report.status}; status ${member.id}`);
        context.print(
          result,
          [
            `Task ${result.id} handed to ${result.members.length} member(s) of ${result.group}; ${where} \`openclaw-inter-instance status <id>\`.`,
            ...lines,
          ].join("\n"),
        );
        return context.conclude(result.members.every((member) => member.report.ok || member.report.status === "queued") ? "ok" : "notDelivered");
      }
      const result = await link.delegate({ to, ...input });
      context.print(
        result,
        `Task ${result.id} handed to ${result.to} (${result.report.status}); it expires at ${result.deadline}; ${options.into ? `the result is brought into ${options.into} when it comes; ` : ""}see where it stands: openclaw-inter-instance status ${result.id}`,
      );
      context.conclude(result.report.ok || result.report.status === "queued" ? "ok" : "notDelivered");
    });
}
