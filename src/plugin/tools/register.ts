import type { OpenClawPluginApi } from "openclaw/plugin-sdk/plugin-entry";
import type { ToolDefinition, ToolParts } from "./definition.js";

/** Registers one tool: a factory for a per-session tool (each call knows its session), else the tool itself. */
export function registerTool(api: OpenClawPluginApi, tool: ToolDefinition, parts: ToolParts): void {
  const concrete = (sessionKey: string | undefined, workspaceDir?: string) => ({
    name: tool.name,
    label: tool.label,
    description: tool.description,
    parameters: tool.parameters,
    execute: (_toolCallId: string, params: unknown) => tool.execute(params, parts, sessionKey, workspaceDir),
  });
  if (tool.perSession)
    api.registerTool((toolContext) => concrete(toolContext.sessionKey, toolContext.workspaceDir), {
      name: tool.name,
      ...(tool.optional ? { optional: true } : {}),
    });
  else if (tool.optional) api.registerTool(concrete(undefined), { optional: true });
  else api.registerTool(concrete(undefined));
}
