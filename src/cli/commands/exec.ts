import { Command, InvalidArgumentError } from "commander";
import { describeExec } from "../../present/report-text.js";
import type { CliContext } from "../context.js";
import { durationOption } from "../duration.js";
import { BadInput } from "../exit.js";

interface ExecOptions {
  readonly cwd?: string;
  readonly timeout?: number;
  readonly env?: Record<string, string>;
  readonly keepProxy?: boolean;
}

/** `exec`: run a program on the instance's machine through its paired node. */
export function execCommand(context: CliContext): Command {
  return (
    new Command("exec")
      .description("run a program on the instance's machine through its paired node (argv, no shell; proxy variables unset)")
      .argument("<to>", "instance name or alias")
      .argument("<argv...>", "the program and its arguments, passed as written (exec's own options go before <to>)")
      .option("--cwd <dir>", "absolute working directory there")
      .addOption(durationOption("-t, --timeout <duration>", "kill it after this long (default: the instance's nodes timeout, 30 s)"))
      // One variable per flag, repeatable: a variadic option would swallow the instance name and the program.
      .option("-e, --env <NAME=value>", "an environment variable for the program (repeatable: -e A=1 -e B=2)", collectEnv)
      .option("--keep-proxy", "keep the node host's HTTP(S)_PROXY / ALL_PROXY")
      .passThroughOptions()
      .action(async (to: string, words: string[], options: ExecOptions) => {
        const argv = programArgv(words);
        const result = await (await context.open()).exec({
          to,
          argv,
          ...(options.cwd ? { cwd: options.cwd } : {}),
          ...(options.timeout ? { timeoutMs: options.timeout } : {}),
          ...(options.env ? { env: options.env } : {}),
          keepProxy: options.keepProxy === true,
        });
        context.print(result, describeExec(result));
        context.conclude(result.ok ? "ok" : "notDelivered");
      })
  );
}

/**
 * The argv of `exec` as the user wrote it after the instance name. One `--` right after the name is
 * dropped (the old way to protect leading dashes); a first word that looks like an option was meant
 * for exec itself, which would otherwise run it as the program.
 */
function programArgv(words: readonly string[]): string[] {
  const argv = words[0] === "--" ? words.slice(1) : [...words];
  if (argv.length === 0) throw new BadInput("exec needs a program to run after the instance name, e.g. exec xiaom uname -a");
  if (words[0] !== "--" && argv[0]!.startsWith("-")) {
    throw new BadInput(
      `"${argv[0]}" is where the program's name goes. Put exec's options before the instance name (exec --cwd /srv xiaom ls), or -- before a program whose name starts with "-".`,
    );
  }
  return argv;
}

/** `-e NAME=value`, once per variable: collected into one object. */
function collectEnv(pair: string, previous: Readonly<Record<string, string>> = {}): Record<string, string> {
  const at = pair.indexOf("=");
  if (at <= 0) throw new InvalidArgumentError(`--env takes NAME=value, not "${pair}"; give one variable per flag: -e A=1 -e B=2.`);
  return { ...previous, [pair.slice(0, at)]: pair.slice(at + 1) };
}
