import { isUtf8 } from "node:buffer";
import { resolve } from "node:path";
import { Command, CommanderError, InvalidArgumentError, Option } from "commander";
import { existsSync } from "node:fs";
import { AuditLog, type AuditEntry } from "../audit/audit-log.js";
import { createMessenger, type Messenger } from "../messenger/create.js";
import { auditPath } from "../config/state-paths.js";
import { defaultConfigPath } from "../config/file.js";
import { loadConfigFile } from "../config/parse.js";
import type { Config } from "../config/schema.js";
import type { DeliveryReport } from "../core/dispatcher.js";
import { registerSetupCommands } from "./setup-commands.js";
import { registerInboxCommands } from "./inbox-commands.js";
import { registerCollaborationCommands } from "./collaboration-commands.js";
import { InterInstanceError, UnknownInstanceError, ValidationError } from "../core/errors.js";
import { parsePhrase } from "../phrase/parse.js";
import { act } from "../phrase/act.js";
import { describeAsk, describeChecks, describeExec, describeReport, describeSyncFiles, describeSyncRepo } from "../present/report-text.js";
import { SecretSet } from "../util/redact.js";
import { firstInvalidUtf8Byte } from "./utf8.js";
import { durationOption, parseSince } from "./duration.js";

/** Exit codes: 0 delivered (or the command succeeded), 1 not delivered, 2 bad input (nothing was sent). */
export const EXIT = { ok: 0, notDelivered: 1, badInput: 2 } as const;

interface GlobalOptions {
  readonly config?: string;
  readonly json?: boolean;
  readonly verbose?: boolean;
}

export interface CliIo {
  readonly stdout: (text: string) => void;
  readonly stderr: (text: string) => void;
  readonly env: NodeJS.ProcessEnv;
  /** Standard input as bytes: the CLI checks that it is UTF-8 itself. */
  readonly stdin: () => Promise<Uint8Array>;
  /** A person at a terminal: setup commands may ask questions. */
  readonly interactive?: boolean;
  /** How the command is called, for its help (`openclaw inter-instance` inside OpenClaw). */
  readonly name?: string;
  /** Where the config comes from when no `--config` is given (inside OpenClaw: the plugin's own config). */
  readonly pluginConfig?: () => Promise<Config>;
}

class BadInput extends Error {}

async function readBody(words: readonly string[], io: CliIo): Promise<string> {
  if (words.length === 1 && words[0] === "-") return decodeUtf8(await io.stdin(), "standard input").replace(/\n$/u, "");
  return words.join(" ");
}

/** Decodes UTF-8 or refuses it with the offset of the first byte that is not: nothing is replaced by U+FFFD. */
function decodeUtf8(bytes: Uint8Array, what: string): string {
  if (isUtf8(bytes)) return new TextDecoder().decode(bytes);
  const offset = firstInvalidUtf8Byte(bytes);
  throw new BadInput(`${what} is not valid UTF-8: byte ${offset} (0x${bytes[offset]?.toString(16).padStart(2, "0") ?? "end"}) starts no valid character; convert it first, e.g. with iconv -t UTF-8`);
}

function describeAuditEntry(entry: AuditEntry): string {
  const arrow = entry.direction === "out" ? "sent" : "shown";
  return `${entry.at}  ${arrow}  ${entry.from} → ${entry.to}  id ${entry.id}  via ${entry.transport}  ${entry.status}  ${entry.verdict}  ${entry.bytes} bytes`;
}

