import { resolve } from "node:path";
import { Command } from "commander";
import { type InstanceInput, withInstance } from "../../config/file.js";
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
  readonly node?: string;
  readonly nodeGateway?: string;
  readonly nodeTlsFingerprint?: string;
  readonly nodeTokenEnv?: string;
  readonly nodeWorkspace?: string;
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
    .option(
      "--node <name>",
      "the display name (or 64-hex id) of a node host on its machine that dials out to --node-gateway: messages, exec and sync go through it",
    )
    .option("--node-gateway <url>", "the Gateway that node host is paired to, usually this machine's own, e.g. wss://vps.example.com:18789")
    .option("--node-tls-fingerprint <sha256>", "pin --node-gateway's TLS certificate")
    .option("--node-token-env <NAME>", "environment variable holding --node-gateway's shared token (none: this machine's device token from pairing)")
    .option("--node-workspace <dir>", "the target agent's workspace as a path on the node's machine (for the nodes transport)")
    .action(async (name: string, options: AddOptions) => {
      if (options.url !== undefined && options.discovered !== undefined) throw new BadInput("Give the Gateway by --url or by --discovered, not both.");
      if ((options.node === undefined) !== (options.nodeGateway === undefined)) {
        throw new BadInput("Give a node path with both --node <display name> and --node-gateway <url of the Gateway it is paired to>.");
      }
      if (options.url === undefined && options.discovered === undefined && options.node === undefined) {
        throw new BadInput(
          "Give the Gateway by --url <url>, or by --discovered <display name> as `openclaw-inter-instance discover` lists it, or a node path by --node <name> --node-gateway <url>.",
        );
      }
      const found = options.discovered === undefined ? undefined : await addFromBeacon(context, name, { ...options, discovered: options.discovered });
      const url = found?.url ?? options.url;
      const instance: InstanceInput = {
        ...(url === undefined ? {} : instanceOf({ ...options, url, tlsFingerprint: found ? found.tlsFingerprint : options.tlsFingerprint })),
        ...nodeOf(options),
      };
      await context.updateConfig((config) => withInstance(config, name, instance));
      const reached = [url, options.node === undefined ? undefined : `node ${options.node} on ${options.nodeGateway}`].filter(Boolean).join(", ");
      await checkInstance(context, name, found?.lead ?? `Added ${name} (${reached}).`, {
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

/** The node path: a node host on the target machine paired to a Gateway this side reaches. */
function nodeOf(options: AddOptions): Pick<InstanceInput, "node"> {
  if (options.node === undefined || options.nodeGateway === undefined) return {};
  const gateway = {
    url: options.nodeGateway,
    ...(options.nodeTokenEnv ? { tokenEnv: options.nodeTokenEnv } : {}),
    ...(options.nodeTlsFingerprint ? { tlsFingerprint: options.nodeTlsFingerprint } : {}),
  };
  const who = /^[0-9a-f]{64}$/u.test(options.node) ? { id: options.node } : { name: options.node };
  return { node: { gateway, ...who, ...(options.nodeWorkspace ? { workspace: options.nodeWorkspace } : {}) } };
}
