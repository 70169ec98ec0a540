import { createHash, randomUUID } from "node:crypto";
import type { NodeTarget } from "../../config/registry.js";
import { TransportError, UnavailableError } from "../../core/errors.js";
import type { GatewayConnection } from "../../gateway/connection.js";
import { nodeApprovalSteps } from "./approval-steps.js";

/** A node as `node.list` describes it (the fields this library reads). */
export interface NodeInfo {
  readonly nodeId: string;
  readonly displayName?: string;
  readonly connected?: boolean;
  readonly paired?: boolean;
  readonly approvalState?: string;
  readonly pendingRequestId?: string;
  /** The commands the Gateway lets this node run now (empty while its surface waits for approval). */
  readonly commands?: readonly string[];
  readonly platform?: string;
}

export interface RunOptions {
  readonly cwd?: string;
  /** Added to the node host's environment; PATH and interpreter start-up variables are refused by the node. */
  readonly env?: Readonly<Record<string, string>>;
  /** The node kills the command after this long (exit code 124, `timedOut`). */
  readonly timeoutMs: number;
  readonly signal?: AbortSignal;
  readonly idempotencyKey?: string;
}

/** What a command run on a node produced. */
export interface RunOutput {
  /** Undefined when the command never started (missing binary, missing cwd); see `error`. */
  readonly exitCode: number | undefined;
  readonly timedOut: boolean;
  readonly stdout: string;
  readonly stderr: string;
  /** The node's own output cap (about 200 KB for stdout and stderr together) cut the output. */
  readonly truncated: boolean;
  readonly error: string | undefined;
}

export interface WriteFileOptions {
  readonly overwrite: boolean;
  readonly createParents: boolean;
  readonly signal?: AbortSignal;
  readonly idempotencyKey?: string;
}

/** The node's answer to `file.write`; `exists` when the file was there and `overwrite` was false. */
export type WriteFileOutcome =
  | { readonly written: true; readonly path: string; readonly sha256: string; readonly size: number }
  | { readonly written: false; readonly exists: true; readonly path: string };

interface SystemRunPayload {
  readonly exitCode?: number | null;
  readonly timedOut?: boolean;
  readonly stdout?: string;
  readonly stderr?: string;
  readonly error?: string | null;
}

interface FileWritePayload {
  readonly ok?: boolean;
  readonly code?: string;
  readonly message?: string;
  readonly path?: string;
  readonly sha256?: string;
  readonly size?: number;
}

const TRUNCATION_MARK = "\n... (truncated)";
const REQUIRED_METHODS = ["node.list", "node.invoke"] as const;
/** The Gateway's deadline for one invoke: the command's own timeout plus room for the round trip. */
const INVOKE_SLACK_MS = 10_000;

function nodeLabel(target: NodeTarget): string {
  return target.name ? `"${target.name}"` : `${target.id?.slice(0, 12)}…`;
}

/**
 * A node host paired to a Gateway, reached through that Gateway's `node.invoke` RPC (operator
 * read/write scopes suffice). The node is looked up by id or display name on every use, so a node
 * that reconnected, was renamed or went offline is noticed before anything is sent to it.
 */
export class NodeHost {
  readonly #connection: GatewayConnection;
  readonly #target: NodeTarget;

  constructor(connection: GatewayConnection, target: NodeTarget) {
    this.#connection = connection;
    this.#target = target;
  }

