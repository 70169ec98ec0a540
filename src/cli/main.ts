import { Command } from "commander";
import { CliContext, type CliIo, withOutputOptions } from "./context.js";
import { packageVersion } from "./version.js";

export type { CliIo } from "./context.js";

type CommandFactory = (context: CliContext) => Command;

/**
 * The commands, in the order the help lists them, each loaded when it runs: a one-shot `send` does
 * not pay for the modules of `discover`, `invite` or `log`.
 */
const COMMANDS: readonly (readonly [name: string, load: () => Promise<CommandFactory>])[] = [
  ["send", async () => (await import("./commands/send.js")).sendCommand],
  ["delegate", async () => (await import("./commands/delegate.js")).delegateCommand],
  ["status", async () => (await import("./commands/status.js")).statusCommand],
  ["ask", async () => (await import("./commands/ask.js")).askCommand],
  ["say", async () => (await import("./commands/say.js")).sayCommand],
  ["exec", async () => (await import("./commands/exec.js")).execCommand],
  ["init", async () => (await import("./commands/init.js")).initCommand],
  ["discover", async () => (await import("./commands/discover.js")).discoverCommand],
  ["add", async () => (await import("./commands/add.js")).addCommand],
  ["invite", async () => (await import("./commands/invite.js")).inviteCommand],
  ["pair", async () => (await import("./commands/pair.js")).pairCommand],
  ["pin", async () => (await import("./commands/pin.js")).pinCommand],
  ["keys", async () => (await import("./commands/keys.js")).keysCommand],
  ["list", async () => (await import("./commands/list.js")).listCommand],
  ["remove", async () => (await import("./commands/remove.js")).removeCommand],
  ["inbox", async () => (await import("./commands/inbox.js")).inboxCommand],
  ["sync", async () => (await import("./commands/sync.js")).syncCommand],
  ["doctor", async () => (await import("./commands/doctor.js")).doctorCommand],
  ["outbox", async () => (await import("./commands/outbox.js")).outboxCommand],
  ["log", async () => (await import("./commands/log.js")).logCommand],
  ["metrics", async () => (await import("./commands/metrics.js")).metricsCommand],
];

/** The program's own options that take a value: what follows them is not the command's name. */
const OPTIONS_WITH_VALUE = new Set(["-c", "--config"]);

/**
 * The command this argv runs, when it names one: its first operand, past the program's options.
 * Undefined for help, a typo or no command, which need every command (to list them, or suggest one).
 */
export function commandNamed(argv: readonly string[]): string | undefined {
  for (let index = 0; index < argv.length; index += 1) {
    const arg = argv[index]!;
    if (arg === "--") return undefined;
    if (OPTIONS_WITH_VALUE.has(arg)) {
      index += 1;
      continue;
    }
    if (arg.startsWith("-")) continue;
    return COMMANDS.some(([name]) => name === arg) ? arg : undefined;
  }
  return undefined;
}

/** The factories for this argv: only the command it names, none to print the version, or all of them. */
async function commandsFor(argv: readonly string[]): Promise<CommandFactory[]> {
  const named = commandNamed(argv);
  if (named === undefined && argv.some((arg) => arg === "--version" || arg === "-V") && !argv.some((arg) => arg === "--help" || arg === "-h")) return [];
  return Promise.all(COMMANDS.filter(([name]) => named === undefined || name === named).map(([, load]) => load()));
}

/** Runs the CLI with the given argv (without node and the script); resolves with the exit code. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const context = new CliContext(io);
  const program = new Command(io.name ?? "openclaw-inter-instance")
    .description("Talk to OpenClaw instances on other machines: send, ask, check, and manage the outbox.")
    .version(packageVersion(), "-V, --version", "print the version")
    .exitOverride()
    // Options after a command's name belong to that command, so exec can pass the program's own flags through.
    .enablePositionalOptions()
    .hook("preAction", (_program, command) => context.running(command))
    .configureOutput({ writeOut: (text) => io.stdout(text), writeErr: (text) => io.stderr(text) })
    .showHelpAfterError();
  for (const command of await commandsFor(argv)) program.addCommand(command(context));
  completeTree(program);
  context.running(program);
  try {
    await program.parseAsync(keyOperandsLast(argv), { from: "user" });
    return context.exitCode();
  } catch (error) {
    return context.exitCode({ error });
  } finally {
    await context.close();
  }
}

/**
 * Gives every command the output options and, as `program.command()` would have, the program's
 * settings (output, exit override, positional options, help after an error): `addCommand` takes a
 * command as it was built.
 */
function completeTree(command: Command): void {
  withOutputOptions(command);
  for (const sub of command.commands) {
    sub.copyInheritedSettings(command);
    completeTree(sub);
  }
}

/** An Ed25519 public key in base64url: 43 characters, of which the first may be "-". */
const DASHED_KEY = /^-[A-Za-z0-9_-]{42}$/u;

/**
 * A messaging key is base64url, so one in 64 starts with "-", which the option parser would take for
 * an unknown option (`pin xiaob -rAR…`). Such an operand moves behind `--`, where it is read as an
 * operand; it is the command's last operand, so the order of the others does not change.
 */
export function keyOperandsLast(argv: readonly string[]): string[] {
  if (argv.includes("--")) return [...argv];
  const keys = argv.filter((arg, index) => DASHED_KEY.test(arg) && argv[index - 1] !== "--public-key");
  if (keys.length === 0) return [...argv];
  return [...argv.filter((arg) => !keys.includes(arg)), "--", ...keys];
}
