import { createInterface } from "node:readline/promises";
import { Command } from "commander";
import { initConfigFile, suggestedSelfName } from "../../config/file.js";
import type { CliContext } from "../context.js";

async function ask(question: string, fallback: string): Promise<string> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return (await rl.question(`${question} [${fallback}] `)).trim() || fallback;
  } finally {
    rl.close();
  }
}

/** `init`: a new config file naming this instance. */
export function initCommand(context: CliContext): Command {
  return new Command("init")
    .description("write a new config file naming this instance (asks on a terminal; --name otherwise)")
    .option("--name <name>", "how this instance names itself to the others, e.g. xiaoa")
    .option("--force", "replace an existing config file")
    .action(async (options: { name?: string; force?: boolean }) => {
      const name = options.name ?? (context.interactive ? await ask("Name of this instance?", suggestedSelfName()) : suggestedSelfName());
      const path = context.configPath();
      await initConfigFile(path, name, options.force ? { force: true } : {});
      context.print(
        { path, self: { name } },
        `Wrote ${path} for "${name}". Next: \`openclaw-inter-instance invite\` here for another machine to pair with, or \`pair <invite>\` with the invite another machine printed.`,
      );
    });
}
