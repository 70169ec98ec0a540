import { InterInstanceError } from "../../core/errors.js";
import { makeInvite, validity } from "../../invite/make.js";
import type { CliContext } from "../context.js";

export interface ReverseOffer {
  readonly lines: readonly string[];
  readonly value: Record<string, unknown>;
}

/**
 * After pairing with another machine, the way back: an invite to this machine's Gateway and the
 * exact command to run there, so that its replies can reach this side. When this Gateway cannot be
 * invited to (loopback only, no TLS, not running) it says why and what to change instead, and the
 * pairing itself still stands. Made while the pairing waits for its approval: `openclaw qr` takes seconds.
 */
export async function reverseOffer(context: CliContext, theirName: string, signal?: AbortSignal): Promise<ReverseOffer> {
  try {
    const made = await makeInvite({ config: await context.loadConfig(), env: context.env, signal });
    const command = `openclaw-inter-instance pair ${made.invite}`;
    return {
      lines: [
        "",
        `So that ${theirName} can answer, run this on ${theirName}, valid ${validity(made.expiresAt)}; then approve it here with \`openclaw devices approve <requestId>\`:`,
        "",
        `  ${command}`,
        "",
      ],
      value: { command, invite: made.invite, url: made.url, tlsFingerprint: made.tlsFingerprint, expiresAt: made.expiresAt.toISOString() },
    };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const hint = error instanceof InterInstanceError && error.hint ? ` ${error.hint}` : "";
    return {
      lines: [
        "",
        `No invite back to this machine yet, so ${theirName} cannot answer here directly: ${message}${hint}`,
        `Once that is fixed, run \`openclaw-inter-instance invite\` here and the \`pair\` command it prints on ${theirName}; without an open port here, a node or a NATS fleet carries the answers instead.`,
      ],
      value: { error: { code: error instanceof InterInstanceError ? error.code : "ERROR", message } },
    };
  }
}
