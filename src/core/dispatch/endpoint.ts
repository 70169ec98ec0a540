import type { Instance } from "../../config/registry.js";
import type { TransportId } from "../../config/schema.js";

/**
 * The network endpoint (host:port) a transport reaches an instance at, when it has one: transports
 * that share it (sessions_send and agent_cli both dial the instance's Gateway) die together.
 */
export function endpointOf(id: TransportId, instance: Instance): string | undefined {
  const url =
    id === "sessions_send" || id === "agent_cli"
      ? instance.gateway?.url
      : id === "message_tool"
        ? (instance.messageTool?.gateway?.url ?? instance.gateway?.url)
        : id === "a2a"
          ? instance.a2a?.endpoint
          : id === "nodes"
            ? instance.node?.gateway.url
            : undefined;
  if (url === undefined || !URL.canParse(url)) return undefined;
  const parsed = new URL(url);
  const secure = parsed.protocol === "wss:" || parsed.protocol === "https:";
  return `${parsed.hostname}:${parsed.port || (secure ? "443" : "80")}`;
}
