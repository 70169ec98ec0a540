import { z } from "zod";
import { toValidationError } from "../config/parse.js";
import type { Messenger } from "../client.js";
import { describeReport } from "../report-text.js";

/** A tool result as OpenClaw's agent tools return it: a short text and structured details. */
export interface ToolResult {
  readonly content: { readonly type: "text"; readonly text: string }[];
  readonly details: Record<string, unknown>;
}

const sendArgs = z.object({ to: z.string().trim().min(1).max(64), message: z.string().min(1) }).strict();

/** Tool parameters as plain JSON Schema (no typebox needed). */
export const SEND_PARAMETERS = {
  type: "object",
  additionalProperties: false,
  required: ["to", "message"],
  properties: {
    to: { type: "string", description: "Instance name or alias, e.g. xiaom, 小m, mac-mini" },
    message: { type: "string", description: "The text to deliver, exactly as the other agent should see it" },
  },
} as const;

export const STATUS_PARAMETERS = { type: "object", additionalProperties: false, properties: {} } as const;

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

/** `instance_status`: the configured instances, their transports, and what waits in the outbox. */
export async function instanceStatus(getLink: () => Messenger): Promise<ToolResult> {
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
  const text = `${instances.length} instance(s): ${instances.map((i) => `${i.name} [${i.transports.join(" > ")}]`).join(", ")}. ${queued.length} message(s) waiting in the outbox.`;
  return { content: [{ type: "text", text }], details: { instances, queued } };
}
