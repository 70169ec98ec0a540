import { missingCredential } from "../../config/names.js";
import type { Instance } from "../../config/registry.js";
import { cannotCarryFiles } from "../../core/attachments/carrying.js";
import type { Envelope } from "../../core/envelope.js";
import { UnavailableError } from "../../core/errors.js";
import { APPLIES, type Applicability, type DeliveryContext, notApplicable, type Receipt, type Transport } from "../../core/transport.js";
import type { GatewayPool } from "../../gateway/connection.js";
import { formatSessionMessage } from "../shared/session-message.js";

interface SendResult {
  readonly messageId?: string;
  readonly channel?: string;
}

/**
 * Tells a person through a chat channel of a Gateway (its `send` RPC, what the `message` tool
 * uses). Bot to human only: chat platforms refuse bot-to-bot messages (Telegram answers 403), so a
 * `recipient: "bot"` target is refused before anything is sent. The envelope id is the Gateway's
 * idempotency key, so a retry never posts twice.
 */
export class MessageToolTransport implements Transport {
  readonly id = "message_tool";
  readonly #pool: GatewayPool;

  constructor(pool: GatewayPool) {
    this.#pool = pool;
  }

  applies(instance: Instance, envelope: Envelope): Applicability {
    const files = cannotCarryFiles(envelope, "a chat channel message from this transport is text only");
    if (files) return files;
    const target = instance.messageTool;
    if (!target) return notApplicable("no messageTool channel is configured for this instance");
    if (target.recipient === "bot") {
      return notApplicable(
        `${target.to} on ${target.channel} is a bot, and bots cannot message bots there (Telegram answers 403); use sessions_send, a2a or the memory file`,
      );
    }
    if (!target.gateway) return notApplicable("messageTool needs a gateway (its own or the instance's)");
    const missing = missingCredential(target.gateway);
    if (missing) return notApplicable(missing);
    return APPLIES;
  }

  async probe(instance: Instance, signal: AbortSignal): Promise<string> {
    const gateway = instance.messageTool?.gateway;
    if (!gateway) throw new UnavailableError("message_tool has no gateway", { code: "NOT_CONFIGURED" });
    await this.#pool.forTarget(gateway).connect(signal);
    return `Gateway ${gateway.url} answered; it sends on ${instance.messageTool?.channel}`;
  }

  async deliver(envelope: Envelope, context: DeliveryContext): Promise<Receipt> {
    const target = context.instance.messageTool;
    const gateway = target?.gateway;
    if (!target || !gateway) throw new UnavailableError("message_tool used without a channel or gateway", { code: "NOT_CONFIGURED" });
    const result = await this.#pool.forTarget(gateway).request<SendResult>(
      "send",
      {
        to: target.to,
        channel: target.channel,
        // A person reads this on a chat app: no signature line they cannot check.
        message: formatSessionMessage({ ...envelope, signature: undefined }),
        idempotencyKey: envelope.id,
        ...(target.accountId ? { accountId: target.accountId } : {}),
      },
      { signal: context.signal },
    );
    return { status: "delivered", detail: { channel: result.channel ?? target.channel, to: target.to, messageId: result.messageId ?? "" } };
  }
}
