import { createInterface } from "node:readline/promises";
import { resolve } from "node:path";
import { Option, type Command } from "commander";
import { initConfigFile, suggestedSelfName, updateConfigFile, withInstance, withoutInstance, type InstanceInput } from "../config/file.js";
import { loadConfigFile } from "../config/parse.js";
import type { Messenger } from "../messenger/create.js";
import { DeviceIdentityStore, defaultStateDir } from "../gateway/device-identity.js";
import { decodeSetupCode, pairWithSetupCode } from "../gateway/pairing.js";
import { describeChecks } from "../present/report-text.js";
import { MessagingKeyStore } from "../trust/messaging-key.js";
import { fingerprintOf } from "../trust/signature.js";
import { durationOption } from "./duration.js";

/** What the setup commands need from the CLI around them. */
export interface SetupContext {
  readonly env: NodeJS.ProcessEnv;
  /** True when a person sits at a terminal: only then are questions asked. */
  readonly interactive: boolean;
  readonly configPath: () => string;
  readonly open: () => Promise<Messenger>;
  readonly print: (value: unknown, text: string) => void;
  /** A line of progress on stderr, for a person. */
  readonly progress: (text: string) => void;
  readonly setExitCode: (code: "ok" | "notDelivered") => void;
}

async function ask(question: string, fallback: string): Promise<string> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return (await rl.question(`${question} [${fallback}] `)).trim() || fallback;
  } finally {
    rl.close();
  }
}

