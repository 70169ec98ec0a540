import { Command } from "commander";
import { loadConfigFile } from "../../config/parse.js";
import { defaultStateDir } from "../../gateway/device-identity.js";
import { MessagingKeyStore } from "../../trust/messaging-key.js";
import type { CliContext } from "../context.js";

/** `keys`: this instance's messaging key, or (--rotate) a new one the old one announces. */
export function keysCommand(context: CliContext): Command {
  return new Command("keys")
    .description("this instance's messaging key: the public key and fingerprint other instances pin")
    .option("--rotate", "make a new key, announced by a statement the old key signs")
    .action(async (options: { rotate?: boolean }) => {
      const config = await loadConfigFile(context.configPath());
      const store = new MessagingKeyStore(config.stateDir ?? defaultStateDir(context.env));
      const rotation = options.rotate ? store.rotate() : undefined;
      const key = store.key();
      const shown = { publicKey: key.publicKey, fingerprint: key.fingerprint, createdAt: key.createdAt, path: store.path, rotations: store.rotations() };
      const lead = rotation
        ? `Rotated. The new key is signed by the old one; peers that pinned the old key can follow the rotation in ${store.path}.`
        : `The messaging key of ${config.self.name}. Other instances pin this public key to verify what it sends.`;
      context.print(shown, [lead, `public key:  ${key.publicKey}`, `fingerprint: ${key.fingerprint}`, `created:     ${key.createdAt}`].join("\n"));
    });
}
