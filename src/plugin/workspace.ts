import type { OpenClawConfig, OpenClawPluginApi } from "openclaw/plugin-sdk/plugin-entry";

/**
 * The main agent's workspace, where receipts of what reached it are kept: the one a turn or a
 * service names, else the main agent's in `from.config` (a service's) or the plugin's config.
 */
export function agentWorkspace(api: OpenClawPluginApi, from: { readonly workspaceDir?: string | undefined; readonly config?: OpenClawConfig } = {}): string {
  return from.workspaceDir ?? api.runtime.agent.resolveAgentWorkspaceDir(from.config ?? api.config, "main");
}
