import { toValidationError } from "../../config/parse.js";
import type { Messenger } from "../../messenger/create.js";
import { describeAsk } from "../../present/report-text.js";
import { zod } from "../../util/zod.js";
import { errorResult, parametersOf, TARGET_ARG, type ToolDefinition, type ToolResult } from "./definition.js";

const z = zod();

const askArgs = z
  .object({
    to: TARGET_ARG,
    message: z.string().min(1).describe("The question or request for the other agent"),
    timeout: z.number().int().min(1).max(600).default(120).describe("Seconds to wait for the answer (default 120)"),
  })
  .strict();

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

export const instanceAskTool: ToolDefinition = {
  name: "instance_ask",
  label: "Ask another OpenClaw instance",
  description:
    "Send a question to an agent on another machine's Gateway and wait for its answer (sessions_send, a2a, agent_cli, or nats on a fleet). Returns the answer text and the delivery report.",
  parameters: parametersOf(askArgs),
  execute: (params, { link }) => instanceAsk(link, params),
};
