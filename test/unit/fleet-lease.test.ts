import { describe, expect, it } from "vitest";
import { leaseFleet } from "../../src/transports/nats/fleet.js";

const config = { servers: ["nats://127.0.0.1:4222"], fleet: "lease-test", duplicateWindowMs: 7_200_000, maxDeliver: 5, presenceTtlMs: 120_000 };

describe("leaseFleet", () => {
  it("one connection per fleet config in a process, closed when the last holder releases it", async () => {
    const env = {};
    const receiver = leaseFleet(config, env);
    const sender = leaseFleet({ ...config }, env);
    expect(sender.fleet).toBe(receiver.fleet);
    expect(leaseFleet({ ...config, fleet: "other" }, env).fleet).not.toBe(receiver.fleet);
    await receiver.release();
    await receiver.release();
    const again = leaseFleet(config, env);
    expect(again.fleet).toBe(sender.fleet);
    await sender.release();
    await again.release();
    expect(leaseFleet(config, env).fleet).not.toBe(sender.fleet);
  });
});
