import type { Logger } from "pino";
import type { Envelope } from "../core/envelope.js";
import { type MessagingKey, MessagingKeyStore } from "../trust/messaging-key.js";
import { signEnvelope } from "../trust/sign-envelope.js";

export interface Signer {
  /** The envelope signed by this instance's messaging key, or as it is when the key cannot be read. */
  sign(envelope: Envelope): Envelope;
  /** Whether envelopes go out signed (false until the first `sign`, and when the key is unreadable). */
  readonly signing: boolean;
}

/** Signs with this instance's messaging key, read (or made) on first use. */
export function signer(stateDir: string, logger: Logger): Signer {
  const keys = new MessagingKeyStore(stateDir);
  let key: MessagingKey | null | undefined;
  return {
    sign(envelope) {
      if (key === undefined) {
        try {
          key = keys.key();
        } catch (error) {
          // Unsigned is still delivered; the receiver shows it as unverified.
          key = null;
          logger.warn(
            { path: keys.path, error: error instanceof Error ? error.message : String(error) },
            "cannot read or create the messaging key: messages go out unsigned",
          );
        }
      }
      return key ? signEnvelope(envelope, key) : envelope;
    },
    get signing() {
      return key != null;
    },
  };
}
