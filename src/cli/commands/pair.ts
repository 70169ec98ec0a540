import { Command } from "commander";
import { type InstanceInput, updateConfigFile, withInstance } from "../../config/file.js";
import { loadConfigFile } from "../../config/parse.js";
import { DeviceIdentityStore, defaultStateDir } from "../../gateway/device-identity.js";
import { decodeSetupCode, pairWithSetupCode } from "../../gateway/pairing.js";
import type { CliContext } from "../context.js";
import { durationOption } from "../duration.js";
import { checkInstance, collect } from "./new-instance.js";

interface PairOptions {
  readonly tlsFingerprint?: string;
  readonly alias?: string[];
  readonly timeout?: number;
  readonly publicKey?: string;
}

/** `pair`: pair with another Gateway from its setup code, then add and check it. */
export function pairCommand(context: CliContext): Command {
  return new Command("pair")
    .description("pair with another instance's Gateway from its setup code (`openclaw qr --setup-code-only --limited` there), then add it")
    .argument("<name>", "its name here, e.g. xiaom")
    .argument("<setup-code>", "the code (or oc-pair:// link)")
    .option("--tls-fingerprint <sha256>", "pin its TLS certificate when the code carries no pin")
    .option("--alias <alias>", "another name for it (repeatable)", collect)
    .addOption(durationOption("--timeout <duration>", "stop waiting for the approval after this long (default: until the code expires)"))
    .option("--public-key <key>", "its messaging key (`openclaw-inter-instance keys` there), to pin with the pairing")
    .action(async (name: string, code: string, options: PairOptions) => {
      const path = context.configPath();
      const config = await loadConfigFile(path);
      const setupCode = decodeSetupCode(code);
      const identity = new DeviceIdentityStore(config.stateDir ?? defaultStateDir(context.env));
      context.progress(
        `Connecting to ${setupCode.url} with the setup code${setupCode.expiresAt ? ` (valid until ${setupCode.expiresAt.toISOString()})` : ""}…`,
      );
      const paired = await pairWithSetupCode({
        setupCode,
        identity,
        tlsFingerprint: options.tlsFingerprint,
        env: context.env,
        ...(options.timeout ? { timeoutMs: options.timeout } : {}),
        onPending: ({ requestId, approveCommand }) =>
          context.progress(`Waiting for approval${requestId ? ` of request ${requestId}` : ""}. On that machine run: ${approveCommand}`),
      });
      const instance: InstanceInput = {
        gateway: { url: paired.url, ...(paired.tlsFingerprint ? { tlsFingerprint: paired.tlsFingerprint } : {}) },
        ...(options.alias ? { aliases: options.alias } : {}),
        ...(options.publicKey ? { publicKey: options.publicKey } : {}),
      };
      await updateConfigFile(path, (current) => withInstance(current, name, instance));
      await checkInstance(
        context,
        name,
        `Paired with ${name} (${paired.url}) as device ${paired.deviceId.slice(0, 12)}…; scopes: ${paired.scopes.join(", ") || "none"}. No shared token is stored.`,
        {
          paired: { name, url: paired.url, scopes: paired.scopes, deviceId: paired.deviceId },
        },
      );
    });
}
