import { Command } from "commander";
import { addCommand } from "./commands/add.js";
import { askCommand } from "./commands/ask.js";
import { delegateCommand } from "./commands/delegate.js";
import { discoverCommand } from "./commands/discover.js";
import { doctorCommand } from "./commands/doctor.js";
import { execCommand } from "./commands/exec.js";
import { inboxCommand } from "./commands/inbox.js";
import { initCommand } from "./commands/init.js";
import { inviteCommand } from "./commands/invite.js";
import { keysCommand } from "./commands/keys.js";
import { listCommand } from "./commands/list.js";
import { logCommand } from "./commands/log.js";
import { metricsCommand } from "./commands/metrics.js";
import { outboxCommand } from "./commands/outbox.js";
import { pairCommand } from "./commands/pair.js";
import { pinCommand } from "./commands/pin.js";
import { removeCommand } from "./commands/remove.js";
import { sayCommand } from "./commands/say.js";
import { sendCommand } from "./commands/send.js";
import { statusCommand } from "./commands/status.js";
import { syncCommand } from "./commands/sync.js";
import { CliContext, type CliIo, withOutputOptions } from "./context.js";

export type { CliIo } from "./context.js";

/** The commands, in the order the help lists them. */
const COMMANDS: readonly ((context: CliContext) => Command)[] = [
  sendCommand,
  delegateCommand,
  statusCommand,
  askCommand,
  sayCommand,
  execCommand,
  initCommand,
  discoverCommand,
  addCommand,
  inviteCommand,
  pairCommand,
  pinCommand,
  keysCommand,
  listCommand,
  removeCommand,
  inboxCommand,
  syncCommand,
  doctorCommand,
  outboxCommand,
  logCommand,
  metricsCommand,
];

/** Runs the CLI with the given argv (without node and the script); resolves with the exit code. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  const context = new CliContext(io);
  const program = new Command(io.name ?? "openclaw-inter-instance")
    .description("Talk to OpenClaw instances on other machines: send, ask, check, and manage the outbox.")
    .exitOverride()
    // Options after a command's name belong to that command, so exec can pass the program's own flags through.
    .enablePositionalOptions()
    .hook("preAction", (_program, command) => context.running(command))
    .configureOutput({ writeOut: (text) => io.stdout(text), writeErr: (text) => io.stderr(text) })
    .showHelpAfterError();
  for (const command of COMMANDS) program.addCommand(command(context));
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
