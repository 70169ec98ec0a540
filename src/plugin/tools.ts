import { z } from "zod";
import { toValidationError } from "../config/parse.js";
import type { Messenger } from "../client.js";
import { describeAsk, describeProbe, describeReport } from "../report-text.js";

/** A tool result as OpenClaw's agent tools return it: a short text and structured details. */
export interface ToolResult {
  readonly content: { readonly type: "text"; readonly text: string }[];
  readonly details: Record<string, unknown>;
}

const target = z.string().trim().min(1).max(64).describe("Instance name or alias, e.g. xiaom, 小m, mac-mini");
const sendArgs = z.object({ to: target, message: z.string().min(1).describe("The text to deliver, exactly as the other agent should see it") }).strict();
const askArgs = z
  .object({
    to: target,
    message: z.string().min(1).describe("The question or request for the other agent"),
    timeout: z.number().int().min(1).max(600).default(120).describe("Seconds to wait for the answer (default 120)"),
  })
  .strict();
const statusArgs = z.object({ check: z.boolean().default(false).describe("Also probe every transport of every instance (takes up to 10 s per dead path)") }).strict();

/** Tool parameters as JSON Schema, generated from the same zod schemas that validate them. */
const parametersOf = (schema: z.ZodType) => z.toJSONSchema(schema, { io: "input", target: "draft-7" });
export const SEND_PARAMETERS = parametersOf(sendArgs);
export const ASK_PARAMETERS = parametersOf(askArgs);
export const STATUS_PARAMETERS = parametersOf(statusArgs);

export function errorResult(error: unknown): ToolResult {
  const message = error instanceof Error ? error.message : String(error);
  const hint = error && typeof error === "object" && "hint" in error && typeof error.hint === "string" ? ` ${error.hint}` : "";
  return { content: [{ type: "text", text: `${message}${hint}` }], details: { ok: false, error: message } };
}

/** `instance_send`: arguments are validated here, since not every Gateway path checks the schema. */
export async function instanceSend(link: () => Messenger, params: unknown): Promise<ToolResult> {
  const parsed = sendArgs.safeParse(params);
  if (!parsed.success) return errorResult(toValidationError("instance_send arguments", parsed.error));
  try {
    const report = await link().send({ to: parsed.data.to, body: parsed.data.message });
    return { content: [{ type: "text", text: describeReport(report) }], details: { report } };
  } catch (error) {
    return errorResult(error);
  }
}

/** `instance_ask`: send and wait for the other agent's answer. */
export async function instanceAsk(link: () => Messenger, params: unknown): Promise<ToolResult> {
  const parsed = askArgs.safeParse(params);
  if (!parsed.success) return errorResult(toValidationError("instance_ask arguments", parsed.error));
  try {
    const result = await link().ask({ to: parsed.data.to, body: parsed.data.message }, { timeoutMs: parsed.data.timeout * 1000 });
    return { content: [{ type: "text", text: result.ok ? `${result.report.to} answered: ${result.reply}` : describeAsk(result) }], details: { ...result } };
  } catch (error) {
    return errorResult(error);
  }
}

/** `instance_status`: the configured instances, their transports, what waits in the outbox, and with `check` the probes (doctor). */
export async function instanceStatus(getLink: () => Messenger, params: unknown = {}): Promise<ToolResult> {
  const parsed = statusArgs.safeParse(params ?? {});
  if (!parsed.success) return errorResult(toValidationError("instance_status arguments", parsed.error));
  let link: Messenger;
  try {
    link = getLink();
  } catch (error) {
    return errorResult(error);
  }
  const instances = link.registry.list().map((instance) => ({
    name: instance.name,
    aliases: instance.aliases,
    transports: instance.transports,
    gateway: instance.gateway?.url ?? null,
    workspace: instance.workspace ?? null,
  }));
  const queued = (await link.outbox.list()).map((q) => ({ id: q.envelope.id, to: q.target, queuedAt: q.queuedAt, attempts: q.attempts, lastError: q.lastError }));
  const checks = parsed.data.check ? await Promise.all(instances.map(async (i) => ({ instance: i.name, transports: await link.probe(i.name) }))) : undefined;
  const lines = [
    `${instances.length} instance(s): ${instances.map((i) => `${i.name} [${i.transports.join(" > ")}]`).join(", ")}. ${queued.length} message(s) waiting in the outbox.`,
    ...(checks ?? []).flatMap((c) => [`${c.instance}:`, ...describeProbe(c.transports)]),
  ];
  return { content: [{ type: "text", text: lines.join("\n") }], details: { instances, queued, ...(checks ? { checks } : {}) } };
}
