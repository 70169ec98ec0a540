import type { ConsumerMessages, JsMsg } from "@nats-io/jetstream";
import { type Envelope, envelopeSchema } from "../../core/envelope.js";
import { removeMessageFiles } from "./files.js";
import { type NatsFleet, receiptKey } from "./fleet.js";

export interface NatsReceiverOptions {
  readonly fleet: NatsFleet;
  /** This instance's name: it reads `iim.<fleet>.<self>` through the durable consumer `iim-<self>`. */
  readonly self: string;
  /**
   * Hands one envelope to the agent: resolves true once its next turn durably holds it (then it is
   * acked), false when it cannot take it yet (no session, its queue full: tried again, never a
   * dead letter); a throw is a failure, counted towards `maxDeliver`.
   */
  readonly surface: (envelope: Envelope) => Promise<boolean>;
  readonly onError?: (error: unknown) => void;
  readonly log?: (line: string) => void;
}

const ACK_WAIT_MS = 60_000;
/** After the consumer's stream of messages ended (broker restarted, consumer lost): wait, then consume again. */
const RESUBSCRIBE_MS = 2_000;
const MAX_RESUBSCRIBE_MS = 15_000;
const PULL_EXPIRES_MS = 5_000;
const NANOS_PER_MS = 1_000_000;
/** Redelivery delays after a failed surface: 2 s, 4 s, 8 s, … up to a minute. */
const nakDelayMs = (failures: number) => Math.min(2_000 * 2 ** (failures - 1), 60_000);
/** While the agent cannot take more (its next turn's queue is full): 5 s, 10 s, 20 s, … up to a minute. */
const waitDelayMs = (deliveries: number) => Math.min(5_000 * 2 ** (deliveries - 1), 60_000);

/**
 * The receiving side on a fleet: a durable pull consumer per instance. A message is acked only
 * once the agent's next turn durably holds it (a receiver that acks first loses what it did not
 * really take); a failure naks it with a growing delay; after `maxDeliver` failures it goes to the
 * dead-letter subject `iim.<fleet>.dead.<self>`, where `deadLetters` lists it and `replay` sends it again.
 * An agent that cannot take a message yet is waited for, with no limit: that is no failure. The
 * consumer itself redelivers without limit; failures are counted here.
 */
export class NatsReceiver {
  readonly #options: NatsReceiverOptions;
  #messages: ConsumerMessages | undefined;
  #loop: Promise<void> | undefined;
  #stopped = false;
  /** Failed surfaces per stream sequence (a restart starts counting again). */
  readonly #failures = new Map<number, number>();
  /** Receipts being written, each followed by its message's ack. */
  readonly #settling = new Set<Promise<void>>();

  constructor(options: NatsReceiverOptions) {
    this.#options = options;
  }

  /** Joins the fleet (the first attempt's error is thrown), then keeps consuming: a broker restart or a lost consumer is followed by a new one. */
  async start(): Promise<void> {
    await this.#open();
    this.#loop = this.#supervise();
  }

