import type { Command } from "commander";
import { defaultConfigPath, updateConfigFile } from "../config/file.js";
import type { Config, ConfigInput } from "../config/schema.js";
import { createMessenger, type Messenger } from "../messenger/create.js";
import { SecretSet } from "../util/redact.js";
import { exitCode, type Outcome } from "./exit.js";
import { decodeUtf8 } from "./utf8.js";
import { loadConfigFileValidated } from "./validated-config.js";

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
  /** Inside OpenClaw: applies a change to the plugin's config in openclaw.json; returns where it went. */
  readonly updatePluginConfig?: (change: (config: ConfigInput) => ConfigInput) => Promise<string>;
}

interface GlobalOptions {
  readonly config?: string;
  readonly json?: boolean;
  readonly verbose?: boolean;
}

/** The output options, accepted before the command's name and after it. */
export function withOutputOptions(command: Command): void {
  command
    .option("-c, --config <path>", "instance registry (JSON); default $OPENCLAW_INTER_INSTANCE_CONFIG or ~/.openclaw/inter-instance.json")
    .option("--json", "print machine-readable JSON")
    .option("-v, --verbose", "log every attempt to stderr");
}

/**
 * After a change to the plugin's entry: OpenClaw hot-reloads the plugin, and on a busy machine that
 * reload can give up (its cleanup budget is 5 s), leaving the plugin's tools unavailable until reloaded.
 */
export const PLUGIN_RELOAD_HINT =
  'The Gateway reloads the plugin with this change, without a restart. If the agent\'s inter-instance tools then answer "Tool not available" (a busy Gateway can give up that reload), run `openclaw plugins reload inter-instance`.';

/**
 * What every command needs from the run around it: the config and a messenger, its input, its
 * output (sentences, or JSON with --json, with every secret the messenger knows scrubbed) and how
 * it came out.
 */
export class CliContext {
  readonly #io: CliIo;
  readonly #secrets = new SecretSet();
  #messenger: Messenger | undefined;
  /** The command being run: its options include the output options, given before or after its name. */
  #command: Command | undefined;
  #outcome: Outcome = "ok";

  constructor(io: CliIo) {
    this.#io = io;
  }

  get env(): NodeJS.ProcessEnv {
    return this.#io.env;
  }

  /** True when a person sits at a terminal: only then are questions asked. */
  get interactive(): boolean {
    return this.#io.interactive === true;
  }

  get json(): boolean {
    return this.#globals().json === true;
  }

  running(command: Command): void {
    this.#command = command;
  }

  print(value: unknown, text: string): void {
    this.#io.stdout(`${this.#secrets.scrub(this.json ? JSON.stringify(value, null, 2) : text)}\n`);
  }

  /** A line on stderr for a person: progress, or the error that ended the run. */
  progress(text: string): void {
    this.#io.stderr(`${this.#secrets.scrub(text)}\n`);
  }

  /** How the command came out; a command that never says so succeeded. */
  conclude(outcome: Outcome): void {
    this.#outcome = outcome;
  }

  /** The run's exit code, from its outcome or from the error it threw. */
  exitCode(thrown?: { readonly error: unknown }): number {
    return exitCode(this.#outcome, thrown, this);
  }

  /** The config file `--config` names, or the default one. */
  configPath(): string {
    return this.#globals().config ?? defaultConfigPath(this.#io.env);
  }

  /** The config: the file `--config` names, else inside OpenClaw the plugin's, else the default file. */
  loadConfig(): Promise<Config> {
    const path = this.#globals().config;
    return path === undefined && this.#io.pluginConfig
      ? this.#io.pluginConfig()
      : loadConfigFileValidated(path ?? defaultConfigPath(this.#io.env), this.#io.env);
  }

  /**
   * Applies `change` to the config and writes it: the file `--config` names, else inside OpenClaw the
   * plugin's entry in openclaw.json, else the default file. Returns where it went.
   */
  async updateConfig(change: (config: ConfigInput) => ConfigInput): Promise<string> {
    const path = this.#globals().config;
    if (path === undefined && this.#io.updatePluginConfig) {
      const where = await this.#io.updatePluginConfig(change);
      if (!this.json) this.progress(PLUGIN_RELOAD_HINT);
      return where;
    }
    const file = path ?? defaultConfigPath(this.#io.env);
    await updateConfigFile(file, change);
    return file;
  }

  async open(): Promise<Messenger> {
    const options = this.#globals();
    const config = await this.loadConfig();
    // A person reads the report's sentences; the JSON log is for --verbose (every attempt) and --json (warnings).
    // Without --config inside OpenClaw the instances are the plugin's: fixes name its settings.
    const configuredIn = options.config === undefined && this.#io.pluginConfig ? "plugin" : "file";
    this.#messenger = createMessenger({
      config,
      env: this.#io.env,
      configuredIn,
      log: { level: options.verbose ? "debug" : options.json ? "warn" : "silent" },
    });
    for (const secret of this.#messenger.registry.secrets()) this.#secrets.add(secret);
    return this.#messenger;
  }

  /** A message given as words, or read from stdin when it is the one word "-". */
  async readBody(words: readonly string[]): Promise<string> {
    if (words.length === 1 && words[0] === "-") return decodeUtf8(await this.#io.stdin(), "standard input").replace(/\n$/u, "");
    return words.join(" ");
  }

  async close(): Promise<void> {
    await this.#messenger?.close();
  }

  #globals(): GlobalOptions {
    return this.#command?.optsWithGlobals<GlobalOptions>() ?? {};
  }
}
