import type { Instance } from "../config/registry.js";
import type { Envelope } from "../envelope.js";
import type { GatewayPool } from "../gateway/connection.js";
import { APPLIES, notApplicable, type Applicability, type DeliveryContext, type Receipt, type Transport } from "../transport.js";

interface SessionsSendResult {
  readonly runId?: string;
  readonly status?: string;
}

/**
 * The text a target session receives. The first line names the sender and the envelope id, and
 * keeps a body that starts with "/" from reading as a slash command of the target's owner.
 */
export function formatSessionMessage(envelope: Envelope): string {
  return `[Message from ${envelope.from} via openclaw-inter-instance, id ${envelope.id}]\n${envelope.body}`;
}

/**
 * Delivers into a session of the target's Gateway through its `sessions.send` RPC, over a kept-open
 * WebSocket. The envelope id is the idempotency key: the Gateway answers a repeat with
 * `in_flight` or `ok` and shows the message once.
 */
export class SessionsSendTransport implements Transport {
  readonly id = "sessions_send";
  readonly #pool: GatewayPool;

  constructor(pool: GatewayPool) {
    this.#pool = pool;
  }

  applies(instance: Instance): Applicability {
    if (!instance.gateway) return notApplicable("no gateway.url is configured for this instance");
    if (!instance.gateway.token) return notApplicable(`no token: ${instance.gateway.tokenSource} is not set`);
    return APPLIES;
  }

  async deliver(envelope: Envelope, context: DeliveryContext): Promise<Receipt> {
    const { gateway, sessionKey } = context.instance;
    if (!gateway?.token) throw new Error("sessions_send used without a gateway token");
    const connection = this.#pool.get({ url: gateway.url, token: gateway.token, tokenSource: gateway.tokenSource, tlsFingerprint: gateway.tlsFingerprint });
    const result = await connection.request<SessionsSendResult>(
      "sessions.send",
      { key: sessionKey, message: formatSessionMessage(envelope), idempotencyKey: envelope.id },
      { signal: context.signal },
    );
    return {
      status: "accepted",
      detail: { runId: result.runId ?? envelope.id, gatewayStatus: result.status ?? "unknown", sessionKey },
    };
  }

  async close(): Promise<void> {
    await this.#pool.closeAll();
  }
}
