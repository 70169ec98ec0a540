import { Command } from "commander";
import { withoutInstance } from "../../config/file.js";
import type { CliContext } from "../context.js";

/** `remove`: an instance from the config (its device token stays). */
export function removeCommand(context: CliContext): Command {
  return new Command("remove")
    .description("remove an instance from the config")
    .argument("<name>", "its name")
    .action(async (name: string) => {
      await context.updateConfig((config) => withoutInstance(config, name));
      context.print(
        { removed: name },
        `Removed ${name}. Its device token stays with this machine's identity; revoke the device on that Gateway with \`openclaw devices list\` / \`openclaw devices remove\` if it should go too.`,
      );
    });
}
