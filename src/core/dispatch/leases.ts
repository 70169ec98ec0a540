import { leaseOwner, type Outbox } from "../outbox.js";

/** How long a flush or follow-up holds a target before another process may take it (renewed per envelope). */
const TARGET_LEASE_MS = 5 * 60_000;

/** The targets one flush or follow-up holds: claimed (and renewed) on use, all given back at the end. */
export class TargetLeases {
  readonly #outbox: Outbox;
  readonly #held = new Set<string>();
  readonly #owner = leaseOwner();

  constructor(outbox: Outbox) {
    this.#outbox = outbox;
  }

  /** Claims or renews the target; false when another live process holds it. */
  claim(target: string): boolean {
    if (!this.#outbox.claimTarget(target, this.#owner, TARGET_LEASE_MS)) return false;
    this.#held.add(target);
    return true;
  }

  releaseAll(): void {
    for (const target of this.#held) this.#outbox.releaseTarget(target, this.#owner);
    this.#held.clear();
  }
}
