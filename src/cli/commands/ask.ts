import { Command } from "commander";
import { describeAsk } from "../../present/report-text.js";
import type { CliContext } from "../context.js";
import { durationOption } from "../duration.js";

/** `ask`: send a message and wait for the answer. */
export function askCommand(context: CliContext): Command {
  return new Command("ask")
    .description("send a message and wait for the other agent's answer")
    .argument("<to>", "instance name or alias")
    .argument("<message...>", 'the question; "-" reads it from stdin')
    .addOption(durationOption("-t, --timeout <duration>", "how long to wait for the answer", { defaultMs: 120_000 }))
    .action(async (to: string, words: string[], options: { timeout: number }) => {
      const result = await (await context.open()).ask({ to, body: await context.readBody(words) }, { timeoutMs: options.timeout });
      context.print(result, describeAsk(result));
      context.conclude(result.ok ? "ok" : "notDelivered");
    });
}
