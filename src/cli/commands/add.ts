import { resolve } from "node:path";
import { Command } from "commander";
import { type InstanceInput, updateConfigFile, withInstance } from "../../config/file.js";
import type { CliContext } from "../context.js";
import { durationOption } from "../duration.js";
import { BadInput } from "../exit.js";
import { addFromBeacon } from "./add-discovered.js";
import { checkInstance, collect } from "./new-instance.js";

interface AddOptions {
  readonly url?: string;
  readonly discovered?: string;
  readonly timeout?: number;
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
    .option("--url <url>", "its Gateway, e.g. wss://mac-mini.tail1234.ts.net or ws://192.168.1.20:18789")
    .option("--discovered <display-name>", "its Gateway as its beacon on this LAN announces it (see `discover`); its fingerprint is shown for you to confirm")
    .addOption(durationOption("--timeout <duration>", "with --discovered: how long to listen for the beacon (default 3s)"))
    .option("--token-env <NAME>", "environment variable holding its shared Gateway token (none: the device token from pairing)")
    .option("--token-file <path>", "file holding only its shared Gateway token (mode 600)")
    .option("--tls-fingerprint <sha256>", "pin its TLS certificate (wss://)")
    .option("--alias <alias>", "another name for it, e.g. 小m (repeatable)", collect)
    .option("--workspace <dir>", "its agent's workspace as a path this machine can write (memory_file)")
    .option("--public-key <key>", "its messaging key (`openclaw-inter-instance keys` there): what it sends is verified against it")
    .action(async (name: string, options: AddOptions) => {
      if (options.url !== undefined && options.discovered !== undefined) throw new BadInput("Give the Gateway by --url or by --discovered, not both.");
      if (options.url === undefined && options.discovered === undefined) {
        throw new BadInput("Give the Gateway by --url <url>, or by --discovered <display name> as `openclaw-inter-instance discover` lists it.");
      }
      const found = options.discovered === undefined ? undefined : await addFromBeacon(context, name, { ...options, discovered: options.discovered });
      const instance = instanceOf(found ? { ...options, url: found.url, tlsFingerprint: found.tlsFingerprint } : { ...options, url: options.url! });
      await updateConfigFile(context.configPath(), (config) => withInstance(config, name, instance));
      await checkInstance(context, name, found?.lead ?? `Added ${name} (${options.url}).`, {
        added: name,
        ...(found ? { discovered: { displayName: found.gateway.displayName, url: found.url, pinned: found.tlsFingerprint !== undefined } } : {}),
      });
    });
}

function instanceOf(
  options: Omit<AddOptions, "url" | "tlsFingerprint"> & { readonly url: string; readonly tlsFingerprint?: string | undefined },
): InstanceInput {
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
