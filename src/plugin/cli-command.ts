import type { OpenClawPluginApi } from "openclaw/plugin-sdk/plugin-entry";
import { parseConfig } from "../config/parse.js";
import { resolvePluginSecretRefs } from "./secret-refs.js";

type CliRegistrar = Parameters<OpenClawPluginApi["registerCli"]>[0];

/** The root command this plugin adds to `openclaw` (also listed in the manifest's `cliCommands`). */
export const INTER_INSTANCE_CLI = {
  name: "inter-instance",
  description: "Talk to OpenClaw instances on other machines: send, ask, status, doctor, inbox (the openclaw-inter-instance CLI)",
  hasSubcommands: true,
} as const;

async function readStdin(): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

/**
 * `openclaw inter-instance <command> …`: every argument goes to this package's own CLI, which reads
 * the plugin's config from the Gateway's openclaw.json (SecretRefs resolved) unless `--config` names
 * a file. It runs in the `openclaw` process and needs no running Gateway for itself.
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
        const { runCli } = await import("../cli/main.js");
        process.exitCode = await runCli(args, {
          name: `openclaw ${INTER_INSTANCE_CLI.name}`,
          stdout: (text) => process.stdout.write(text),
          stderr: (text) => process.stderr.write(text),
          env: process.env,
          stdin: readStdin,
          interactive: process.stdin.isTTY === true && process.stderr.isTTY === true,
          pluginConfig: async () => {
            const resolved = await resolvePluginSecretRefs(api.pluginConfig ?? {}, api.config, process.env);
            for (const { path, reason } of resolved.unresolved) process.stderr.write(`inter-instance: ${path} did not resolve: ${reason}\n`);
            return parseConfig(resolved.config);
          },
        });
      });
  };
}
