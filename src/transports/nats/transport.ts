import { setTimeout as delay } from "node:timers/promises";
import type { Instance } from "../../config/registry.js";
import type { Envelope } from "../../core/envelope.js";
import { TransportError, UnavailableError, UnsuitableMessageError } from "../../core/errors.js";
import { APPLIES, type Applicability, type DeliveryContext, type FollowUp, notApplicable, type Receipt, type Transport } from "../../core/transport.js";
import { withoutStackTraces } from "../../util/stack.js";
import { putMessageFiles, removeObjects } from "./files.js";
import { type FleetLease, type NatsFleet, natsUnavailable, REPLY_TTL_MS, receiptKey, type StoredReply } from "./fleet.js";

const REPLY_POLL_MS = 500;

/**
 * Whether a publish failed with the stream's own refusal (an API error in its answer, or nobody
 * listening on the subject: no stream there), so that the envelope is surely not in the stream. A
 * timeout or a dropped connection is not: the stream may have stored it and only the ack was lost.
 */
async function refusedByStream(error: unknown): Promise<boolean> {
  const { JetStreamApiError } = await import("@nats-io/jetstream");
  return error instanceof JetStreamApiError || (error instanceof Error && error.name === "JetStreamNotEnabled");
}

/**
 * Publishes the envelope into the fleet's JetStream stream on `iim.<fleet>.<instance>`, with the
 * envelope id as `Nats-Msg-Id`: a retry or a second send of the same id within the duplicate window
 * is stored once. The stream's ack is `accepted`; the receiving plugin's durable consumer takes it
 * into its agent's session whenever that instance is online (it only dials out), and writes a
 * receipt that `followUp` reads as delivered. A message's files go first, into the fleet's object
 * store (the envelope lists each by name, size and SHA-256); the receiver fetches and checks them.
 */
export class NatsTransport implements Transport {
  readonly id = "nats";
  readonly pipelined = true;
  readonly #lease: FleetLease | undefined;
  readonly #fleet: NatsFleet | undefined;

  constructor(lease: FleetLease | undefined) {
    this.#lease = lease;
    this.#fleet = lease?.fleet;
  }

  applies(_instance: Instance, _envelope: Envelope): Applicability {
    return this.#fleet ? APPLIES : notApplicable("no NATS fleet is configured (nats in the config)");
  }

  #fleetOrThrow(): NatsFleet {
    if (!this.#fleet) throw new UnavailableError("No NATS fleet is configured.", { code: "NOT_CONFIGURED" });
    return this.#fleet;
  }

  async probe(instance: Instance): Promise<string> {
    const fleet = this.#fleetOrThrow();
    await fleet.jetstream();
    const consumer = await fleet.consumerInfo(instance.name);
    return consumer
      ? `stream ${fleet.names.stream} on ${fleet.config.servers.join(", ")}; ${instance.name}'s consumer has ${consumer.num_pending} message(s) waiting`
      : `stream ${fleet.names.stream} on ${fleet.config.servers.join(", ")}; ${instance.name} has not joined yet: messages wait in the stream until its plugin does`;
  }

  async deliver(envelope: Envelope, context: DeliveryContext): Promise<Receipt> {
    const fleet = this.#fleetOrThrow();
    const js = await fleet.jetstream();
    const payload = JSON.stringify(envelope);
    const limit = (await fleet.connection()).info?.max_payload;
    if (limit !== undefined && Buffer.byteLength(payload, "utf8") > limit) {
      throw new UnsuitableMessageError(
        `The envelope (${Buffer.byteLength(payload, "utf8")} bytes) is larger than the NATS servers' max_payload (${limit} bytes).`,
        {
          code: "TOO_LARGE_FOR_TARGET",
          hint: "Raise max_payload on the NATS servers, or send large content with `sync files`.",
        },
      );
    }
    context.signal.throwIfAborted();
    /** The objects this attempt put (not those an earlier attempt of the same envelope left). */
    const put: string[] = [];
    if (envelope.files) {
      const store = await fleet.files();
      const onPut = (name: string) => void put.push(name);
      await putMessageFiles(store, envelope, context.files, { timeoutMs: context.instance.timeouts.nats, signal: context.signal, onPut }).catch(
        (error: unknown) => {
          throw error instanceof TransportError ? error : natsUnavailable(fleet.config, error);
        },
      );
    }
    // The client makes a request error and a timeout error per publish, for their stacks should either be thrown; a
    // failure here is reported by its message and code (natsUnavailable), never by those stacks.
    const ack = await withoutStackTraces(() =>
      js.publish(fleet.names.inbox(context.instance.name), payload, { msgID: envelope.id, timeout: context.instance.timeouts.nats }),
    ).catch(async (error: unknown) => {
      if (put.length > 0 && (await refusedByStream(error)) && !context.signal.aborted) await this.#removePut(fleet, put, envelope, context);
      throw natsUnavailable(fleet.config, error);
    });
    return { status: "accepted", detail: { stream: ack.stream, seq: ack.seq, duplicate: ack.duplicate } };
  }

  /**
   * After the stream refused the envelope, the objects this attempt put serve nobody: no copy of it
   * is in the stream, and a retry (from the outbox, by this transport) puts them again. Left, they
   * would stay in the store for good when the message goes another way or is dropped. A failure to
   * remove them is logged; the send's own error is what the caller hears.
   */
  async #removePut(fleet: NatsFleet, names: readonly string[], envelope: Envelope, context: DeliveryContext): Promise<void> {
    await removeObjects(await fleet.files(), names).catch((error: unknown) =>
      context.logger.warn({ envelopeId: envelope.id, objects: names.length, err: String(error) }, "could not remove the objects of a send the stream refused"),
    );
  }

  /** The receiver writes a receipt once the message is queued into its agent's next turn. */
  async followUp(envelope: Envelope): Promise<FollowUp> {
    const fleet = this.#fleetOrThrow();
    const receipts = await fleet.bucket(fleet.names.receipts);
    return (await receipts.get(receiptKey(envelope.id))) ? { status: "delivered" } : { status: "waiting" };
  }

  /** For `ask`: the receiving plugin stores the answer of the turn that carried the envelope (it only dials out, too). */
  async awaitReply(envelope: Envelope, _receipt: Receipt, context: DeliveryContext): Promise<string> {
    const fleet = this.#fleetOrThrow();
    const replies = await fleet.bucket(fleet.names.replies, REPLY_TTL_MS);
    for (;;) {
      context.signal.throwIfAborted();
      const entry = await replies.get(receiptKey(envelope.id)).catch(() => null);
      if (entry && entry.length > 0) return (entry.json() as StoredReply).text;
      await delay(REPLY_POLL_MS, undefined, { signal: context.signal });
    }
  }

  /** For `delegate`: the same stored answer, looked at once (the task is followed, not waited for). */
  async checkReply(envelope: Envelope): Promise<string | undefined> {
    const fleet = this.#fleetOrThrow();
    const replies = await fleet.bucket(fleet.names.replies, REPLY_TTL_MS);
    const entry = await replies.get(receiptKey(envelope.id)).catch(() => null);
    return entry && entry.length > 0 ? (entry.json() as StoredReply).text : undefined;
  }

  async close(): Promise<void> {
    await this.#lease?.release();
  }
}
