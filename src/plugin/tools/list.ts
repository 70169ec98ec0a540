// Every agent tool of the plugin, in the manifest's order: the plugin registers this list and
// scripts/build-plugin.mjs writes the manifest's contracts.tools and toolMetadata from it. Light to
// import: the tools reach the Gateway only through the link they are handed.
import type { ToolDefinition } from "./definition.js";
import { instanceAskTool } from "./instance-ask.js";
import { instanceDelegateTool } from "./instance-delegate.js";
import { instanceExecTool } from "./instance-exec.js";
import { instanceSendTool } from "./instance-send.js";
import { instanceStatusTool } from "./instance-status.js";
import { instanceSyncTool } from "./instance-sync.js";

export const TOOLS: readonly ToolDefinition[] = [
  instanceSendTool,
  instanceAskTool,
  instanceDelegateTool,
  instanceStatusTool,
  instanceExecTool,
  instanceSyncTool,
];