  async #open(): Promise<void> {
    const { fleet, self } = this.#options;
    const js = await fleet.jetstream();
    const manager = await fleet.manager();
    const { AckPolicy, DeliverPolicy } = await import("@nats-io/jetstream");
    const durable = fleet.names.consumer(self);
    const wanted = {
      durable_name: durable,
      filter_subject: fleet.names.inbox(self),
      ack_policy: AckPolicy.Explicit,
      deliver_policy: DeliverPolicy.All,
      max_deliver: -1,
      ack_wait: ACK_WAIT_MS * NANOS_PER_MS,
    };
    if (await fleet.consumerInfo(self))
      await manager.consumers.update(fleet.names.stream, durable, { max_deliver: wanted.max_deliver, ack_wait: wanted.ack_wait });
    else await manager.consumers.add(fleet.names.stream, wanted);
    const consumer = await js.consumers.get(fleet.names.stream, durable);
    // Short pulls: a broker that restarted is noticed within seconds (missed heartbeats).
    const messages = await consumer.consume({ max_messages: 16, expires: PULL_EXPIRES_MS });
    this.#messages = messages;
    void (async () => {
      for await (const status of messages.status()) {
        // Its pulls went unanswered: end this stream of messages; the supervisor consumes anew.
        if ((status.type === "heartbeats_missed" && status.count >= 2) || status.type === "consumer_deleted" || status.type === "consumer_not_found") {
          await messages.close();
          return;
        }
      }
    })().catch(() => undefined);
  }

  async #supervise(): Promise<void> {
    // A broker that stays down is tried again less and less often (2 s up to 15 s), and said once.
    let failures = 0;
    while (!this.#stopped) {
      try {
        if (!this.#messages) {
          await this.#open();
          if (failures > 0)
            this.#options.log?.(
              `inter-instance nats: reading ${this.#options.fleet.names.inbox(this.#options.self)} again, after ${failures} failed attempt(s)`,
            );
          failures = 0;
        }
        for await (const message of this.#messages!) await this.#handle(message);
      } catch (error) {
        failures += 1;
        if (!this.#stopped && failures === 1) this.#options.onError?.(error);
      }
      this.#messages = undefined;
      if (!this.#stopped) await new Promise((resolve) => setTimeout(resolve, Math.min(RESUBSCRIBE_MS * 2 ** Math.max(0, failures - 1), MAX_RESUBSCRIBE_MS)));
    }
  }

  async #handle(message: JsMsg): Promise<void> {
    const { fleet, self, surface } = this.#options;
    let payload: unknown;
    try {
      payload = message.json();
    } catch {
      payload = undefined;
    }
    const parsed = envelopeSchema().safeParse(payload);
    if (!parsed.success || parsed.data.to !== self) {
      await this.#deadLetter(
        message,
        parsed.success ? `addressed to ${parsed.data.to}, not ${self}` : `not an envelope: ${parsed.error.issues[0]?.message ?? "invalid"}`,
      );
      return;
    }
    const envelope = parsed.data;
    let queued: boolean;
    try {
      queued = await surface(envelope);
    } catch (error) {
      this.#options.onError?.(error);
      const failures = (this.#failures.get(message.seq) ?? 0) + 1;
      this.#failures.set(message.seq, failures);
      if (failures < fleet.config.maxDeliver) message.nak(nakDelayMs(failures));
      else {
        this.#failures.delete(message.seq);
        await this.#deadLetter(message, `not taken by the agent after ${failures} failed deliveries`);
      }
      return;
    }
    if (!queued) {
      message.nak(waitDelayMs(message.info.deliveryCount));
      return;
    }
    this.#failures.delete(message.seq);
    // The receipt first: once acked, the sender's follow-up must find it. The next message is surfaced meanwhile.
    const settled = this.#receipt(envelope)
      .then(
        async () => {
          message.ack();
          // Its files were taken into the workspace (or the message was held or refused): their objects go.
          if (envelope.files) await this.#removeFiles(envelope);
        },
        (error: unknown) => {
          // Never acked without its receipt: given again, the agent's ledger knows it was taken, and the receipt is written then.
          this.#options.onError?.(error);
          message.nak(nakDelayMs(1));
        },
      )
      // A lost connection: the message is not acked, and the consumer gives it again.
      .catch((error: unknown) => this.#options.onError?.(error));
    this.#settling.add(settled);
    void settled.finally(() => this.#settling.delete(settled));
  }

  async #receipt(envelope: Envelope): Promise<void> {
    const { fleet, self } = this.#options;
    await (await fleet.bucket(fleet.names.receipts)).put(
      receiptKey(envelope.id),
      JSON.stringify({ state: "surfaced", by: self, at: new Date().toISOString() }),
    );
  }

  async #removeFiles(envelope: Envelope): Promise<void> {
    try {
      await removeMessageFiles(await this.#options.fleet.files(), envelope);
    } catch (error) {
      // Left in the store: a later message is not affected (objects are named by envelope).
      this.#options.onError?.(error);
    }
  }

  async #deadLetter(message: JsMsg, reason: string): Promise<void> {
    const { fleet, self } = this.#options;
    const { headers } = await import("@nats-io/transport-node");
    const h = headers();
    h.set("Iim-Reason", reason);
    h.set("Iim-Original-Seq", String(message.seq));
    await (await fleet.jetstream()).publish(fleet.names.deadLetters(self), message.data, { headers: h, msgID: `dead:${fleet.names.stream}:${message.seq}` });
    message.term(reason);
    this.#options.log?.(`inter-instance nats: message ${message.seq} went to ${fleet.names.deadLetters(self)}: ${reason}`);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await this.#messages?.close();
    await this.#loop;
    await Promise.all(this.#settling);
  }
}

export interface DeadLetter {
  /** Its sequence in the fleet's stream: what `replay` takes. */
  readonly seq: number;
  readonly envelope: Envelope | undefined;
  readonly reason: string;
  readonly at: string;
}

/** Dead letters of one instance, oldest first. */
export async function deadLetters(fleet: NatsFleet, instance: string): Promise<DeadLetter[]> {
  const js = await fleet.jetstream();
  const consumer = await js.consumers.get(fleet.names.stream, { filter_subjects: fleet.names.deadLetters(instance) });
  const found: DeadLetter[] = [];
  for (;;) {
    const message = await consumer.next({ expires: 1_000 });
    if (!message) break;
    let payload: unknown;
    try {
      payload = JSON.parse(message.string());
    } catch {
      payload = undefined;
    }
    const parsed = envelopeSchema().safeParse(payload);
    found.push({
      seq: message.seq,
      envelope: parsed.success ? parsed.data : undefined,
      reason: message.headers?.get("Iim-Reason") ?? "",
      at: new Date(message.info.timestampNanos / NANOS_PER_MS).toISOString(),
    });
    if (message.info.pending === 0) break;
  }
  await consumer.delete().catch(() => undefined);
  return found;
}

/** Sends a dead letter to its instance again (a new publish id, the same envelope) and removes it. */
export async function replayDeadLetter(fleet: NatsFleet, instance: string, seq: number): Promise<Envelope> {
  const manager = await fleet.manager();
  const stored = await manager.streams.getMessage(fleet.names.stream, { seq });
  if (!stored || stored.subject !== fleet.names.deadLetters(instance)) throw new Error(`No dead letter ${seq} for ${instance}.`);
  const envelope = envelopeSchema().parse(stored.json());
  await (await fleet.jetstream()).publish(fleet.names.inbox(instance), stored.data, { msgID: `${envelope.id}:replay:${seq}` });
  await manager.streams.deleteMessage(fleet.names.stream, seq);
  return envelope;
}
