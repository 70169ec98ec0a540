import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Instance } from "../../config/registry.js";
import { cannotCarryFiles } from "../../core/attachments/carrying.js";
import type { Envelope } from "../../core/envelope.js";
import { TransientError, TransportTimeoutError, UnavailableError } from "../../core/errors.js";
import {
  APPLIES,
  type Applicability,
  type Confirmation,
  type DeliveryContext,
  type FollowUp,
  notApplicable,
  type Receipt,
  type Transport,
} from "../../core/transport.js";
import type { GatewayPool } from "../../gateway/connection.js";
import { readTranscript } from "../../gateway/transcript.js";
import { deadlineSignal } from "../../util/deadline.js";
import { chatMessageRefusal, confirmInSession, formatSessionMessage, turnOutcome } from "../shared/session-message.js";
import { locateOpenclaw, type OpenclawCommand } from "./locate-openclaw.js";

/** `openclaw agent --message-file` reads at most this much. */
export const AGENT_CLI_MAX_MESSAGE_BYTES = 4 * 1024 * 1024;
/** After SIGTERM the CLI aborts the remote run; give it this long before SIGKILL. */
const KILL_GRACE_MS = 3_000;
/** The look into the target session before a run gets at most this long (reading 100 rows of a busy session, bodies up to 1 MiB, takes seconds on a loaded Gateway). */
const LOOK_FIRST_MS = 20_000;

export interface AgentCliOptions {
  readonly pool: GatewayPool;
  /** `openclawCli.bin` from the config. */
  readonly bin?: string | undefined;
  /** The CLI's own state dir (device identity, no channels: starts fastest). */
  readonly stateDir: string;
  readonly env?: NodeJS.ProcessEnv;
}

interface AgentCliOutput {
  readonly ok?: boolean;
  readonly runId?: string;
  /** `gateway` on a failure after the Gateway had accepted the run (`runId` is then its id). */
  readonly origin?: string;
  readonly status?: string;
  readonly error?: { readonly message?: string };
  readonly result?: { readonly payloads?: readonly { readonly text?: string | null; readonly isError?: boolean }[] };
}

function parseOutput(stdout: string): AgentCliOutput | undefined {
  const start = stdout.indexOf("{");
  if (start < 0) return undefined;
  try {
    return JSON.parse(stdout.slice(start)) as AgentCliOutput;
  } catch {
    return undefined;
  }
}

function classifyCliError(message: string, instance: Instance): Error {
  const fix = (hint: string, code: string) => new UnavailableError(`openclaw agent failed: ${message.split("\n")[0]}`, { code, hint });
  if (/unauthori[sz]ed|token mismatch/iu.test(message)) return fix(`Check the token for ${instance.name} (${instance.gateway?.tokenSource}).`, "AUTH_FAILED");
  if (/pairing required|not paired/iu.test(message)) {
    return fix(`Approve this CLI's device on ${instance.name}: run "openclaw devices approve --latest" there.`, "PAIRING_REQUIRED");
  }
  if (/not reachable|ECONNREFUSED|ENOTFOUND|EHOSTUNREACH/iu.test(message))
    return fix(`Is the Gateway of ${instance.name} running at ${instance.gateway?.url}?`, "UNREACHABLE");
  return fix("Run the same command by hand with --json to see the Gateway's answer.", "CLI_FAILED");
}

/**
 * Runs one agent turn on the target through `openclaw agent`: the body goes through
 * `--message-file` (never through argv or a shell), the URL and token through the environment
 * (never argv, where `ps` shows them). Slow (a CLI start plus a whole turn) but needs nothing on
 * the target beyond its Gateway.
 *
 * `openclaw agent` takes no idempotency key (2026.9.6: no flag, no variable; each run makes a
 * random one), so the Gateway cannot tell a second run of the same envelope from a new message.
 * Before each run the transport looks for the envelope's header line in the target session and
 * does not run again when it is there; a failure after the Gateway had accepted the run is looked
 * up the same way instead of being reported as not sent.
 */
export class AgentCliTransport implements Transport {
  readonly id = "agent_cli";
  readonly #options: AgentCliOptions;
  #command: Promise<OpenclawCommand | undefined> | undefined;
  /** Envelopes this transport ran the CLI for without a clear outcome: a retry must find out first. */
  readonly #unsettled = new Set<string>();

  constructor(options: AgentCliOptions) {
    this.#options = options;
  }

