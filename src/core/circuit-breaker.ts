import type { FailureClass } from "./errors.js";

interface Circuit {
  readonly openedAt: number;
  readonly until: number;
  readonly code: string;
}

export interface CircuitState {
  readonly open: boolean;
  readonly reason?: string;
}

/**
 * Remembers, per instance and transport, that a path just failed as unavailable or timed out, so
 * the next messages skip it for a cool-down instead of waiting out the same failure again. After
 * the cool-down one attempt goes through (half-open); a success closes the circuit.
 */
export class CircuitBreaker {
  readonly #cooldownMs: number;
  readonly #now: () => number;
  readonly #circuits = new Map<string, Circuit>();
  /** Endpoints (host:port) that refused connections: every transport that dials one is passed over for the cool-down. */
  readonly #deadEndpoints = new Map<string, Circuit>();

  constructor(cooldownMs: number, now: () => number = Date.now) {
    this.#cooldownMs = cooldownMs;
    this.#now = now;
  }

  state(instance: string, transport: string): CircuitState {
    const circuit = this.#circuits.get(`${instance}\u0000${transport}`);
    const now = this.#now();
    if (!circuit || now >= circuit.until) return { open: false };
    const ago = Math.round((now - circuit.openedAt) / 1000);
    const left = Math.ceil((circuit.until - now) / 1000);
    return { open: true, reason: `circuit open: ${circuit.code} ${ago}s ago; tried again in ${left}s` };
  }

  /** Whether the endpoint a transport dials was just found dead (by this or another transport). */
  endpointState(endpoint: string | undefined): CircuitState {
    const circuit = endpoint === undefined ? undefined : this.#deadEndpoints.get(endpoint);
    const now = this.#now();
    if (!circuit || now >= circuit.until) return { open: false };
    const ago = Math.round((now - circuit.openedAt) / 1000);
    return {
      open: true,
      reason: `endpoint ${endpoint} is down (${circuit.code} ${ago}s ago on another transport); tried again in ${Math.ceil((circuit.until - now) / 1000)}s`,
    };
  }

  record(
    instance: string,
    transport: string,
    outcome: { ok: true } | { ok: false; failureClass: FailureClass; code: string },
    endpoint?: string | undefined,
  ): void {
    const key = `${instance}\u0000${transport}`;
    if (outcome.ok) {
      this.#circuits.delete(key);
      if (endpoint !== undefined) this.#deadEndpoints.delete(endpoint);
      return;
    }
    // Only a dead or hanging path opens the circuit: a fatal error is about the message, a transient one was retried.
    if (this.#cooldownMs <= 0 || (outcome.failureClass !== "unavailable" && outcome.failureClass !== "timeout")) return;
    const now = this.#now();
    this.#circuits.set(key, { openedAt: now, until: now + this.#cooldownMs, code: outcome.code });
    // Refused or unroutable is about the endpoint, not the transport: the others that dial it would wait for the same answer.
    if (endpoint !== undefined && outcome.code === "UNREACHABLE")
      this.#deadEndpoints.set(endpoint, { openedAt: now, until: now + this.#cooldownMs, code: outcome.code });
  }
}
