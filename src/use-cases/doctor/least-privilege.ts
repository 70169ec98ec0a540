import type { GatewayTarget, Instance } from "../../config/registry.js";
import type { DoctorCheck } from "./index.js";

/** What a shared Gateway token lets its holder do, said once for every path that uses one. */
const SHARED_GRANTS = "operator access to that Gateway: every session, its config, devices and nodes";

function gatewayCheck(instance: Instance, path: string, what: string, gateway: GatewayTarget): DoctorCheck {
  const check = `credential:${path}`;
  if (gateway.credential === "device") {
    return {
      instance: instance.name,
      check,
      status: "pass",
      summary: `${what}: the device token from pairing with ${gateway.url} (only the scopes that Gateway approved for this device)`,
    };
  }
  return {
    instance: instance.name,
    check,
    status: "warn",
    summary: `${what}: a shared Gateway token (${gateway.tokenSource}), which grants ${SHARED_GRANTS}`,
    fix: `Pair instead, so this machine holds a device token with only the scopes it needs: on ${instance.name} run \`openclaw-inter-instance invite\`, here \`openclaw-inter-instance pair ${instance.name} <invite>\`, then remove ${path}.token.`,
  };
}

/** Which credential each path to an instance uses and what it grants; a warning where a scoped one would do. */
export function credentialChecks(instance: Instance): DoctorCheck[] {
  const checks: DoctorCheck[] = [];
  if (instance.gateway) checks.push(gatewayCheck(instance, `instances.${instance.name}.gateway`, "sessions_send and agent_cli", instance.gateway));
  if (instance.node) checks.push(gatewayCheck(instance, `instances.${instance.name}.node.gateway`, "nodes (exec, sync, file drops)", instance.node.gateway));
  if (instance.messageTool?.gateway)
    checks.push(gatewayCheck(instance, `instances.${instance.name}.messageTool.gateway`, "message_tool", instance.messageTool.gateway));
  if (instance.a2a?.token) {
    checks.push({
      instance: instance.name,
      check: `credential:instances.${instance.name}.a2a`,
      status: "pass",
      summary: `a2a: an A2A peer token (${instance.a2a.tokenSource}), which grants messages into this sender's own A2A conversations there, nothing else`,
    });
  }
  return checks;
}