  applies(instance: Instance, envelope: Envelope): Applicability {
    const files = cannotCarryFiles(envelope, "the openclaw CLI's agent command sends text only");
    if (files) return files;
    if (!instance.gateway) return notApplicable("no gateway.url is configured for this instance");
    if (instance.gateway.credential === "device")
      return notApplicable("the openclaw CLI needs the target's shared token; a paired device reaches it by sessions_send");
    if (!instance.gateway.token) return notApplicable(`no token: ${instance.gateway.tokenSource} is not set`);
    const refusal = chatMessageRefusal(envelope);
    if (refusal) return notApplicable(refusal);
    const bytes = Buffer.byteLength(formatSessionMessage(envelope), "utf8");
    if (bytes > AGENT_CLI_MAX_MESSAGE_BYTES) return notApplicable(`the message is ${bytes} bytes; --message-file takes at most ${AGENT_CLI_MAX_MESSAGE_BYTES}`);
    return APPLIES;
  }

  /** The CLI this transport would run, or undefined when none is installed. */
  locate(): Promise<OpenclawCommand | undefined> {
    return (this.#command ??= locateOpenclaw(this.#options.bin, this.#options.env));
  }

  async deliver(envelope: Envelope, context: DeliveryContext): Promise<Receipt> {
    const { instance, signal } = context;
    const command = await this.locate();
    if (!command) {
      throw new UnavailableError("The openclaw CLI was not found.", {
        code: "BINARY_MISSING",
        hint: "Install it (npm install -g openclaw) or set openclawCli.bin in the config to its path.",
      });
    }
    const earlier = await this.#lookFirst(envelope, context);
    if (earlier) return earlier;
    this.#unsettled.add(envelope.id);
    const dir = await mkdtemp(join(tmpdir(), "openclaw-inter-instance-"));
    try {
      const messageFile = join(dir, "message.txt");
      await writeFile(messageFile, formatSessionMessage(envelope), { mode: 0o600 });
      const timeoutSeconds = Math.max(1, Math.ceil(instance.timeouts.agent_cli / 1000));
      const args = [
        ...command.prefix,
        "agent",
        "--session-key",
        instance.sessionKey,
        "--message-file",
        messageFile,
        "--json",
        "--timeout",
        String(timeoutSeconds),
      ];
      const { execa } = await import("execa");
      const result = await execa(command.file, args, {
        env: this.#environment(instance),
        extendEnv: false,
        cancelSignal: signal,
        forceKillAfterDelay: KILL_GRACE_MS,
        reject: false,
        stdin: "ignore",
        maxBuffer: 64 * 1024 * 1024,
      });
      if (result.isCanceled)
        throw signal.reason instanceof Error ? signal.reason : new TransportTimeoutError("openclaw agent was cancelled.", { code: "CANCELLED" });
      if (result.failed && result.exitCode === undefined) {
        this.#unsettled.delete(envelope.id);
        throw new UnavailableError(`openclaw agent could not run: ${result.shortMessage}`, {
          code: "SPAWN_FAILED",
          hint: `Check ${command.file} (found via ${command.source}).`,
        });
      }
      const output = parseOutput(result.stdout);
      if (output?.status === "timeout") {
        throw new TransportTimeoutError(`The agent turn on ${instance.name} ran past ${timeoutSeconds} s and was aborted there.`, {
          code: "RUN_TIMEOUT",
          hint: `Raise timeouts.agent_cli for ${instance.name}; the seed measured 60–120 s per turn.`,
        });
      }
      if (result.exitCode !== 0 || !output || output.ok === false) {
        const message = output?.error?.message ?? (result.stderr || result.stdout || `exit code ${result.exitCode}`);
        if (output?.origin === "gateway" && output.runId) return await this.#afterAcceptedFailure(envelope, context, output.runId, message);
        throw classifyCliError(message, instance);
      }
      this.#unsettled.delete(envelope.id);
      const reply = (output.result?.payloads ?? []).map((payload) => payload.text ?? "").join("\n");
      return { status: "delivered", detail: { runId: output.runId ?? "", sessionKey: instance.sessionKey, reply } };
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }

  /**
   * Whether the target session already has this envelope (an earlier run, from this process or
   * another sender of the instance, whose outcome the sender did not see): then it is not run
   * again. Unread only costs a retry when this transport ran it before without a clear outcome.
   */
  async #lookFirst(envelope: Envelope, context: DeliveryContext): Promise<Receipt | undefined> {
    const signal = deadlineSignal(LOOK_FIRST_MS, context.signal);
    let found: Confirmation;
    try {
      found = await confirmInSession(this.#options.pool.forInstance(context.instance), context.instance.sessionKey, envelope.id, signal);
    } catch (error) {
      context.signal.throwIfAborted();
      if (!this.#unsettled.has(envelope.id)) {
        context.logger.debug(
          { envelopeId: envelope.id, err: error instanceof Error ? error.message : String(error) },
          "agent_cli: cannot look into the target session first; running",
        );
        return undefined;
      }
      throw new TransientError(
        `Cannot tell whether the earlier openclaw agent run of ${envelope.id} reached ${context.instance.name}; not running it again blind.`,
        {
          code: "UNCONFIRMED",
          cause: error,
          hint: `openclaw agent takes no idempotency key, so only ${context.instance.sessionKey}'s transcript can tell; this sender must be able to read it (chat.history).`,
        },
      );
    }
    // Not there, or held but never to run (interrupted, cancelled): run it.
    if (!found.landed) return undefined;
    this.#unsettled.delete(envelope.id);
    context.logger.info({ envelopeId: envelope.id, status: found.receipt.status }, "agent_cli: already in the target session; not run again");
    return { status: found.receipt.status, detail: { ...found.receipt.detail, sentBefore: true } };
  }

  /**
   * The CLI failed after the Gateway had accepted the run (it lost the connection, or its wait
   * ended): the Gateway may still run it, so it is not "not sent". Found in the session: that
   * receipt. Otherwise the run is the Gateway's: accepted, followed up by the transcript.
   */
  async #afterAcceptedFailure(envelope: Envelope, context: DeliveryContext, runId: string, message: string): Promise<Receipt> {
    const { instance } = context;
    const found = await confirmInSession(this.#options.pool.forInstance(instance), instance.sessionKey, envelope.id, context.signal).catch(() => undefined);
    context.logger.warn(
      { envelopeId: envelope.id, runId, landed: found?.landed, err: message.split("\n")[0] },
      "agent_cli: the CLI failed after the Gateway accepted the run",
    );
    if (found?.landed) {
      this.#unsettled.delete(envelope.id);
      return { status: found.receipt.status, detail: { ...found.receipt.detail, runId } };
    }
    return {
      status: "accepted",
      detail: { runId, sessionKey: instance.sessionKey, gatewayStatus: "accepted; the CLI lost it", cliError: message.split("\n")[0] ?? "" },
    };
  }

  /**
   * For an envelope left accepted (queued in the target session, or accepted by the Gateway when
   * the CLI lost it): a turn answered it, delivered; its turn failed on context overflow,
   * unsuitable; its receiver's policy kept it, held or refused; otherwise waiting.
   */
  async followUp(envelope: Envelope, context: DeliveryContext): Promise<FollowUp> {
    const transcript = await readTranscript(this.#options.pool.forInstance(context.instance), context.instance.sessionKey, context.signal);
    const outcome = turnOutcome(transcript, envelope);
    if (outcome.state === "ran") return { status: "delivered" };
    if (outcome.state === "held" || outcome.state === "refused") return { status: outcome.state, reason: outcome.why };
    if (outcome.state === "too_large") return { status: "unsuitable", reason: `too large for ${context.instance.name}'s model: ${outcome.error}` };
    return { status: "waiting" };
  }

  /** The CLI waits for the whole turn, so the reply came with the receipt. */
  async awaitReply(_envelope: Envelope, receipt: Receipt): Promise<string> {
    if (typeof receipt.detail.reply === "string") return receipt.detail.reply;
    throw new UnavailableError("openclaw agent returned no reply text.", { code: "NO_REPLY" });
  }

  async probe(instance: Instance, signal: AbortSignal): Promise<string> {
    const command = await this.locate();
    if (!command)
      throw new UnavailableError("The openclaw CLI was not found.", {
        code: "BINARY_MISSING",
        hint: "Install it (npm install -g openclaw) or set openclawCli.bin in the config.",
      });
    await this.#options.pool.forInstance(instance).connect(signal);
    return `openclaw CLI found via ${command.source} (${[command.file, ...command.prefix].join(" ")}); Gateway ${instance.gateway?.url} answered`;
  }

  /** The CLI sets its own idempotency key, so the lookup is by the envelope's header line. */
  async confirm(envelope: Envelope, context: DeliveryContext): Promise<Confirmation> {
    return confirmInSession(this.#options.pool.forInstance(context.instance), context.instance.sessionKey, envelope.id, context.signal);
  }

  #environment(instance: Instance): NodeJS.ProcessEnv {
    const inherited = this.#options.env ?? process.env;
    const env: NodeJS.ProcessEnv = {};
    // Only what a CLI needs to start; the caller's OPENCLAW_* settings must not redirect it.
    for (const name of ["PATH", "HOME", "USERPROFILE", "LANG", "LC_ALL", "TMPDIR", "TEMP", "TMP", "SYSTEMROOT", "NODE_EXTRA_CA_CERTS"]) {
      if (inherited[name] !== undefined) env[name] = inherited[name];
    }
    env.OPENCLAW_STATE_DIR = this.#options.stateDir;
    env.OPENCLAW_GATEWAY_URL = instance.gateway?.url;
    env.OPENCLAW_GATEWAY_TOKEN = instance.gateway?.token;
    return env;
  }
}
