import type { OpenClawPluginApi } from "openclaw/plugin-sdk/plugin-entry";
import { pluginCliConfig } from "./cli-config.js";

type CliRegistrar = Parameters<OpenClawPluginApi["registerCli"]>[0];

/** The root command this plugin adds to `openclaw` (also listed in the manifest's `cliCommands`). */
export const INTER_INSTANCE_CLI = {
  name: "inter-instance",
  description: "Talk to OpenClaw instances on other machines: send, ask, status, doctor, inbox (the openclaw-inter-instance CLI)",
  hasSubcommands: true,
} as const;

/**
 * `openclaw inter-instance <command> …`: every argument goes to this package's own CLI, which reads
 * the plugin's config from the Gateway's openclaw.json (SecretRefs resolved) unless `--config` names
 * a file, and writes what `pair`, `add`, `pin` and `remove` change back there. It runs in the
 * `openclaw` process and needs no running Gateway for itself.
 */
export function registerInterInstanceCli(api: OpenClawPluginApi): CliRegistrar {
  return ({ program }) => {
    program
      .command(INTER_INSTANCE_CLI.name)
      .description(INTER_INSTANCE_CLI.description)
      .argument("[args...]", "the command and its arguments, as openclaw-inter-instance takes them")
      .allowUnknownOption()
      .allowExcessArguments()
      .helpOption(false)
      .passThroughOptions()
      .action(async (args: string[]) => {
        const [{ runCli }, { processIo }] = await Promise.all([import("../cli/main.js"), import("../cli/process-io.js")]);
        const config = pluginCliConfig(api, (line) => process.stderr.write(`${line}\n`));
        process.exitCode = await runCli(
          args,
          processIo({ name: `openclaw ${INTER_INSTANCE_CLI.name}`, pluginConfig: () => config.read(), updatePluginConfig: (change) => config.update(change) }),
        );
      });
  };
}
