import type { z as Zod } from "zod";
import { zod } from "../../util/zod.js";
import { toValidationError } from "../../config/parse.js";
import type { Messenger } from "../../messenger/create.js";
import type { HeldMessage } from "../../inbox/held.js";
import { describeAsk, describeChecks, describeExec, describeGroupReport, describeReport, describeStatus, describeSyncFiles, describeSyncRepo } from "../../present/report-text.js";

/** A tool result as OpenClaw's agent tools return it: a short text and structured details. */
export interface ToolResult {
  readonly content: { readonly type: "text"; readonly text: string }[];
  readonly details: Record<string, unknown>;
}

// The plugin registers every tool at start: the schemas are built when this module loads.
const z = zod();

export const TARGET_ARG = z.string().trim().min(1).max(64).describe("Instance name or alias, e.g. xiaom, 小m, mac-mini");
export const SEND_ARGS = z
  .object({
    to: TARGET_ARG.describe("Instance name or alias (e.g. xiaom, 小m), or a group: all, or one from the config's groups"),
    message: z.string().min(1).describe("The text to deliver, exactly as the other agent should see it"),
    replyTo: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{7,127}$/u).optional().describe("When this answers a task or question from that instance: its id (the frame you were shown names it)"),
  })
  .strict();
const delegateArgs = z
  .object({
    to: TARGET_ARG.describe("Instance name or alias, or a group (all, or one from the config's groups)"),
    task: z.string().min(1).describe("The task for the other agent, as it should read it"),
    deadline: z.number().int().min(10).max(7 * 86_400).default(3600).describe("Seconds until the task expires unanswered (default 3600); you are told if it does"),
  })
  .strict();
const askArgs = z
  .object({
    to: TARGET_ARG,
    message: z.string().min(1).describe("The question or request for the other agent"),
    timeout: z.number().int().min(1).max(600).default(120).describe("Seconds to wait for the answer (default 120)"),
  })
  .strict();
const statusArgs = z
  .object({
    check: z.boolean().default(false).describe("Also run the doctor checklist: every transport, RPC scope, node, proxy, git remotes, timeouts, symlinks (up to 10 s per dead path)"),
    id: z.string().min(1).optional().describe("A message or task id: where it stands (queued, accepted, delivered, seen, answered, held, refused, expired, lost) and the evidence"),
  })
  .strict();

const execArgs = z
  .object({
    to: TARGET_ARG,
    argv: z.array(z.string()).min(1).optional().describe('The program and its arguments, one element each, e.g. ["git", "status"]. No shell: pipes and $(...) are plain text.'),
    steps: z.array(z.array(z.string()).min(1)).min(1).optional().describe("Instead of argv: several argv run in order, stopping at the first that fails"),
    cwd: z.string().optional().describe("Absolute working directory on that machine"),
    timeout: z.number().int().min(1).max(3600).optional().describe("Seconds before the command is killed (default 30)"),
    keepProxy: z.boolean().default(false).describe("Keep HTTP(S)_PROXY of the node host (default: unset, as the checklist advises)"),
  })
  .strict()
  .refine((value) => (value.argv !== undefined) !== (value.steps !== undefined), { message: "give either argv or steps", path: ["argv"] });
const syncArgs = z
  .object({
    to: TARGET_ARG,
    repo: z.string().optional().describe("https:// URL of a git repository to clone or fast-forward there"),
    dir: z.string().optional().describe("With repo: absolute path there under which each commit gets its own checkout"),
    expect: z.array(z.string()).optional().describe("With repo: files that must exist in the checkout before the link moves"),
    ref: z.string().optional().describe("With repo: branch or tag"),
    link: z.string().optional().describe("With repo: symlink to point at the checkout (ln -sfn, checked with readlink)"),
    files: z.array(z.object({ from: z.string(), to: z.string() }).strict()).optional().describe("Local files to copy there: absolute local path -> absolute remote path"),
  })
  .strict()
  .refine((value) => (value.repo !== undefined) !== (value.files !== undefined), { message: "give either repo (with dir) or files", path: ["repo"] })
  .refine((value) => value.repo === undefined || value.dir !== undefined, { message: "repo needs dir", path: ["dir"] });

/** Tool parameters as JSON Schema, generated from the same zod schemas that validate them. */
export const parametersOf = (schema: Zod.ZodType) => z.toJSONSchema(schema, { io: "input", target: "draft-7" });
export const SEND_PARAMETERS = parametersOf(SEND_ARGS);
export const DELEGATE_PARAMETERS = parametersOf(delegateArgs);
export const ASK_PARAMETERS = parametersOf(askArgs);
export const STATUS_PARAMETERS = parametersOf(statusArgs);
export const EXEC_PARAMETERS = parametersOf(execArgs);
export const SYNC_PARAMETERS = parametersOf(syncArgs);

