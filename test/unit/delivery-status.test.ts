import { describe, expect, it } from "vitest";
import { canMove, DELIVERY_STATES, type DeliveryState, deliveryStatus, type Evidence, reached } from "../../src/core/delivery-status.js";

const at = (second: number) => new Date(Date.UTC(2026, 11, 1, 10, 0, second)).toISOString();
const fact = (state: DeliveryState, second: number): Evidence => ({ state, at: at(second), source: "test" });

// Every pair of states, and whether a new fact may move a message from the first to the second.
const ALLOWED: Record<DeliveryState, readonly DeliveryState[]> = {
  queued: ["accepted", "delivered", "seen", "answered", "held", "refused", "expired", "lost"],
  accepted: ["queued", "delivered", "seen", "answered", "held", "refused", "expired", "lost"],
  delivered: ["seen", "answered", "expired", "lost"],
  seen: ["answered", "expired"],
  answered: [],
  held: ["delivered", "seen", "answered", "refused", "expired"],
  refused: [],
  expired: ["answered"],
  lost: ["queued"],
};

describe("delivery status", () => {
  it.each(DELIVERY_STATES.flatMap((from) => DELIVERY_STATES.filter((to) => to !== from).map((to) => [from, to] as const)))("%s → %s", (from, to) => {
    const allowed = ALLOWED[from].includes(to);
    expect(canMove(from, to)).toBe(allowed);
    // Through the fold, too: the later fact wins exactly when the move is allowed.
    expect(deliveryStatus("m-00000001", [fact(from, 1), fact(to, 2)])?.state).toBe(allowed ? to : from);
  });

  it("takes the facts in time order, whatever order they were found in, and keeps them all", () => {
    const status = deliveryStatus("m-00000001", [fact("answered", 9), fact("queued", 1), fact("accepted", 3), fact("delivered", 5)]);
    expect(status).toMatchObject({ state: "answered", since: at(9) });
    expect(status?.evidence.map((e) => e.state)).toEqual(["queued", "accepted", "delivered", "answered"]);
    // A stale "accepted" after it was seen changes nothing.
    expect(deliveryStatus("m", [fact("seen", 2), fact("accepted", 3)])?.state).toBe("seen");
    expect(deliveryStatus("m", [])).toBeUndefined();
  });

  it("a held message goes on once approved; a refused or answered one is final", () => {
    expect(deliveryStatus("m", [fact("accepted", 1), fact("held", 2), fact("delivered", 3), fact("seen", 4)])?.state).toBe("seen");
    expect(deliveryStatus("m", [fact("held", 1), fact("refused", 2), fact("delivered", 3)])?.state).toBe("refused");
    expect(deliveryStatus("m", [fact("lost", 1), fact("queued", 2), fact("accepted", 3)])?.state).toBe("accepted");
  });

  it("says whether a wait for a goal is over", () => {
    expect(reached("accepted", "delivered")).toBe("not yet");
    expect(reached("answered", "delivered")).toBe("yes");
    expect(reached("held", "delivered")).toBe("not yet");
    expect(reached("refused", "delivered")).toBe("never");
    expect(reached("lost", "accepted")).toBe("never");
    expect(reached("expired", "answered")).toBe("never");
  });
});
