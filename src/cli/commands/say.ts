import { Command } from "commander";
import { act } from "../../phrase/act.js";
import { parsePhrase } from "../../phrase/parse.js";
import type { CliContext } from "../context.js";
import { BadInput } from "../exit.js";

/** `say`: act on a phrase in Chinese or English. */
export function sayCommand(context: CliContext): Command {
  return new Command("say")
    .description('act on a phrase, e.g. "给小m发消息：部署完成" or "tell xiaom: deploy done"')
    .argument("<phrase...>", "the phrase")
    .action(async (words: string[]) => {
      const link = await context.open();
      const intent = parsePhrase(words.join(" "), link.registry);
      if (intent.action === "unknown") {
        throw new BadInput(`${intent.reason}${intent.suggestions?.length ? `; did you mean ${intent.suggestions.join(", ")}?` : ""}`);
      }
      const result = await act(link, intent);
      context.print({ intent, ...result }, result.text);
      context.conclude(result.ok ? "ok" : "notDelivered");
    });
}