export function errorResult(error: unknown): ToolResult {
  const message = error instanceof Error ? error.message : String(error);
  const hint = error && typeof error === "object" && "hint" in error && typeof error.hint === "string" ? ` ${error.hint}` : "";
  return { content: [{ type: "text", text: `${message}${hint}` }], details: { ok: false, error: message } };
}

/**
 * The conversation a tool call continues (its session's turn is handling a message from another
 * instance), and the loop budget's word on one more hop to `to`.
 */
export interface Continuation {
  readonly conversation: string;
  readonly hop: number;
  readonly withinBudget: (to: string) => boolean;
}

/** `instance_send`: arguments are validated here, since not every Gateway path checks the schema. A group name sends to each member. */
export async function instanceSend(link: () => Promise<Messenger>, params: unknown, continuation?: Continuation): Promise<ToolResult> {
  const parsed = SEND_ARGS.safeParse(params);
  if (!parsed.success) return errorResult(toValidationError("instance_send arguments", parsed.error));
  const { to, message, replyTo } = parsed.data;
  try {
    const thread = continuation && { conversation: continuation.conversation, hop: continuation.hop };
    if (continuation && !continuation.withinBudget(to)) {
      const text = `Not sent: this conversation with ${to} (${continuation.conversation}) reached its loop budget, so nothing more is sent in it; your owner has been told. Do not send it again; if it matters, tell your owner.`;
      return { content: [{ type: "text", text }], details: { ok: false, error: "LOOP_BUDGET", ...thread } };
    }
    const messenger = await link();
    if (messenger.registry.group(to)) {
      const report = await messenger.groups.send({ to, body: message });
      return { content: [{ type: "text", text: describeGroupReport(report) }], details: { report } };
    }
    const report = await messenger.send({ to, body: message, ...thread, ...(replyTo ? { replyTo } : {}) });
    return { content: [{ type: "text", text: describeReport(report) }], details: { report } };
  } catch (error) {
    return errorResult(error);
  }
}

/** `instance_delegate`: hands a task over and returns at once; the result comes into this session later. */
export async function instanceDelegate(link: () => Promise<Messenger>, params: unknown, sessionKey: string | undefined, continuation?: Omit<Continuation, "withinBudget">): Promise<ToolResult> {
  const parsed = delegateArgs.safeParse(params);
  if (!parsed.success) return errorResult(toValidationError("instance_delegate arguments", parsed.error));
  const { to, task, deadline } = parsed.data;
  try {
    const messenger = await link();
    const common = { body: task, deadline: deadline * 1000, ...(sessionKey ? { sessionKey } : {}), ...(continuation ? { conversation: continuation.conversation, hop: continuation.hop } : {}) };
    if (messenger.registry.group(to)) {
      const result = await messenger.groups.delegate({ to, ...common });
      const text = [`Task ${result.id} handed to ${result.members.length} member(s) of ${result.group}; each result comes into this session as its own turn.`, ...result.members.map((member) => `- ${member.to}: ${member.report.status}`)].join("\n");
      return { content: [{ type: "text", text }], details: { ...result } };
    }
    const result = await messenger.delegate({ to, ...common });
    const text = `Task ${result.id} handed to ${result.to} (${result.report.status}). Its result comes into this session as a new turn, framed "Result from ${result.to} for task ${result.id}"; if there is none by ${result.deadline}, you are told it expired. Do not wait for it now.`;
    return { content: [{ type: "text", text }], details: { ...result } };
  } catch (error) {
    return errorResult(error);
  }
}

/** `instance_ask`: send and wait for the other agent's answer. */
export async function instanceAsk(link: () => Promise<Messenger>, params: unknown): Promise<ToolResult> {
  const parsed = askArgs.safeParse(params);
  if (!parsed.success) return errorResult(toValidationError("instance_ask arguments", parsed.error));
  try {
    const result = await (await link()).ask({ to: parsed.data.to, body: parsed.data.message }, { timeoutMs: parsed.data.timeout * 1000 });
    return { content: [{ type: "text", text: result.ok ? `${result.report.to} answered: ${result.reply}` : describeAsk(result) }], details: { ...result } };
  } catch (error) {
    return errorResult(error);
  }
}

