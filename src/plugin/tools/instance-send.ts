import { toValidationError } from "../../config/parse.js";
import type { FileInput } from "../../core/attachments/prepare.js";
import { ValidationError } from "../../core/errors.js";
import type { Messenger } from "../../messenger/create.js";
import { describeGroupReport, describeReport } from "../../present/report-text.js";
import { zod } from "../../util/zod.js";
import { type Continuation, errorResult, parametersOf, TARGET_ARG, type ToolDefinition, type ToolResult } from "./definition.js";
import { filesInWorkspace } from "./workspace-files.js";

const z = zod();

export const SEND_ARGS = z
  .object({
    to: TARGET_ARG.describe("Instance name or alias (e.g. xiaom, 小m), or a group: all, or one from the config's groups"),
    message: z.string().min(1).describe("The text to deliver, exactly as the other agent should see it"),
    replyTo: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{7,127}$/u)
      .optional()
      .describe("When this answers a task or question from that instance: its id (the frame you were shown names it)"),
    files: z
      .array(z.string().min(1).max(4096))
      .max(16)
      .optional()
      .describe("Files to send with it: paths inside your workspace (e.g. reports/build.log); the other agent gets each file and its checked digest"),
  })
  .strict();

/** `instance_send`: arguments are validated here, since not every Gateway path checks the schema. A group name sends to each member. */
export async function instanceSend(link: () => Promise<Messenger>, params: unknown, continuation?: Continuation, workspaceDir?: string): Promise<ToolResult> {
  const parsed = SEND_ARGS.safeParse(params);
  if (!parsed.success) return errorResult(toValidationError("instance_send arguments", parsed.error));
  const { files: paths = [], ...args } = parsed.data;
  return sendMessage(link, args, () => filesInWorkspace(workspaceDir, paths), { continuation, what: "instance_send arguments" });
}

/** What `sendMessage` sends: validated arguments, without the files. */
export interface MessageArgs {
  readonly to: string;
  readonly message: string;
  readonly replyTo?: string | undefined;
}

/**
 * Sends one message (with its files, read once the loop budget allows it) to an instance, or the
 * text to each member of a group; the report in words. `what` names the arguments in errors.
 */
export async function sendMessage(
  link: () => Promise<Messenger>,
  { to, message, replyTo }: MessageArgs,
  readFiles: () => Promise<readonly FileInput[]>,
  { continuation, what }: { readonly continuation?: Continuation | undefined; readonly what: string },
): Promise<ToolResult> {
  try {
    const thread = continuation && { conversation: continuation.conversation, hop: continuation.hop };
    if (continuation && !continuation.withinBudget(to)) {
      const text = `Not sent: this conversation with ${to} (${continuation.conversation}) reached its loop budget, so nothing more is sent in it; your owner has been told. Do not send it again; if it matters, tell your owner.`;
      return { content: [{ type: "text", text }], details: { ok: false, error: "LOOP_BUDGET", ...thread } };
    }
    const files = await readFiles();
    const messenger = await link();
    if (messenger.registry.group(to)) {
      if (files.length > 0)
        throw new ValidationError(
          `Invalid ${what}: files: files go to one instance at a time, not to a group`,
          [{ path: "files", message: "not for a group" }],
          {
            hint: "Send the files to each member by name.",
          },
        );
      const report = await messenger.groups.send({ to, body: message });
      return { content: [{ type: "text", text: describeGroupReport(report) }], details: { report } };
    }
    const report = await messenger.send({ to, body: message, ...thread, ...(replyTo ? { replyTo } : {}), ...(files.length > 0 ? { files } : {}) });
    return { content: [{ type: "text", text: describeReport(report) }], details: { report } };
  } catch (error) {
    return errorResult(error);
  }
}

export const instanceSendTool: ToolDefinition = {
  name: "instance_send",
  label: "Message another OpenClaw instance",
  description:
    "Send a message to an agent on another machine's OpenClaw Gateway (by instance name or alias, e.g. 小m). Tries sessions_send, then the fallbacks; returns the delivery report.",
  parameters: parametersOf(SEND_ARGS),
  // A send made while handling another instance's message continues that conversation, and the
  // loop budget counts it.
  perSession: true,
  execute: (params, { link, threads, gate }, sessionKey, workspaceDir) => {
    const next = threads.next(sessionKey);
    return instanceSend(link, params, next && { ...next, withinBudget: (to) => gate.outgoingHop(next.conversation, next.hop, to) }, workspaceDir);
  },
};
