import type { OpenClawPluginApi, OpenClawPluginService } from "openclaw/plugin-sdk/plugin-entry";
import type { Config } from "../../config/schema.js";
import type { Envelope } from "../../core/envelope.js";
import { defaultStateDir } from "../../gateway/device-identity.js";
import { InboxLedger } from "../../inbox/ledger.js";
import { type FetchLimits, fetchMessageFiles } from "../../transports/nats/files.js";
import { type FleetLease, leaseFleet, type NatsFleet } from "../../transports/nats/fleet.js";
import { announce } from "../../transports/nats/presence.js";
import { NatsReceiver } from "../../transports/nats/receiver.js";
import { incomingFilesDir } from "../../transports/nodes/incoming.js";
import { frameForAgent, howToAnswerTask, type SenderVerdict } from "../../trust/frame.js";
import { MessagingKeyStore } from "../../trust/messaging-key.js";
import { pinnedKeysOf } from "../../trust/pins.js";
import { verifySender } from "../../trust/sign-envelope.js";
import type { InboundGate, ReplySettler } from "../gates/inbound.js";
import { PLUGIN_ID } from "../id.js";
import { incomingFilesText } from "../incoming-files-text.js";
import { heartbeatWaker, queueIntoNextTurn } from "../next-turn.js";
import { agentWorkspace } from "../workspace.js";

export const NATS_SERVICE_ID = "inter-instance-nats";

/** What the agent reads for a message that came through the fleet's broker. */
export function natsInjectionText(envelope: Envelope, verdict: SenderVerdict, files?: string): string {
  const task = envelope.task && verdict.verified ? `; ${howToAnswerTask(verdict.from, envelope.id)}` : "";
  return frameForAgent(verdict, envelope.id, envelope.body, `sent ${envelope.createdAt} through the NATS fleet${task}`, files).text;
}

/** The message's files fetched from the fleet's object store into the incoming folder, checked there, as the frame lists them. */
async function natsFilesText(
  fleet: NatsFleet,
  envelope: Envelope,
  verdict: SenderVerdict,
  workspace: string,
  limits: FetchLimits,
): Promise<string | undefined> {
  if (!envelope.files) return undefined;
  const notFetched = await fetchMessageFiles(await fleet.files(), envelope, incomingFilesDir(workspace), limits);
  return incomingFilesText(envelope.files, verdict.verified, workspace, notFetched);
}

/** This instance's messaging key for the presence registry; left out when it cannot be read. */
function announcedKey(config: Config): { publicKey?: string } {
  try {
    return { publicKey: new MessagingKeyStore(config.stateDir ?? defaultStateDir()).key().publicKey };
  } catch {
    return {};
  }
}

/**
 * The receiving side on a NATS fleet: this instance's durable consumer feeds its agent's next turn
 * (acked once queued there), and the instance announces itself in the fleet's presence registry.
 * Nothing runs unless the config has `nats`. Dials out only: fit for a machine behind NAT.
 */
export function createNatsService(
  api: OpenClawPluginApi,
  config: () => Config,
  resolvedConfig: () => Promise<Config>,
  gate: InboundGate,
  settleReply?: ReplySettler,
): OpenClawPluginService {
  let lease: FleetLease | undefined;
  let receiver: NatsReceiver | undefined;
  let presence: NodeJS.Timeout | undefined;
  return {
    id: NATS_SERVICE_ID,
    reload: { configPrefixes: [`plugins.entries.${PLUGIN_ID}.config`] },
    async start(ctx) {
      if (!config().nats) return;
      const settings = await resolvedConfig();
      const pinned = pinnedKeysOf(settings);
      const nats = settings.nats!;
      // The same connection as the plugin's sends (one per fleet config in the Gateway process).
      lease = leaseFleet(nats);
      const fleet = lease.fleet;
      const sessionKey = settings.inbox.sessionKey;
      const wake = heartbeatWaker(api, sessionKey);
      // The host forgets an injection's idempotency key once a turn consumed it, and a broker that
      // lost acks (killed, restarted) delivers again: the workspace's receipts say what was taken.
      const workspace = agentWorkspace(api, ctx);
      const ledger = new InboxLedger(workspace);
      await ledger.load();
      const surface = async (envelope: Envelope): Promise<boolean> => {
        if (ledger.state(envelope.id)) return true;
        const arriving = {
          id: envelope.id,
          verdict: verifySender(envelope, envelope.signature, pinned),
          body: envelope.body,
          transport: "nats",
          sessionKey,
          conversation: envelope.conversation,
          hop: envelope.hop,
          replyTo: envelope.replyTo,
          signedFor: { to: envelope.to, createdAt: envelope.createdAt },
        };
        // A held or refused message is taken from the stream: the held store keeps it for the owner.
        const decision = await gate.admit(arriving);
        // The verdict the gate decided with (a signature for another instance, or too old, no longer verifies).
        const { verdict } = decision;
        if (decision.action !== "allow") {
          // A repeat of a message already shown in the session is taken too, as surfaced (it was).
          await ledger.record(envelope.id, decision.action === "hold" ? "held" : decision.action === "suppress" ? "surfaced" : "refused", envelope.from);
          return true;
        }
        // A verified answer to one of our tasks settles it, and its text is brought as the task's
        // result. One with files is also shown as it came, its files fetched and listed (as on a
        // session): the result is text, and the files' objects go once the receipt is written.
        if (!envelope.files && (await gate.answersTask({ ...arriving, verdict }, settleReply))) {
          await ledger.record(envelope.id, "surfaced", envelope.from);
          return true;
        }
        // A broken connection throws here: the message is given again, its objects still in the store.
        const files = await natsFilesText(fleet, envelope, verdict, workspace, settings.attachments);
        if (
          !(await queueIntoNextTurn(
            api,
            ctx.logger,
            { sessionKey, workspace, wake: settings.inbox.wake ? wake : undefined },
            {
              id: envelope.id,
              from: envelope.from,
              text: natsInjectionText(envelope, verdict, files),
              via: "nats",
              conversation: decision.conversation,
              hop: decision.hop,
            },
          ))
        )
          return false;
        if (envelope.files) await gate.answersTask({ ...arriving, verdict }, settleReply);
        gate.record({ ...arriving, verdict }, "surfaced");
        await ledger.record(envelope.id, "surfaced", envelope.from);
        return true;
      };
      receiver = new NatsReceiver({
        fleet,
        self: settings.self.name,
        surface,
        onError: (error) => ctx.logger.warn(`inter-instance nats: ${String(error)}`),
        log: (line) => ctx.logger.warn(line),
      });
      const entry = {
        name: settings.self.name,
        aliases: [],
        receives: ["nats", ...(settings.inbox.enabled ? ["memory_file"] : [])],
        ...announcedKey(settings),
      };
      const announceNow = () => announce(fleet, entry).catch((error: unknown) => ctx.logger.warn(`inter-instance nats: presence: ${String(error)}`));
      // A broker that is down at start is retried by the client; the consumer starts once it answers.
      await receiver.start().catch((error: unknown) => ctx.logger.warn(`inter-instance nats: ${String(error)}`));
      await announceNow();
      presence = setInterval(() => void announceNow(), Math.max(5_000, Math.floor(nats.presenceTtlMs / 3)));
      presence.unref();
      ctx.logger.info(`inter-instance nats: ${settings.self.name} reads ${fleet.names.inbox(settings.self.name)} on ${nats.servers.join(", ")}`);
    },
    async stop() {
      if (presence) clearInterval(presence);
      await receiver?.stop();
      await lease?.release();
      receiver = undefined;
      lease = undefined;
    },
  };
}
