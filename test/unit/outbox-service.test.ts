import { describe, expect, it } from "vitest";
import type { DeliveryReport } from "../../src/index.js";
import type { Messenger } from "../../src/messenger/create.js";
import { createOutboxService } from "../../src/plugin/services/outbox.js";

/** A link whose outbox holds `waiting` envelopes; each flush delivers what `deliver` says and leaves the rest. */
function fakeLink(state: { waiting: number; nextAttemptAt?: Date }, flushed: (release: () => void) => void = (release) => release()) {
  let flushes = 0;
  const link = {
    outbox: {
      flush: () =>
        new Promise<DeliveryReport[]>((resolve) => {
          flushes += 1;
          flushed(() => resolve([{ ok: true } as DeliveryReport, { ok: false } as DeliveryReport]));
        }),
      waiting: async () => ({ queued: state.waiting, followingUp: 0, ...(state.nextAttemptAt ? { nextAttemptAt: state.nextAttemptAt } : {}) }),
    },
  } as unknown as Messenger;
  return { link, flushes: () => flushes };
}

const logs: string[] = [];
const ctx = { logger: { info: (line: string) => logs.push(line), warn: (line: string) => logs.push(line) } } as never;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("the plugin's outbox service", () => {
  it("at rest with nothing waiting, arms no timer and never builds the link", async () => {
    let built = 0;
    const service = createOutboxService({ link: async () => (built++, fakeLink({ waiting: 0 }).link), retryMs: () => 10, mayHoldState: () => false });
    await service.start(ctx);
    await sleep(60);
    await service.stop?.(ctx);
    expect(built).toBe(0);
  });

  it("an outbox left from an earlier run is flushed until nothing waits, then the timer is disarmed", async () => {
    const state = { waiting: 2 };
    const fake = fakeLink(state, (release) => {
      state.waiting -= 1;
      release();
    });
    const service = createOutboxService({ link: async () => fake.link, retryMs: () => 10, mayHoldState: () => true });
    await service.start(ctx);
    await sleep(120);
    expect(fake.flushes()).toBe(2);
    await service.stop?.(ctx);
    expect(logs).toContain("inter-instance outbox: 1 of 2 waiting message(s) delivered");
  });

  it("wake() arms it when a send starts to wait; never two flushes at once", async () => {
    const state = { waiting: 1 };
    let release: (() => void) | undefined;
    const fake = fakeLink(state, (done) => (release = done));
    const service = createOutboxService({ link: async () => fake.link, retryMs: () => 10, mayHoldState: () => false });
    await service.start(ctx);
    await sleep(30);
    expect(fake.flushes()).toBe(0);
    service.wake();
    await sleep(40);
    expect(fake.flushes()).toBe(1);
    service.wake();
    await sleep(40);
    expect(fake.flushes()).toBe(1);
    state.waiting = 0;
    release?.();
    // Woken during the flush: one more pass, which finds nothing and disarms.
    await sleep(40);
    release?.();
    await sleep(40);
    expect(fake.flushes()).toBe(2);
    await service.stop?.(ctx);
  });

  it("while only backed-off envelopes wait, sleeps until the first is due; a new one waiting wakes it at once", async () => {
    const state = { waiting: 1, nextAttemptAt: new Date(Date.now() + 60_000) };
    const fake = fakeLink(state);
    const service = createOutboxService({ link: async () => fake.link, retryMs: () => 10, mayHoldState: () => true });
    await service.start(ctx);
    await sleep(150);
    // One flush at start; then the envelope is a minute off, and retryMs (10 ms) does not bring the timer back sooner.
    expect(fake.flushes()).toBe(1);
    service.wake();
    await sleep(60);
    expect(fake.flushes()).toBe(2);
    state.nextAttemptAt = new Date(Date.now() + 30);
    service.wake();
    await sleep(150);
    // Due again 30 ms after the third flush: a fourth follows by itself.
    expect(fake.flushes()).toBeGreaterThanOrEqual(4);
    await service.stop?.(ctx);
  });

  it("does nothing when retries are off", async () => {
    const fake = fakeLink({ waiting: 3 });
    const service = createOutboxService({ link: async () => fake.link, retryMs: () => 0, mayHoldState: () => true });
    await service.start(ctx);
    service.wake();
    await sleep(30);
    await service.stop?.(ctx);
    expect(fake.flushes()).toBe(0);
  });
});
