import { describe, expect, it } from "vitest";
import { SessionQueueGate } from "../../src/transports/sessions-send/queue-gate.js";

/** A target session whose queue the test drains by hand; it counts what this sender put in. */
function fakeSession() {
  let queued = 0;
  let peak = 0;
  let reads = 0;
  return {
    add: () => {
      queued += 1;
      peak = Math.max(peak, queued);
    },
    drain: (n: number) => (queued = Math.max(0, queued - n)),
    count: async () => (reads++, queued),
    get peak() {
      return peak;
    },
    get reads() {
      return reads;
    },
  };
}

const never = new AbortController().signal;

describe("SessionQueueGate", () => {
  it("admits a window's worth without asking the target", async () => {
    const gate = new SessionQueueGate();
    const session = fakeSession();
    for (let i = 0; i < 5; i += 1) await gate.admit("s", 5, session.count, never);
    expect(session.reads).toBe(0);
  });

  it("a pipelined burst never leaves more than the window queued, and every message gets in", async () => {
    const gate = new SessionQueueGate();
    const session = fakeSession();
    const drainer = setInterval(() => session.drain(2), 100);
    try {
      await Promise.all(
        Array.from({ length: 30 }, async () => {
          await gate.admit("s", 4, session.count, never);
          session.add();
        }),
      );
    } finally {
      clearInterval(drainer);
    }
    expect(session.peak).toBeLessThanOrEqual(4);
    expect(session.reads).toBeGreaterThan(0);
  });

  it("counts each session on its own", async () => {
    const gate = new SessionQueueGate();
    const a = fakeSession();
    const b = fakeSession();
    for (let i = 0; i < 3; i += 1) await gate.admit("a", 3, a.count, never);
    await gate.admit("b", 3, b.count, never);
    expect(a.reads + b.reads).toBe(0);
  });

  it("a place given back (the send was refused) is free again", async () => {
    const gate = new SessionQueueGate();
    const session = fakeSession();
    const giveBack = await gate.admit("s", 1, session.count, never);
    giveBack();
    giveBack();
    await gate.admit("s", 1, session.count, never);
    expect(session.reads).toBe(0);
  });

  it("gives up when aborted while the queue stays full, and the next admission is not stuck behind it", async () => {
    const gate = new SessionQueueGate();
    const full = { count: async () => 99 };
    await gate.admit("s", 1, full.count, never);
    const controller = new AbortController();
    const waiting = gate.admit("s", 1, full.count, controller.signal);
    setTimeout(() => controller.abort(new Error("timed out")), 50);
    await expect(waiting).rejects.toThrow("timed out");
    const empty = fakeSession();
    await expect(gate.admit("s", 1, empty.count, never)).resolves.toBeTypeOf("function");
  });
});