/** Runs the CLI with the given argv (without node and the script); resolves with the exit code. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<number> {
  let messenger: Messenger | undefined;
  const secrets = new SecretSet();
  let exitCode: number = EXIT.ok;
  // The command being run: its options include the output options, given before or after its name.
  let active: Command | undefined;
  const globals = (): GlobalOptions => (active ?? program).optsWithGlobals<GlobalOptions>();
  const print = (value: unknown, text: string) => io.stdout(`${secrets.scrub(globals().json ? JSON.stringify(value, null, 2) : text)}\n`);
  const loadConfig = (): Promise<Config> => {
    const path = globals().config;
    return path === undefined && io.pluginConfig ? io.pluginConfig() : loadConfigFile(path ?? defaultConfigPath(io.env));
  };
  const open = async (): Promise<Messenger> => {
    const options = globals();
    const config = await loadConfig();
    // A person reads the report's sentences; the JSON log is for --verbose (every attempt) and --json (warnings).
    // Without --config inside OpenClaw the instances are the plugin's: fixes name its settings.
    const configuredIn = options.config === undefined && io.pluginConfig ? "plugin" : "file";
    messenger = createMessenger({ config, env: io.env, configuredIn, log: { level: options.verbose ? "debug" : options.json ? "warn" : "silent" } });
    for (const secret of messenger.registry.secrets()) secrets.add(secret);
    return messenger;
  };

  const program = new Command(io.name ?? "openclaw-inter-instance")
    .description("Talk to OpenClaw instances on other machines: send, ask, check, and manage the outbox.")
    .exitOverride()
    // Options after a command's name belong to that command, so exec can pass the program's own flags through.
    .enablePositionalOptions()
    .hook("preAction", (_program, command) => {
      active = command;
    })
    .configureOutput({ writeOut: (text) => io.stdout(text), writeErr: (text) => io.stderr(text) })
    .showHelpAfterError();

  registerCollaborationCommands(program, {
    open,
    readBody: (words) => readBody(words, io),
    print,
    progress: (text) => io.stderr(`${secrets.scrub(text)}\n`),
    setExitCode: (code) => {
      exitCode = EXIT[code];
    },
  });

  program
    .command("ask")
    .description("send a message and wait for the other agent's answer")
    .argument("<to>", "instance name or alias")
    .argument("<message...>", 'the question; "-" reads it from stdin')
    .addOption(durationOption("-t, --timeout <duration>", "how long to wait for the answer", 120_000))
    .action(async (to: string, words: string[], options: { timeout: number }) => {
      const result = await (await open()).ask({ to, body: await readBody(words, io) }, { timeoutMs: options.timeout });
      print(result, describeAsk(result));
      exitCode = result.ok ? EXIT.ok : EXIT.notDelivered;
    });

  program
    .command("say")
    .description('act on a phrase, e.g. "给小m发消息：部署完成" or "tell xiaom: deploy done"')
    .argument("<phrase...>", "the phrase")
    .action(async (words: string[]) => {
      const link = await open();
      const intent = parsePhrase(words.join(" "), link.registry);
      if (intent.action === "unknown") {
        throw new BadInput(`${intent.reason}${intent.suggestions?.length ? `; did you mean ${intent.suggestions.join(", ")}?` : ""}`);
      }
      const result = await act(link, intent);
      print({ intent, ...result }, result.text);
      exitCode = result.ok ? EXIT.ok : EXIT.notDelivered;
    });

  program
    .command("exec")
    .description("run a program on the instance's machine through its paired node (argv, no shell; proxy variables unset)")
    .argument("<to>", "instance name or alias")
    .argument("<argv...>", "the program and its arguments, passed as written (exec's own options go before <to>)")
    .option("--cwd <dir>", "absolute working directory there")
    .addOption(durationOption("-t, --timeout <duration>", "kill it after this long (default: the instance's nodes timeout, 30 s)"))
    // One variable per flag, repeatable: a variadic option would swallow the instance name and the program.
    .option("-e, --env <NAME=value>", "an environment variable for the program (repeatable: -e A=1 -e B=2)", collectEnv)
    .option("--keep-proxy", "keep the node host's HTTP(S)_PROXY / ALL_PROXY")
    .passThroughOptions()
    .action(async (to: string, words: string[], options: { cwd?: string; timeout?: number; env?: Record<string, string>; keepProxy?: boolean }) => {
      const argvWords = programArgv(words);
      const env = options.env ?? {};
      const result = await (await open()).exec({
        to,
        argv: argvWords,
        ...(options.cwd ? { cwd: options.cwd } : {}),
        ...(options.timeout ? { timeoutMs: options.timeout } : {}),
        ...(options.env ? { env } : {}),
        keepProxy: options.keepProxy === true,
      });
      print(result, describeExec(result));
      exitCode = result.ok ? EXIT.ok : EXIT.notDelivered;
    });

  registerSetupCommands(program, {
    env: io.env,
    interactive: io.interactive === true,
    configPath: () => globals().config ?? defaultConfigPath(io.env),
    open,
    print,
    progress: (text) => io.stderr(`${secrets.scrub(text)}\n`),
    setExitCode: (code) => {
      exitCode = EXIT[code];
    },
  });

  registerInboxCommands(program, {
    env: io.env,
    config: loadConfig,
    print,
    fail: (value, text) => {
      print(value, text);
      exitCode = EXIT.badInput;
    },
  });

  const sync = program.command("sync").description("bring a git checkout or files to the instance's machine");
  sync
    .command("repo")
    .description("check a commit out over HTTPS into <dir>/<commit> there; --link repoints a symlink (ln -sfn), checked with readlink, put back on failure")
    .argument("<to>", "instance name or alias")
    .argument("<url>", "the repository's https:// URL")
    .argument("<dir>", "absolute path there under which each commit gets its own checkout")
    .option("--ref <branch>", "branch or tag")
    .option("--link <path>", "symlink to point at the checkout")
    .option("--expect <file...>", "files that must exist in the checkout before the link moves")
    .action(async (to: string, repo: string, dir: string, options: { ref?: string; link?: string; expect?: string[] }) => {
      const result = await (await open()).sync.repo({ to, repo, dir, ...(options.ref ? { ref: options.ref } : {}), ...(options.link ? { link: options.link } : {}), ...(options.expect ? { expect: options.expect } : {}) });
      print(result, describeSyncRepo(result));
      exitCode = result.ok ? EXIT.ok : EXIT.notDelivered;
    });
  sync
    .command("files")
    .description("copy a local file there through the node (file.write, SHA-256 checked)")
    .argument("<to>", "instance name or alias")
    .argument("<local>", "local file")
    .argument("<remote>", "absolute path there")
    .action(async (to: string, local: string, remote: string) => {
      const result = await (await open()).sync.files({ to, files: [{ from: resolve(local), to: remote }] });
      print(result, describeSyncFiles(result));
    });

  program
    .command("doctor")
    .description("check every transport of each instance (or one) without sending anything")
    .argument("[instance]", "only this instance")
    .action(async (target: string | undefined) => {
      const link = await open();
      const report = await link.doctor(target ? { instance: target } : {});
      const names = new Set(report.checks.map((check) => check.instance));
      const unseen = (await link.outbox.unseen()).filter((r) => names.has(r.target));
      const lines = [...names].flatMap((name) => [`${name}:`, ...describeChecks(report.checks.filter((check) => check.instance === name))]);
      for (const r of unseen) lines.push(`  unseen: ${r.id} written to ${r.target}'s memory file, ${r.state}${r.receiver === "passive" ? " (passive: no plugin there)" : ""}`);
      print({ ...report, unseen }, lines.join("\n"));
      exitCode = report.ok ? EXIT.ok : EXIT.notDelivered;
    });

  const outbox = program.command("outbox").description("the messages waiting because no transport could deliver them");
  outbox
    .command("list")
    .description("list waiting messages, oldest first")
    .action(async () => {
      const queued = await (await open()).outbox.list();
      print(queued, queued.length === 0 ? "The outbox is empty." : queued.map((q) => `${q.queuedAt}  ${q.target}  ${q.envelope.id}  tries=${q.attempts}  ${q.lastError ?? ""}`).join("\n"));
    });
  outbox
    .command("flush")
    .description("follow up what targets accepted and retry waiting messages now, in order per target")
    .addOption(durationOption("--settle <duration>", "then wait this long for the evidence that what was accepted reached its agent (0: do not wait)", 30_000))
    .action(async (options: { settle: number }) => {
      const link = await open();
      const flushed = await link.outbox.flush({ all: true });
      // Everything accepted and not yet seen run, also what an earlier process left (killed, or never settled).
      const settled = options.settle > 0 ? await link.outbox.settleAll({ timeoutMs: options.settle }) : [];
      const key = (report: DeliveryReport) => `${report.id} ${report.to}`;
      const settledByKey = new Map(settled.map((report) => [key(report), report]));
      const flushedKeys = new Set(flushed.map(key));
      const reports = [...flushed.map((report) => settledByKey.get(key(report)) ?? report), ...settled.filter((report) => !flushedKeys.has(key(report)))];
      print(reports, reports.length === 0 ? "Nothing to flush." : reports.map(describeReport).join("\n"));
      exitCode = reports.every((r) => r.ok) ? EXIT.ok : EXIT.notDelivered;
    });

  const fleetOf = (link: Messenger) => {
    if (!link.fleet) throw new BadInput("No NATS fleet is configured: dead letters exist only on a fleet (nats in the config).");
    return link.fleet;
  };
  outbox
    .command("dead")
    .description("messages the fleet's consumer gave up on (NATS dead letters), oldest first")
    .argument("[instance]", "whose dead letters (default: this instance's)")
    .action(async (instance: string | undefined) => {
      const letters = await fleetOf(await open()).deadLetters(instance);
      print(letters, letters.length === 0 ? "No dead letters." : letters.map((l) => `${l.seq}  ${l.at}  ${l.envelope ? `${l.envelope.id} from ${l.envelope.from}` : "(not an envelope)"}  ${l.reason}`).join("\n"));
    });
  outbox
    .command("replay")
    .description("send a dead letter to its instance again (by its number from `outbox dead`)")
    .argument("<seq>", "the dead letter's number")
    .argument("[instance]", "whose dead letter (default: this instance's)")
    .action(async (seq: string, instance: string | undefined) => {
      if (!/^\d+$/u.test(seq)) throw new BadInput(`"${seq}" is not a dead letter's number; \`outbox dead\` lists them.`);
      const envelope = await fleetOf(await open()).replay(Number(seq), instance);
      print({ replayed: Number(seq), id: envelope.id, to: envelope.to }, `Sent ${envelope.id} to ${envelope.to} again.`);
    });

  program
    .command("log")
    .description("every message sent from here or shown to this instance's agent: when, who, id, how, the verdict and the size")
    .addOption(new Option("--since <when>", "an ISO time, or how long ago: 30m, 2h, 7d").argParser((value) => parseSince(value)))
    .action(async (options: { since?: Date }) => {
      const config = await loadConfig();
      const since = options.since;
      const path = auditPath(config, io.env);
      if (!existsSync(path)) return print([], `No messages are logged yet (${path} does not exist).`);
      const log = await AuditLog.open(path);
      try {
        const entries = log.list(since ? { since } : {});
        print(entries, entries.length === 0 ? `No messages logged${since ? ` since ${since.toISOString()}` : ""}.` : entries.map(describeAuditEntry).join("\n"));
      } finally {
        log.close();
      }
    });

  const everyCommand = (command: Command): Command[] => [command, ...command.commands.flatMap(everyCommand)];
  for (const command of everyCommand(program)) withOutputOptions(command);

  try {
    await program.parseAsync(keyOperandsLast(argv), { from: "user" });
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT.ok : EXIT.badInput;
    const bad = error instanceof ValidationError || error instanceof UnknownInstanceError || error instanceof BadInput;
    const hint = error instanceof InterInstanceError && error.hint ? `\n${error.hint}` : "";
    const message = error instanceof Error ? error.message : String(error);
    if (globals().json) {
      io.stdout(`${secrets.scrub(JSON.stringify({ ok: false, error: { code: error instanceof InterInstanceError ? error.code : bad ? "INVALID_INPUT" : "ERROR", message, hint: hint.trim() || undefined } }, null, 2))}\n`);
    }
    io.stderr(`${secrets.scrub(`error: ${message}${hint}`)}\n`);
    return bad ? EXIT.badInput : EXIT.notDelivered;
  } finally {
    await messenger?.close();
  }
}

/** The output options, accepted before the command's name and after it. */
function withOutputOptions(command: Command): void {
  command
    .option("-c, --config <path>", "instance registry (JSON); default $OPENCLAW_INTER_INSTANCE_CONFIG or ~/.openclaw/inter-instance.json")
    .option("--json", "print machine-readable JSON")
    .option("-v, --verbose", "log every attempt to stderr");
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
    throw new BadInput(`"${argv[0]}" is where the program's name goes. Put exec's options before the instance name (exec --cwd /srv xiaom ls), or -- before a program whose name starts with "-".`);
  }
  return argv;
}

/** `-e NAME=value`, once per variable: collected into one object. */
function collectEnv(pair: string, previous: Readonly<Record<string, string>> = {}): Record<string, string> {
  const at = pair.indexOf("=");
  if (at <= 0) throw new InvalidArgumentError(`--env takes NAME=value, not "${pair}"; give one variable per flag: -e A=1 -e B=2.`);
  return { ...previous, [pair.slice(0, at)]: pair.slice(at + 1) };
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
