import { toValidationError } from "../../config/parse.js";
import type { Messenger } from "../../messenger/create.js";
import { describeExec } from "../../present/report-text.js";
import { zod } from "../../util/zod.js";
import { errorResult, parametersOf, TARGET_ARG, type ToolDefinition, type ToolResult } from "./definition.js";

const z = zod();

const execArgs = z
  .object({
    to: TARGET_ARG,
    argv: z
      .array(z.string())
      .min(1)
      .optional()
      .describe('The program and its arguments, one element each, e.g. ["git", "status"]. No shell: pipes and $(...) are plain text.'),
    steps: z.array(z.array(z.string()).min(1)).min(1).optional().describe("Instead of argv: several argv run in order, stopping at the first that fails"),
    cwd: z.string().optional().describe("Absolute working directory on that machine"),
    timeout: z.number().int().min(1).max(3600).optional().describe("Seconds before the command is killed (default 30)"),
    keepProxy: z.boolean().default(false).describe("Keep HTTP(S)_PROXY of the node host (default: unset, as the checklist advises)"),
  })
  .strict()
  .refine((value) => (value.argv !== undefined) !== (value.steps !== undefined), { message: "give either argv or steps", path: ["argv"] });

/** `instance_exec` (optional tool): run an argv on another instance's machine through its node. */
export async function instanceExec(link: () => Promise<Messenger>, params: unknown): Promise<ToolResult> {
  const parsed = execArgs.safeParse(params);
  if (!parsed.success) return errorResult(toValidationError("instance_exec arguments", parsed.error));
  const { to, argv, steps, cwd, timeout, keepProxy } = parsed.data;
  const shared = { to, keepProxy, ...(cwd ? { cwd } : {}), ...(timeout ? { timeoutMs: timeout * 1000 } : {}) };
  try {
    if (steps) {
      const result = await (await link()).execSteps({ ...shared, steps });
      const text = [
        ...result.steps.map(describeExec),
        ...(result.failedStep === undefined ? [] : [`Stopped at step ${result.failedStep + 1} of ${steps.length}.`]),
      ].join("\n");
      return { content: [{ type: "text", text }], details: { ...result } };
    }
    const result = await (await link()).exec({ ...shared, argv: argv ?? [] });
    return { content: [{ type: "text", text: describeExec(result) }], details: { ...result } };
  } catch (error) {
    return errorResult(error);
  }
}

export const instanceExecTool: ToolDefinition = {
  name: "instance_exec",
  label: "Run a command on another instance's machine",
  description:
    "Run a program (argv array, no shell) on another OpenClaw instance's machine through the node host paired there; returns exit code, stdout and stderr. Proxy variables are unset unless keepProxy.",
  parameters: parametersOf(execArgs),
  // Commands on another machine: an operator opts in with tools.allow.
  optional: true,
  execute: (params, { link }) => instanceExec(link, params),
};
