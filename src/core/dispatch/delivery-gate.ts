/**
 * One message, two paths in flight (a first contact's handshake and the next transport): at most
 * one of them has the message out of this host at a time, and once one has delivered it (or may
 * have: a send nobody can settle) the other never sends it. A path enters before the step after
 * which the target may hold the message and leaves with whether that settled the delivery.
 */
export class DeliveryGate {
  #holder: string | undefined;
  #closed = false;
  #waiters: (() => void)[] = [];
  readonly #onClosed: (by: string) => void;

  /** `onClosed`: called at once when a path settles it, before any waiting path hears of it. */
  constructor(onClosed: (by: string) => void = () => {}) {
    this.#onClosed = onClosed;
  }

  /**
   * Resolves true when `path` may send now (it holds the gate until it leaves; entering again while
   * holding it is a no-op), false when another path settled the delivery. Waits while another holds it.
   */
  async enter(path: string): Promise<boolean> {
    for (;;) {
      if (this.#closed) return false;
      if (this.#holder === undefined || this.#holder === path) {
        this.#holder = path;
        return true;
      }
      await new Promise<void>((resolve) => this.#waiters.push(resolve));
    }
  }

  /** `path` is done sending: `settled` when it delivered (or cannot tell whether it did). */
  leave(path: string, settled: boolean): void {
    if (this.#holder !== path) return;
    this.#holder = undefined;
    if (settled && !this.#closed) {
      this.#closed = true;
      this.#onClosed(path);
    }
    for (const wake of this.#waiters.splice(0)) wake();
  }

  get settled(): boolean {
    return this.#closed;
  }
}
