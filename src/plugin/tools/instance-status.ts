import { toValidationError } from "../../config/parse.js";
import type { HeldMessage } from "../../inbox/held.js";
import type { Messenger } from "../../messenger/create.js";
import { describeChecks, describeStatus } from "../../present/report-text.js";
import { zod } from "../../util/zod.js";
import { errorResult, parametersOf, type ToolDefinition, type ToolResult } from "./definition.js";

const z = zod();

const statusArgs = z
  .object({
    check: z
      .boolean()
      .default(false)
      .describe("Also run the doctor checklist: every transport, RPC scope, node, proxy, git remotes, timeouts, symlinks (up to 10 s per dead path)"),
    id: z
      .string()
      .min(1)
      .optional()
      .describe("A message or task id: where it stands (queued, accepted, delivered, seen, answered, held, refused, expired, lost) and the evidence"),
  })
  .strict();

/** `instance_status`: the configured instances, their transports, what waits in the outbox, and with `check` the probes (doctor). */
export async function instanceStatus(
  getLink: () => Promise<Messenger>,
  params: unknown = {},
  heldHere?: () => Promise<readonly HeldMessage[]>,
): Promise<ToolResult> {
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
    node: instance.node
      ? { gateway: instance.node.gateway.url, node: instance.node.name ?? instance.node.id, workspace: instance.node.workspace ?? null }
      : null,
  }));
  const queued = (await link.outbox.list()).map((q) => ({
    id: q.envelope.id,
    to: q.target,
    queuedAt: q.queuedAt,
    attempts: q.attempts,
    lastError: q.lastError,
  }));
  if (parsed.data.id !== undefined) {
    const statuses = await link.track(parsed.data.id);
    return { content: [{ type: "text", text: describeStatus(parsed.data.id, statuses) }], details: { id: parsed.data.id, statuses } };
  }
  const doctor = parsed.data.check ? await link.doctor() : undefined;
  // Who sent what and why it waits, never the body: a held message must not reach the agent this way.
  const held =
    (await heldHere?.().catch(() => []))?.map((m) => ({ id: m.id, from: m.from, transport: m.transport, reason: m.reason, receivedAt: m.receivedAt })) ?? [];
  const lines = [
    `${instances.length} instance(s): ${instances.map((i) => `${i.name} [${i.transports.join(" > ")}]`).join(", ")}. ${queued.length} message(s) waiting in the outbox.`,
    ...(held.length > 0
      ? [`${held.length} incoming message(s) held for the owner (only the owner can approve them: openclaw-inter-instance inbox list).`]
      : []),
    ...(doctor ? [`doctor: ${doctor.ok ? "all checks pass" : "some checks fail"}`, ...describeChecks(doctor.checks)] : []),
  ];
  return { content: [{ type: "text", text: lines.join("\n") }], details: { instances, queued, held, ...(doctor ? { doctor } : {}) } };
}

export const instanceStatusTool: ToolDefinition = {
  name: "instance_status",
  label: "Inter-instance status",
  description:
    "List the configured OpenClaw instances, their transports and messages waiting in the outbox; with check=true also probe every transport (doctor).",
  parameters: parametersOf(statusArgs),
  execute: (params, { link, gate }) => instanceStatus(link, params, async () => (await gate.held()).list({ pending: true })),
};