  /** Finds the node and checks that it is online and may run `commands`; throws `UnavailableError` with the fix. */
  async require(commands: readonly string[], signal?: AbortSignal): Promise<NodeInfo> {
    const methods = await this.#connection.methods(signal);
    const missing = REQUIRED_METHODS.filter((method) => !methods.has(method));
    if (methods.size > 0 && missing.length > 0) {
      throw new UnavailableError(`Gateway ${this.#connection.url} has no ${missing.join(" / ")} RPC.`, {
        code: "NODES_UNSUPPORTED",
        hint: "Remote exec through node.invoke needs OpenClaw 2026.3.31 or later on the Gateway the node is paired to; update it.",
      });
    }
    const { nodes = [] } = await this.#connection.request<{ nodes?: NodeInfo[] }>("node.list", {}, signal ? { signal } : {});
    const node = nodes.find((candidate) => (this.#target.id ? candidate.nodeId === this.#target.id : candidate.displayName === this.#target.name));
    const label = nodeLabel(this.#target);
    if (!node) {
      throw new UnavailableError(`No node ${label} is paired to Gateway ${this.#connection.url}.`, {
        code: "NODE_NOT_PAIRED",
        hint: nodeApprovalSteps(this.#target, this.#connection.url, "not-listed"),
      });
    }
    if (node.connected === false) {
      throw new UnavailableError(`Node ${label} is paired but offline.`, {
        code: "NODE_OFFLINE",
        hint: "Start its node host again (`openclaw node run …` or its service) on the target machine.",
      });
    }
    const approved = new Set(node.commands ?? []);
    const absent = commands.filter((command) => !approved.has(command));
    if (absent.length > 0) {
      const pending = node.approvalState === "pending-approval" && node.pendingRequestId;
      throw new UnavailableError(`Node ${label} may not run ${absent.join(", ")} yet.`, {
        code: pending ? "NODE_APPROVAL_PENDING" : "NODE_COMMAND_NOT_ALLOWED",
        hint: pending
          ? nodeApprovalSteps(this.#target, this.#connection.url, "surface-pending", { requestId: node.pendingRequestId })
          : nodeApprovalSteps(this.#target, this.#connection.url, "command-missing", { missing: absent }),
      });
    }
    return node;
  }

  /** Runs an argv on the node, no shell involved; the output comes back whole or marked `truncated`. */
  async run(argv: readonly string[], options: RunOptions): Promise<RunOutput> {
    const node = await this.require(["system.run"], options.signal);
    const payload = await this.#invoke<SystemRunPayload>(
      node.nodeId,
      "system.run",
      { command: argv, timeoutMs: options.timeoutMs, ...(options.cwd ? { cwd: options.cwd } : {}), ...(options.env ? { env: options.env } : {}) },
      options.timeoutMs + INVOKE_SLACK_MS,
      options,
    );
    const stdout = payload.stdout ?? "";
    const stderr = payload.stderr ?? "";
    return {
      exitCode: typeof payload.exitCode === "number" ? payload.exitCode : undefined,
      timedOut: payload.timedOut === true,
      stdout: stdout.endsWith(TRUNCATION_MARK) ? stdout.slice(0, -TRUNCATION_MARK.length) : stdout,
      stderr: stderr.endsWith(TRUNCATION_MARK) ? stderr.slice(0, -TRUNCATION_MARK.length) : stderr,
      truncated: stdout.endsWith(TRUNCATION_MARK) || stderr.endsWith(TRUNCATION_MARK),
      error: payload.error ?? undefined,
    };
  }

  /** Writes bytes to an absolute path on the node (`file.write`), checked end to end by SHA-256. */
  async writeFile(path: string, content: Buffer, options: WriteFileOptions): Promise<WriteFileOutcome> {
    const node = await this.require(["file.write"], options.signal);
    const sha256 = createHash("sha256").update(content).digest("hex");
    const payload = await this.#invoke<FileWritePayload>(
      node.nodeId,
      "file.write",
      { path, contentBase64: content.toString("base64"), expectedSha256: sha256, overwrite: options.overwrite, createParents: options.createParents },
      30_000,
      options,
    );
    if (payload.ok) return { written: true, path: payload.path ?? path, sha256: payload.sha256 ?? sha256, size: payload.size ?? content.length };
    if (payload.code === "EXISTS_NO_OVERWRITE") return { written: false, exists: true, path };
    throw new UnavailableError(`Node refused to write ${path}: ${payload.code ?? "error"} ${payload.message ?? ""}`.trim(), {
      code: `FILE_WRITE_${payload.code ?? "FAILED"}`,
      ...(payload.code === "PERMISSION_DENIED" ? { hint: `The node host's user needs write access to ${path}.` } : {}),
    });
  }

  async #invoke<T>(
    nodeId: string,
    command: string,
    params: unknown,
    timeoutMs: number,
    options: { signal?: AbortSignal; idempotencyKey?: string },
  ): Promise<T> {
    try {
      const answer = await this.#connection.request<{ payload?: T }>(
        "node.invoke",
        { nodeId, command, params, timeoutMs, idempotencyKey: options.idempotencyKey ?? randomUUID() },
        { timeoutMs: timeoutMs + INVOKE_SLACK_MS, ...(options.signal ? { signal: options.signal } : {}) },
      );
      if (!answer.payload) throw new UnavailableError(`node.invoke ${command} answered without a payload.`, { code: "NODE_NO_PAYLOAD" });
      return answer.payload;
    } catch (error) {
      throw explainInvokeError(error, command, this.#connection.url);
    }
  }
}

/** Turns the node's policy refusals into errors that name the setting to change. */
function explainInvokeError(error: unknown, command: string, url: string): unknown {
  if (!(error instanceof TransportError)) return error;
  const text = error.message;
  if (/POLICY_DENIED|NO_POLICY|deny-by-default/u.test(text)) {
    return new UnavailableError(`The Gateway's file-transfer policy does not let the node ${command} there: ${text}`, {
      code: "FILE_POLICY_DENIED",
      hint: `On ${url} set plugins.entries.file-transfer.config = { policyVersion: 2, nodes: { "<node id or name>": { allowWritePaths: ["<target workspace>/.openclaw-inter-instance/**"] } } }.`,
      cause: error,
    });
  }
  if (/SYSTEM_RUN_DENIED/u.test(text)) {
    return new UnavailableError(`The node refused the command: ${text}`, {
      code: "NODE_RUN_DENIED",
      hint: "PATH and interpreter start-up variables (NODE_OPTIONS, LD_*, BASH_ENV, …) cannot be overridden; the node's exec approvals (exec.approvals.node.*) decide what else may run.",
      cause: error,
    });
  }
  if (/not in the allowlist|not declared by node|does not support/u.test(text)) {
    return new UnavailableError(`The node may not run ${command}: ${text}`, {
      code: "NODE_COMMAND_NOT_ALLOWED",
      hint: `Add "${command}" to gateway.nodes.commands.allow on ${url}, restart the node host, then approve its new surface.`,
      cause: error,
    });
  }
  return error;
}