/** `instance_status`: the configured instances, their transports, what waits in the outbox, and with `check` the probes (doctor). */
export async function instanceStatus(getLink: () => Promise<Messenger>, params: unknown = {}, heldHere?: () => Promise<readonly HeldMessage[]>): Promise<ToolResult> {
  const parsed = statusArgs.safeParse(params ?? {});
  if (!parsed.success) return errorResult(toValidationError("instance_status arguments", parsed.error));
  let link: Messenger;
  try {
    link = await getLink();
  } catch (error) {
    return errorResult(error);
  }
  const instances = link.registry.list().map((instance) => ({
    name: instance.name,
    aliases: instance.aliases,
    transports: instance.transports,
    gateway: instance.gateway?.url ?? null,
    workspace: instance.workspace ?? null,
    node: instance.node ? { gateway: instance.node.gateway.url, node: instance.node.name ?? instance.node.id, workspace: instance.node.workspace ?? null } : null,
  }));
  const queued = (await link.outbox.list()).map((q) => ({ id: q.envelope.id, to: q.target, queuedAt: q.queuedAt, attempts: q.attempts, lastError: q.lastError }));
  if (parsed.data.id !== undefined) {
    const statuses = await link.track(parsed.data.id);
    return { content: [{ type: "text", text: describeStatus(parsed.data.id, statuses) }], details: { id: parsed.data.id, statuses } };
  }
  const doctor = parsed.data.check ? await link.doctor() : undefined;
  // Who sent what and why it waits, never the body: a held message must not reach the agent this way.
  const held = (await heldHere?.().catch(() => []))?.map((m) => ({ id: m.id, from: m.from, transport: m.transport, reason: m.reason, receivedAt: m.receivedAt })) ?? [];
  const lines = [
    `${instances.length} instance(s): ${instances.map((i) => `${i.name} [${i.transports.join(" > ")}]`).join(", ")}. ${queued.length} message(s) waiting in the outbox.`,
    ...(held.length > 0 ? [`${held.length} incoming message(s) held for the owner (only the owner can approve them: openclaw-inter-instance inbox list).`] : []),
    ...(doctor ? [`doctor: ${doctor.ok ? "all checks pass" : "some checks fail"}`, ...describeChecks(doctor.checks)] : []),
  ];
  return { content: [{ type: "text", text: lines.join("\n") }], details: { instances, queued, held, ...(doctor ? { doctor } : {}) } };
}

/** `instance_exec` (optional tool): run an argv on another instance's machine through its node. */
export async function instanceExec(link: () => Promise<Messenger>, params: unknown): Promise<ToolResult> {
  const parsed = execArgs.safeParse(params);
  if (!parsed.success) return errorResult(toValidationError("instance_exec arguments", parsed.error));
  const { to, argv, steps, cwd, timeout, keepProxy } = parsed.data;
  const shared = { to, keepProxy, ...(cwd ? { cwd } : {}), ...(timeout ? { timeoutMs: timeout * 1000 } : {}) };
  try {
    if (steps) {
      const result = await (await link()).execSteps({ ...shared, steps });
      const text = [...result.steps.map(describeExec), ...(result.failedStep === undefined ? [] : [`Stopped at step ${result.failedStep + 1} of ${steps.length}.`])].join("\n");
      return { content: [{ type: "text", text }], details: { ...result } };
    }
    const result = await (await link()).exec({ ...shared, argv: argv ?? [] });
    return { content: [{ type: "text", text: describeExec(result) }], details: { ...result } };
  } catch (error) {
    return errorResult(error);
  }
}

/** `instance_sync` (optional tool): a git checkout (with a verified symlink) or files to another instance's machine. */
export async function instanceSync(link: () => Promise<Messenger>, params: unknown): Promise<ToolResult> {
  const parsed = syncArgs.safeParse(params);
  if (!parsed.success) return errorResult(toValidationError("instance_sync arguments", parsed.error));
  const { to, repo, dir, ref, link: symlink, files, expect } = parsed.data;
  try {
    if (repo !== undefined && dir !== undefined) {
      const result = await (await link()).sync.repo({ to, repo, dir, ...(ref ? { ref } : {}), ...(symlink ? { link: symlink } : {}), ...(expect ? { expect } : {}) });
      return { content: [{ type: "text", text: describeSyncRepo(result) }], details: { ...result } };
    }
    const result = await (await link()).sync.files({ to, files: files ?? [] });
    return { content: [{ type: "text", text: describeSyncFiles(result) }], details: { ...result } };
  } catch (error) {
    return errorResult(error);
  }
}
