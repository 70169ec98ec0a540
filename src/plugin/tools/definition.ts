import type { z as Zod } from "zod";
import type { Messenger } from "../../messenger/create.js";
import { zod } from "../../util/zod.js";
import type { ConversationThreads } from "../conversation-threads.js";
import type { InboundGate } from "../gates/inbound.js";
import type { TaskService } from "../services/tasks.js";

// The plugin registers every tool at start (and the manifest build reads the list): each tool's
// schema is built when its module loads.
const z = zod();

/** A tool result as OpenClaw's agent tools return it: a short text and structured details. */
export interface ToolResult {
  readonly content: { readonly type: "text"; readonly text: string }[];
  readonly details: Record<string, unknown>;
}

export const TARGET_ARG = z.string().trim().min(1).max(64).describe("Instance name or alias, e.g. xiaom, 小m, mac-mini");

/** Tool parameters as JSON Schema, generated from the same zod schemas that validate them. */
export const parametersOf = (schema: Zod.ZodType) => z.toJSONSchema(schema, { io: "input", target: "draft-7" });

export type ToolParameters = ReturnType<typeof parametersOf>;

/** What the tools share with the rest of the plugin, built once per register(). */
export interface ToolParts {
  readonly link: () => Promise<Messenger>;
  readonly threads: Pick<ConversationThreads, "next">;
  readonly gate: Pick<InboundGate, "outgoingHop" | "held">;
  readonly tasks: Pick<TaskService, "wake">;
}

/** One agent tool: what the manifest lists and the plugin registers. */
export interface ToolDefinition {
  readonly name: string;
  readonly label: string;
  readonly description: string;
  readonly parameters: ToolParameters;
  /** Opt-in: an operator enables it with tools.allow (the manifest's toolMetadata says so). */
  readonly optional?: boolean;
  /** Registered as a factory, so a call knows the session it runs in. */
  readonly perSession?: boolean;
  /** `sessionKey` is known only for a per-session tool. */
  /** `workspaceDir`: the calling agent's workspace, for per-session tools (where files it names are read from). */
  readonly execute: (params: unknown, parts: ToolParts, sessionKey: string | undefined, workspaceDir?: string) => Promise<ToolResult>;
}

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
