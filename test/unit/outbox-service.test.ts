import { describe, expect, it } from "vitest";
import type { Messenger } from "../../src/client.js";
import type { DeliveryReport } from "../../src/index.js";
import { createOutboxService } from "../../src/plugin/outbox-service.js";

function fakeLink(reports: () => Promise<DeliveryReport[]>) {
  let flushes = 0;
  const link = { outbox: { flush: async () => (flushes++, reports()) } } as unknown as Messenger;
  return { link, flushes: () => flushes };
}

const logs: string[] = [];
const ctx = { logger: { info: (line: string) => logs.push(line), warn: (line: string) => logs.push(line) } } as never;

describe("the plugin's outbox service", () => {
  it("flushes on its interval, never two flushes at once, and logs what it delivered", async () => {
    let release: (() => void) | undefined;
    const fake = fakeLink(() => new Promise((resolve) => (release = () => resolve([{ ok: true } as DeliveryReport, { ok: false } as DeliveryReport]))));
    const service = createOutboxService(() => fake.link, () => 10);
    await service.start(ctx);
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(fake.flushes()).toBe(1);
    release?.();
    await new Promise((resolve) => setTimeout(resolve, 40));
    expect(fake.flushes()).toBeGreaterThanOrEqual(2);
    release?.();
    await service.stop?.(ctx);
    expect(logs).toContain("inter-instance outbox: 1 of 2 waiting message(s) delivered");
  });

  it("does nothing when retries are off (or nothing could wait)", async () => {
    const fake = fakeLink(async () => []);
    const service = createOutboxService(() => fake.link, () => 0);
    await service.start(ctx);
    await new Promise((resolve) => setTimeout(resolve, 30));
    await service.stop?.(ctx);
    expect(fake.flushes()).toBe(0);
  });
});
