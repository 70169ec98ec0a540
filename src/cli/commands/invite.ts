import { Command } from "commander";
import { type MadeInvite, makeInvite, validity } from "../../invite/make.js";
import type { CliContext } from "../context.js";
import { BadInput } from "../exit.js";
import { configOrNew } from "./new-instance.js";

/** The lines that hand an invite over: what it is, the command for the other machine, how long it lasts. */
export function describeInvite(made: MadeInvite, now: Date = new Date()): string[] {
  return [
    `Invite to ${made.name}: Gateway ${made.url}, TLS certificate SHA-256 ${made.tlsFingerprint}, messaging key ${made.keyFingerprint}.`,
    `Valid ${validity(made.expiresAt, now)}, for one pairing. It carries a one-time pairing code and no token; give it only to the person you pair with.`,
    "On the other machine run:",
    "",
    `  openclaw-inter-instance pair ${made.invite}`,
    "",
    "When it asks, approve it here: `openclaw devices approve <requestId>`.",
  ];
}

export function inviteJson(made: MadeInvite): Record<string, unknown> {
  return {
    invite: made.invite,
    name: made.name,
    url: made.url,
    tlsFingerprint: made.tlsFingerprint,
    publicKey: made.publicKey,
    keyFingerprint: made.keyFingerprint,
    expiresAt: made.expiresAt.toISOString(),
  };
}

/** `invite`: one line for another machine that pairs with this Gateway and pins its certificate and key. */
export function inviteCommand(context: CliContext): Command {
  return new Command("invite")
    .description(
      "print one invite for another machine: checks that this Gateway serves off loopback with TLS, then `pair <invite>` there pairs, pins and checks",
    )
    .option("--url <url>", "the wss:// address the other machine reaches this Gateway at, when not the one gateway.bind gives (a DNS or tailnet name)")
    .action(async (options: { url?: string }) => {
      if (options.url !== undefined) {
        const url = URL.canParse(options.url) ? new URL(options.url) : undefined;
        if (url?.protocol !== "wss:" || url.username || url.password || url.search) {
          throw new BadInput("--url must be a wss:// URL without credentials or query, e.g. wss://mac-mini.tail1234.ts.net:18789.");
        }
      }
      const config = await configOrNew(context);
      context.progress("Making a setup code with this machine's OpenClaw and checking that its Gateway serves it…");
      const made = await makeInvite({ config, env: context.env, url: options.url });
      context.print(inviteJson(made), describeInvite(made).join("\n"));
    });
}
