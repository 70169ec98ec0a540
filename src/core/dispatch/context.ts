import type { Logger } from "pino";
import type { InstanceRegistry } from "../../config/registry.js";
import type { TransportId } from "../../config/schema.js";
import type { SecretSet } from "../../util/redact.js";
import type { FileSource } from "../attachments/held-files.js";
import type { CircuitBreaker } from "../circuit-breaker.js";
import type { Envelope } from "../envelope.js";
import type { Transport } from "../transport.js";
import type { DeliveryReport, ReportOrigin } from "./report.js";

/** What every part of the dispatcher works with: the dispatcher's options, resolved once. */
export interface DispatchContext {
  readonly registry: InstanceRegistry;
  readonly transports: ReadonlyMap<TransportId, Transport>;
  readonly logger: Logger;
  readonly secrets: SecretSet | undefined;
  readonly retryMinTimeoutMs: number;
  readonly circuits: CircuitBreaker;
  readonly sign: ((envelope: Envelope) => Envelope) | undefined;
  readonly onReport: ((envelope: Envelope, report: DeliveryReport, origin: ReportOrigin) => void) | undefined;
  readonly onLost: ((envelope: Envelope, report: DeliveryReport) => void) | undefined;
  readonly onWaiting: (() => void) | undefined;
  /** The bytes of the files envelopes list: held by a send in flight, or kept in the outbox. */
  readonly files: FileSource;
  /** Checks of a path that run after the send that started them returned; stopped by `close`. */
  readonly background: BackgroundChecks;
}

/** Work that outlives the call that started it: one at a time per key, every one stopped on close. */
export class BackgroundChecks {
  readonly #stop = new AbortController();
  readonly #running = new Map<string, Promise<void>>();

  /** Runs `check` unless one under the same key still runs or the checks were stopped. Never throws. */
  start(key: string, check: (signal: AbortSignal) => Promise<unknown>): void {
    if (this.#stop.signal.aborted || this.#running.has(key)) return;
    const running = check(this.#stop.signal)
      .then(
        () => undefined,
        () => undefined,
      )
      .finally(() => this.#running.delete(key));
    this.#running.set(key, running);
  }

  async stop(): Promise<void> {
    this.#stop.abort(new Error("the dispatcher is closing"));
    await Promise.all(this.#running.values());
  }
}

export const msSince = (since: number): number => Math.round(performance.now() - since);
