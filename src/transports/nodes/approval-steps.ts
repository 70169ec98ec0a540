import type { NodeTarget } from "../../config/registry.js";

/** `gateway.nodes.commands.allow` for the nodes transport (`file.write` is not allowed by default) and what else is missing. */
const allowList = (missing: readonly string[] = []) => JSON.stringify([...new Set(["file.write", ...missing])]);

/** `openclaw node run …` for the node's machine, dialling the Gateway it is configured with. */
function nodeRunCommand(target: NodeTarget, gatewayUrl: string): string {
  const url = new URL(gatewayUrl);
  const tls = url.protocol === "wss:";
  const port = url.port || (tls ? "443" : "80");
  const pin = tls && target.gateway.tlsFingerprint ? ` --tls-fingerprint ${target.gateway.tlsFingerprint}` : "";
  return `openclaw node run --host ${url.hostname} --port ${port}${tls ? ` --tls${pin}` : ""} --display-name ${target.name ?? "<name>"}`;
}

/**
 * What is still missing before a node named in the config can be used, in the order it has to be
 * done: OpenClaw pairs the node host's device first and its command surface second, a node paused
 * on PAIRING_REQUIRED does not resume by itself, and a surface approved before
 * `gateway.nodes.commands.allow` lists `file.write` stays without it until approved again.
 */
export function nodeApprovalSteps(
  target: NodeTarget,
  gatewayUrl: string,
  state: "not-listed" | "surface-pending" | "command-missing",
  detail: { readonly requestId?: string | undefined; readonly missing?: readonly string[] } = {},
): string {
  const settings = `on the Gateway at ${gatewayUrl}: \`openclaw config set gateway.nodes.commands.allow '${allowList()}' --strict-json\` and the file-transfer write policy (plugins.entries.file-transfer.config), before the node connects`;
  const restart =
    "restart the node host on its machine (`openclaw node restart`, or stop and rerun `openclaw node run …`): a node paused on PAIRING_REQUIRED does not resume by itself";
  const approveSurface = `approve its command surface there: \`openclaw nodes pending\`, then \`openclaw nodes approve ${detail.requestId ?? "<requestId>"}\``;
  const steps =
    state === "not-listed"
      ? [
          settings,
          `start the node host on the target machine: \`${nodeRunCommand(target, gatewayUrl)}\``,
          "approve its device on the Gateway's machine: `openclaw devices list`, then `openclaw devices approve <requestId>`",
          restart,
          approveSurface,
        ]
      : state === "surface-pending"
        ? [`its device is approved and it is connected; ${approveSurface}`]
        : [
            `add ${(detail.missing ?? []).map((command) => `"${command}"`).join(", ")} to gateway.nodes.commands.allow on ${gatewayUrl} (\`openclaw config set gateway.nodes.commands.allow '${allowList(detail.missing)}' --strict-json\`)`,
            restart,
            approveSurface.replace("its command surface", "its new command surface"),
          ];
  return `Missing, in this order: ${steps.map((step, index) => `${index + 1}. ${step}`).join("; ")}.`;
}
