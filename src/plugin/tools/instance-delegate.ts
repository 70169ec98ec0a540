import { toValidationError } from "../../config/parse.js";
import type { Messenger } from "../../messenger/create.js";
import { zod } from "../../util/zod.js";
import { type Continuation, errorResult, parametersOf, TARGET_ARG, type ToolDefinition, type ToolResult } from "./definition.js";

const z = zod();

const delegateArgs = z
  .object({
    to: TARGET_ARG.describe("Instance name or alias, or a group (all, or one from the config's groups)"),
    task: z.string().min(1).describe("The task for the other agent, as it should read it"),
    deadline: z
      .number()
      .int()
      .min(10)
      .max(7 * 86_400)
      .default(3600)
      .describe("Seconds until the task expires unanswered (default 3600); you are told if it does"),
  })
  .strict();

/** `instance_delegate`: hands a task over and returns at once; the result comes into this session later. */
export async function instanceDelegate(
  link: () => Promise<Messenger>,
  params: unknown,
  sessionKey: string | undefined,
  continuation?: Omit<Continuation, "withinBudget">,
): Promise<ToolResult> {
  const parsed = delegateArgs.safeParse(params);
  if (!parsed.success) return errorResult(toValidationError("instance_delegate arguments", parsed.error));
  const { to, task, deadline } = parsed.data;
  try {
    const messenger = await link();
    const common = {
      body: task,
      deadline: deadline * 1000,
      ...(sessionKey ? { sessionKey } : {}),
      ...(continuation ? { conversation: continuation.conversation, hop: continuation.hop } : {}),
    };
    if (messenger.registry.group(to)) {
      const result = await messenger.groups.delegate({ to, ...common });
      const text = [
        `Task ${result.id} handed to ${result.members.length} member(s) of ${result.group}; each result comes into this session as its own turn.`,
        ...result.members.map((member) => `- ${member.to}: ${member.report.status}`),
      ].join("\n");
      return { content: [{ type: "text", text }], details: { ...result } };
    }
    const result = await messenger.delegate({ to, ...common });
    const text = `Task ${result.id} handed to ${result.to} (${result.report.status}). Its result comes into this session as a new turn, framed "Result from ${result.to} for task ${result.id}"; if there is none by ${result.deadline}, you are told it expired. Do not wait for it now.`;
    return { content: [{ type: "text", text }], details: { ...result } };
  } catch (error) {
    return errorResult(error);
  }
}

export const instanceDelegateTool: ToolDefinition = {
  name: "instance_delegate",
  label: "Delegate a task to another OpenClaw instance",
  description:
    'Hand a task to an agent on another machine (or to each member of a group) and return at once with its id. Its result comes back into this session later as a new turn, framed "Result from <instance> for task <id>"; if none comes by the deadline you are told it expired.',
  parameters: parametersOf(delegateArgs),
  // The result is brought to the session that delegated, and the task continues its conversation.
  perSession: true,
  execute: async (params, { link, threads, tasks }, sessionKey) => {
    const result = await instanceDelegate(link, params, sessionKey, threads.next(sessionKey));
    tasks.wake();
    return result;
  },
};
