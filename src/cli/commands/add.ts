import { resolve } from "node:path";
import { Command } from "commander";
import { type InstanceInput, updateConfigFile, withInstance } from "../../config/file.js";
import type { CliContext } from "../context.js";
import { checkInstance, collect } from "./new-instance.js";

interface AddOptions {
  readonly url: string;
  readonly tokenEnv?: string;
  readonly tokenFile?: string;
  readonly tlsFingerprint?: string;
  readonly alias?: string[];
  readonly workspace?: string;
  readonly publicKey?: string;
}

/** `add`: an instance reached at a Gateway URL, written to the config and then checked. */
export function addCommand(context: CliContext): Command {
  return new Command("add")
    .description("add (or update) an instance reached at a Gateway URL, then check it")
    .argument("<name>", "its name here, e.g. xiaom")
    .requiredOption("--url <url>", "its Gateway, e.g. wss://mac-mini.tail1234.ts.net or ws://192.168.1.20:18789")
    .option("--token-env <NAME>", "environment variable holding its shared Gateway token (none: the device token from pairing)")
    .option("--token-file <path>", "file holding only its shared Gateway token (mode 600)")
    .option("--tls-fingerprint <sha256>", "pin its TLS certificate (wss://)")
    .option("--alias <alias>", "another name for it, e.g. 小m (repeatable)", collect)
    .option("--workspace <dir>", "its agent's workspace as a path this machine can write (memory_file)")
    .option("--public-key <key>", "its messaging key (`openclaw-inter-instance keys` there): what it sends is verified against it")
    .action(async (name: string, options: AddOptions) => {
      const instance = instanceOf(options);
      await updateConfigFile(context.configPath(), (config) => withInstance(config, name, instance));
      await checkInstance(context, name, `Added ${name} (${options.url}).`, { added: name });
    });
}

function instanceOf(options: AddOptions): InstanceInput {
  return {
    gateway: {
      url: options.url,
      ...(options.tokenEnv ? { tokenEnv: options.tokenEnv } : {}),
      ...(options.tokenFile ? { tokenFile: resolve(options.tokenFile) } : {}),
      ...(options.tlsFingerprint ? { tlsFingerprint: options.tlsFingerprint } : {}),
    },
    ...(options.alias ? { aliases: options.alias } : {}),
    ...(options.workspace ? { workspace: options.workspace } : {}),
    ...(options.publicKey ? { publicKey: options.publicKey } : {}),
  };
}