/** Runs the target's doctor after a change, so the person sees at once whether it can be reached. */
async function checkInstance(context: SetupContext, name: string, lead: string, value: Record<string, unknown>): Promise<void> {
  const report = await (await context.open()).doctor({ instance: name });
  const failing = report.checks.filter((check) => check.status === "fail").length;
  const tail = report.ok
    ? `${name} passes every check.`
    : failing > 0
      ? `${failing} check${failing === 1 ? "" : "s"} failed; fix ${failing === 1 ? "it" : "them"}, then run \`openclaw-inter-instance doctor ${name}\`.`
      : `No transport reaches ${name} yet (see the skipped ones above); configure one, then run \`openclaw-inter-instance doctor ${name}\`.`;
  context.print({ ...value, doctor: report }, [lead, ...describeChecks(report.checks), tail].join("\n"));
  // Saved, but not usable as it is: a script must not take that for success.
  context.setExitCode(report.ok ? "ok" : "notDelivered");
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

/** `init`, `add`, `pair`, `keys`, `list`, `remove`: making and changing the config without writing JSON by hand. */
export function registerSetupCommands(program: Command, context: SetupContext): void {
  program
    .command("init")
    .description("write a new config file naming this instance (asks on a terminal; --name otherwise)")
    .option("--name <name>", "how this instance names itself to the others, e.g. xiaoa")
    .option("--force", "replace an existing config file")
    .action(async (options: { name?: string; force?: boolean }) => {
      const name = options.name ?? (context.interactive ? await ask("Name of this instance?", suggestedSelfName()) : suggestedSelfName());
      const path = context.configPath();
      await initConfigFile(path, name, options.force ? { force: true } : {});
      context.print({ path, self: { name } }, `Wrote ${path} for "${name}". Next: \`openclaw-inter-instance pair <name> <setup-code>\` or \`add <name> --url …\`.`);
    });

  program
    .command("add")
    .description("add (or update) an instance reached at a Gateway URL, then check it")
    .argument("<name>", "its name here, e.g. xiaom")
    .requiredOption("--url <url>", "its Gateway, e.g. wss://mac-mini.tail1234.ts.net or ws://192.168.1.20:18789")
    .option("--token-env <NAME>", "environment variable holding its shared Gateway token (none: the device token from pairing)")
    .option("--token-file <path>", "file holding only its shared Gateway token (mode 600)")
    .option("--tls-fingerprint <sha256>", "pin its TLS certificate (wss://)")
    .option("--alias <alias>", "another name for it, e.g. 小m (repeatable)", collect)
    .option("--workspace <dir>", "its agent's workspace as a path this machine can write (memory_file)")
    .option("--public-key <key>", "its messaging key (`openclaw-inter-instance keys` there): what it sends is verified against it")
    .action(async (name: string, options: { url: string; tokenEnv?: string; tokenFile?: string; tlsFingerprint?: string; alias?: string[]; workspace?: string; publicKey?: string }) => {
      const instance: InstanceInput = {
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
      await updateConfigFile(context.configPath(), (config) => withInstance(config, name, instance));
      await checkInstance(context, name, `Added ${name} (${options.url}).`, { added: name });
    });

  program
    .command("pair")
    .description("pair with another instance's Gateway from its setup code (`openclaw qr --setup-code-only --limited` there), then add it")
    .argument("<name>", "its name here, e.g. xiaom")
    .argument("<setup-code>", "the code (or oc-pair:// link)")
    .option("--tls-fingerprint <sha256>", "pin its TLS certificate when the code carries no pin")
    .option("--alias <alias>", "another name for it (repeatable)", collect)
    .addOption(durationOption("--timeout <duration>", "stop waiting for the approval after this long (default: until the code expires)"))
    .option("--public-key <key>", "its messaging key (`openclaw-inter-instance keys` there), to pin with the pairing")
    .action(async (name: string, code: string, options: { tlsFingerprint?: string; alias?: string[]; timeout?: number; publicKey?: string }) => {
      const path = context.configPath();
      const config = await loadConfigFile(path);
      const setupCode = decodeSetupCode(code);
      const identity = new DeviceIdentityStore(config.stateDir ?? defaultStateDir(context.env));
      context.progress(`Connecting to ${setupCode.url} with the setup code${setupCode.expiresAt ? ` (valid until ${setupCode.expiresAt.toISOString()})` : ""}…`);
      const paired = await pairWithSetupCode({
        setupCode,
        identity,
        tlsFingerprint: options.tlsFingerprint,
        env: context.env,
        ...(options.timeout ? { timeoutMs: options.timeout } : {}),
        onPending: ({ requestId, approveCommand }) =>
          context.progress(`Waiting for approval${requestId ? ` of request ${requestId}` : ""}. On that machine run: ${approveCommand}`),
      });
      const instance: InstanceInput = {
        gateway: { url: paired.url, ...(paired.tlsFingerprint ? { tlsFingerprint: paired.tlsFingerprint } : {}) },
        ...(options.alias ? { aliases: options.alias } : {}),
        ...(options.publicKey ? { publicKey: options.publicKey } : {}),
      };
      await updateConfigFile(path, (current) => withInstance(current, name, instance));
      await checkInstance(context, name, `Paired with ${name} (${paired.url}) as device ${paired.deviceId.slice(0, 12)}…; scopes: ${paired.scopes.join(", ") || "none"}. No shared token is stored.`, {
        paired: { name, url: paired.url, scopes: paired.scopes, deviceId: paired.deviceId },
      });
    });

  program
    .command("pin")
    .description("pin another instance's messaging key (and optionally what to do with its messages): messages it signs are shown verified")
    .argument("<name>", "its name here (an instance reached only by file or through a fleet needs no URL)")
    .argument("<public-key>", "the 43 characters `openclaw-inter-instance keys` shows on that machine")
    .addOption(new Option("--inbound <policy>", "its verified messages: allow (default), hold for you, or refuse").choices(["allow", "hold", "refuse"]))
    .action(async (name: string, publicKey: string, options: { inbound?: "allow" | "hold" | "refuse" }) => {
      await updateConfigFile(context.configPath(), (config) => withInstance(config, name, { publicKey, ...(options.inbound ? { inbound: options.inbound } : {}) }));
      context.print({ pinned: name, fingerprint: fingerprintOf(publicKey), ...(options.inbound ? { inbound: options.inbound } : {}) }, `Pinned ${name}'s key ${fingerprintOf(publicKey)}${options.inbound ? ` (its messages: ${options.inbound})` : ""}. Compare the fingerprint with \`openclaw-inter-instance keys\` on ${name}'s machine.`);
    });

  program
    .command("keys")
    .description("this instance's messaging key: the public key and fingerprint other instances pin")
    .option("--rotate", "make a new key, announced by a statement the old key signs")
    .action(async (options: { rotate?: boolean }) => {
      const config = await loadConfigFile(context.configPath());
      const store = new MessagingKeyStore(config.stateDir ?? defaultStateDir(context.env));
      const rotation = options.rotate ? store.rotate() : undefined;
      const key = store.key();
      const shown = { publicKey: key.publicKey, fingerprint: key.fingerprint, createdAt: key.createdAt, path: store.path, rotations: store.rotations() };
      const lead = rotation
        ? `Rotated. The new key is signed by the old one; peers that pinned the old key can follow the rotation in ${store.path}.`
        : `The messaging key of ${config.self.name}. Other instances pin this public key to verify what it sends.`;
      context.print(shown, [lead, `public key:  ${key.publicKey}`, `fingerprint: ${key.fingerprint}`, `created:     ${key.createdAt}`].join("\n"));
    });

  program
    .command("list")
    .description("the configured instances and how each is reached")
    .action(async () => {
      const link = await context.open();
      const instances = link.registry.list().map((instance) => ({
        name: instance.name,
        aliases: instance.aliases,
        gateway: instance.gateway && { url: instance.gateway.url, credential: instance.gateway.credential, pinned: instance.gateway.tlsFingerprint !== undefined },
        node: instance.node?.name ?? instance.node?.id,
        workspace: instance.workspace,
        transports: instance.transports,
      }));
      const lines = instances.map(
        (i) =>
          `${i.name}${i.aliases.length ? ` (${i.aliases.join(", ")})` : ""}: ${i.gateway ? `${i.gateway.url}, ${i.gateway.credential === "device" ? "device token" : "shared token"}${i.gateway.pinned ? ", pinned" : ""}` : "no gateway"}; transports ${i.transports.join(" > ")}`,
      );
      // A fleet's presence registry names the instances reachable by nats, configured here or not.
      const fleet = link.fleet && (await link.fleet.members().catch((error: unknown) => (error instanceof Error ? error.message : String(error))));
      if (typeof fleet === "string") lines.push(`fleet ${link.fleet!.name}: cannot be read (${fleet})`);
      else if (fleet) lines.push(`fleet ${link.fleet!.name}: ${fleet.length === 0 ? "nobody present" : fleet.map((m) => `${m.name} (seen ${m.lastSeen}${m.publicKey ? `, key ${fingerprintOf(m.publicKey)}` : ""})`).join(", ")}`);
      context.print(
        { instances, ...(fleet !== undefined ? { fleet } : {}) },
        lines.length ? lines.join("\n") : "No instances yet: add one with `openclaw-inter-instance pair` or `add`.",
      );
    });

  program
    .command("remove")
    .description("remove an instance from the config")
    .argument("<name>", "its name")
    .action(async (name: string) => {
      await updateConfigFile(context.configPath(), (config) => withoutInstance(config, name));
      context.print({ removed: name }, `Removed ${name}. Its device token stays with this machine's identity; revoke the device on that Gateway with \`openclaw devices list\` / \`openclaw devices remove\` if it should go too.`);
    });
}


