import { Command } from "commander";
import { type InstanceInput, withInstance } from "../../config/file.js";
import { DeviceIdentityStore, defaultStateDir } from "../../gateway/device-identity.js";
import { decodeSetupCode, pairWithSetupCode, type SetupCode } from "../../gateway/pairing.js";
import { type DecodedInvite, decodeInvite, looksLikeInvite } from "../../invite/code.js";
import { validity } from "../../invite/make.js";
import { fingerprintOf } from "../../trust/signature.js";
import type { CliContext } from "../context.js";
import { durationOption } from "../duration.js";
import { BadInput } from "../exit.js";
import { checkInstance, collect, configOrNew } from "./new-instance.js";
import { reverseOffer } from "./pair-reverse.js";

interface PairOptions {
  readonly tlsFingerprint?: string;
  readonly alias?: string[];
  readonly timeout?: number;
  readonly publicKey?: string;
  readonly reverse?: boolean;
}

const sameFingerprint = (a: string, b: string) => a.replace(/:/gu, "").toLowerCase() === b.replace(/:/gu, "").toLowerCase();

/** What was pasted: an invite (name, pins and code in one) or a bare setup code, and the name to file it under. */
function readCode(first: string, second: string | undefined, options: PairOptions): { name: string; setup: SetupCode; invite?: DecodedInvite } {
  const code = second ?? first;
  if (looksLikeInvite(code)) {
    const invite = decodeInvite(code);
    // A flag that contradicts the invite is a mistake or a substitution: refuse rather than guess which one is right.
    if (options.tlsFingerprint && !sameFingerprint(options.tlsFingerprint, invite.tlsFingerprint)) {
      throw new BadInput(
        `--tls-fingerprint ${options.tlsFingerprint} differs from the invite's ${invite.tlsFingerprint}; compare both with the target, then leave one out.`,
      );
    }
    if (options.publicKey && options.publicKey !== invite.publicKey) {
      throw new BadInput(`--public-key differs from the key in the invite (${fingerprintOf(invite.publicKey)}); leave it out, or ask for a new invite.`);
    }
    return { name: second === undefined ? invite.name : first, setup: invite.setup, invite };
  }
  if (second === undefined) {
    throw new BadInput(
      "A setup code needs the name to file it under: `pair <name> <setup-code>` (an invite from `openclaw-inter-instance invite` carries its name).",
    );
  }
  return { name: first, setup: decodeSetupCode(code) };
}

/** `pair`: pair with another Gateway from its invite (or setup code), pin what it carries, then add and check it. */
export function pairCommand(context: CliContext): Command {
  return new Command("pair")
    .description("pair with another instance's Gateway from its invite (`openclaw-inter-instance invite` there) or setup code, then add and check it")
    .argument("<name-or-code>", "the invite alone; or its name here (e.g. xiaom) followed by the invite or setup code")
    .argument("[code]", "the invite, the setup code, or an oc-pair:// link")
    .option("--tls-fingerprint <sha256>", "pin its TLS certificate when the code carries no pin")
    .option("--alias <alias>", "another name for it (repeatable)", collect)
    .addOption(durationOption("--timeout <duration>", "stop waiting for the approval after this long (default: until the code expires)"))
    .option("--public-key <key>", "its messaging key (`openclaw-inter-instance keys` there), to pin with the pairing")
    .option("--no-reverse", "do not make an invite back to this machine at the end")
    .action((first: string, second: string | undefined, options: PairOptions) => pair(context, first, second, options));
}

/** Pairs, pins, writes the instance, then checks it and offers the way back. */
async function pair(context: CliContext, first: string, second: string | undefined, options: PairOptions): Promise<void> {
  const { name, setup, invite } = readCode(first, second, options);
  const config = await configOrNew(context);
  const identity = new DeviceIdentityStore(config.stateDir ?? defaultStateDir(context.env));
  const from = invite ? `${invite.name}'s invite (certificate ${invite.tlsFingerprint}, key ${fingerprintOf(invite.publicKey)})` : "the setup code";
  context.progress(`Connecting to ${setup.url} with ${from}${setup.expiresAt ? `, valid ${validity(setup.expiresAt)}` : ""}…`);
  // The invite back is made meanwhile: the approval on the other machine takes a person anyway.
  const cancelReverse = new AbortController();
  const reversing = options.reverse === false ? undefined : reverseOffer(context, name, cancelReverse.signal);
  const paired = await pairWithSetupCode({
    setupCode: setup,
    identity,
    tlsFingerprint: options.tlsFingerprint ?? invite?.tlsFingerprint,
    env: context.env,
    ...(options.timeout ? { timeoutMs: options.timeout } : {}),
    onPending: ({ requestId, approveCommand }) =>
      context.progress(`Waiting for approval${requestId ? ` of request ${requestId}` : ""}. On that machine run: ${approveCommand}`),
  }).catch((error: unknown) => {
    cancelReverse.abort();
    throw error;
  });
  const publicKey = options.publicKey ?? invite?.publicKey;
  const instance: InstanceInput = {
    gateway: { url: paired.url, ...(paired.tlsFingerprint ? { tlsFingerprint: paired.tlsFingerprint } : {}) },
    ...(options.alias ? { aliases: options.alias } : {}),
    ...(publicKey ? { publicKey } : {}),
  };
  const savedIn = await context.updateConfig((current) => withInstance(current, name, instance));
  const reverse = await reversing;
  await checkInstance(
    context,
    name,
    `Paired with ${name} (${paired.url}) as device ${paired.deviceId.slice(0, 12)}…; scopes: ${paired.scopes.join(", ") || "none"}. No shared token is stored.` +
      (publicKey ? ` Pinned its messaging key ${fingerprintOf(publicKey)}.` : "") +
      ` Saved in ${savedIn}.`,
    {
      paired: { name, url: paired.url, scopes: paired.scopes, deviceId: paired.deviceId, ...(publicKey ? { publicKey } : {}), savedIn },
      ...(reverse ? { reverse: reverse.value } : {}),
    },
    reverse?.lines ?? [],
  );
}
