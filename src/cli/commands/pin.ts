import { Command, Option } from "commander";
import { withInstance } from "../../config/file.js";
import { fingerprintOf } from "../../trust/signature.js";
import type { CliContext } from "../context.js";

type Inbound = "allow" | "hold" | "refuse";

/** `pin`: another instance's messaging key, and optionally what to do with its messages. */
export function pinCommand(context: CliContext): Command {
  return new Command("pin")
    .description("pin another instance's messaging key (and optionally what to do with its messages): messages it signs are shown verified")
    .argument("<name>", "its name here (an instance reached only by file or through a fleet needs no URL)")
    .argument("<public-key>", "the 43 characters `openclaw-inter-instance keys` shows on that machine")
    .addOption(new Option("--inbound <policy>", "its verified messages: allow (default), hold for you, or refuse").choices(["allow", "hold", "refuse"]))
    .action(async (name: string, publicKey: string, options: { inbound?: Inbound }) => {
      const inbound = options.inbound ? { inbound: options.inbound } : {};
      await context.updateConfig((config) => withInstance(config, name, { publicKey, ...inbound }));
      context.print(
        { pinned: name, fingerprint: fingerprintOf(publicKey), ...inbound },
        `Pinned ${name}'s key ${fingerprintOf(publicKey)}${options.inbound ? ` (its messages: ${options.inbound})` : ""}. Compare the fingerprint with \`openclaw-inter-instance keys\` on ${name}'s machine.`,
      );
    });
}
