import { describe, expect, it } from "vitest";
import { CircuitBreaker, Dispatcher } from "../../src/core.js";
import { APPLIES, InstanceRegistry, parseConfig, type Receipt, type Transport, type TransportId, UnavailableError } from "../../src/index.js";
import { silentLogger } from "../harness/silent-logger.js";

const silent = silentLogger();

function transport(id: TransportId, deliver: () => Promise<Receipt>): Transport & { calls: number } {
  const fake = {
    id,
    calls: 0,
    applies: () => APPLIES,
    deliver: async () => {
      fake.calls += 1;
      return deliver();
    },
  };
  return fake;
}

const refused = () => Promise.reject(new UnavailableError("Gateway ws://10.20.1.2:18789 is not reachable (ECONNREFUSED).", { code: "UNREACHABLE" }));
const written = async (): Promise<Receipt> => ({ status: "written", detail: {} });

function dispatcher(transports: Transport[], breaker: CircuitBreaker, gateway = "ws://10.20.1.2:18789") {
  const registry = new InstanceRegistry(
    parseConfig({
      self: { name: "xiaoa" },
      defaults: { retries: 0 },
      instances: { xiaom: { gateway: { url: gateway, token: "t".repeat(16) }, transports: ["sessions_send", "agent_cli", "memory_file"] } },
    }),
    {},
  );
  return new Dispatcher({ registry, transports, logger: silent, retryMinTimeoutMs: 1, circuitBreaker: breaker });
}

describe("a dead endpoint", () => {
  it("ECONNREFUSED on sessions_send: agent_cli, which dials the same Gateway, is skipped for the cool-down, even as a last resort", async () => {
    let now = 1_000_000;
    const breaker = new CircuitBreaker(30_000, () => now);
    const sessions = transport("sessions_send", refused);
    const cli = transport("agent_cli", refused);
    const memory = transport("memory_file", () => Promise.reject(new UnavailableError("disk gone", { code: "EIO" })));
    const link = dispatcher([sessions, cli, memory], breaker);
    const report = await link.send({ to: "xiaom", body: "1" }, { queue: false });
    expect(report.ok).toBe(false);
    expect(cli.calls).toBe(0);
    expect(report.attempts.find((a) => a.transport === "agent_cli")).toMatchObject({
      outcome: "skipped",
      skippedBecause: expect.stringMatching(/^endpoint 10\.20\.1\.2:18789 is down \(UNREACHABLE/u),
    });
    // After the cool-down the endpoint is asked again; it refuses again, so agent_cli is spared once more.
    now += 30_001;
    await link.send({ to: "xiaom", body: "2" }, { queue: false });
    expect([sessions.calls, cli.calls]).toEqual([2, 0]);
  });

  it("another failure (not a refusal) leaves the other transports on that endpoint alone", async () => {
    const breaker = new CircuitBreaker(30_000);
    const sessions = transport("sessions_send", () => Promise.reject(new UnavailableError("no session", { code: "SESSION_NOT_FOUND" })));
    const cli = transport("agent_cli", written);
    const report = await dispatcher([sessions, cli, transport("memory_file", written)], breaker).send({ to: "xiaom", body: "x" }, { queue: false });
    expect(report).toMatchObject({ ok: true, via: "agent_cli" });
  });

  it("a success on the endpoint closes it at once", () => {
    const breaker = new CircuitBreaker(30_000);
    breaker.record("xiaom", "sessions_send", { ok: false, failureClass: "unavailable", code: "UNREACHABLE" }, "h:1");
    expect(breaker.endpointState("h:1").open).toBe(true);
    expect(breaker.endpointState("h:2").open).toBe(false);
    breaker.record("xiaom", "agent_cli", { ok: true }, "h:1");
    expect(breaker.endpointState("h:1").open).toBe(false);
  });
});
