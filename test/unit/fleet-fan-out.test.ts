import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Dispatcher, GROUP_CONCURRENCY, Outbox } from "../../src/core.js";
import { APPLIES, createEnvelope, InstanceRegistry, parseConfig, type Receipt, type Transport, type TransportId } from "../../src/index.js";
import { sendToGroup } from "../../src/use-cases/groups.js";
import { silentLogger } from "../harness/silent-logger.js";

const silent = silentLogger();
const MEMBERS = Array.from({ length: 20 }, (_, i) => `member${i}`);

/** A transport whose deliveries answer only once `release` is called; it counts how many waited at once. */
class GatedTransport implements Transport {
  inFlight = 0;
  mostInFlight = 0;
  readonly #waiting: (() => void)[] = [];
  constructor(
    readonly id: TransportId,
    readonly pipelined: boolean,
  ) {}
  applies() {
    return APPLIES;
  }
  async deliver(): Promise<Receipt> {
    this.inFlight += 1;
    this.mostInFlight = Math.max(this.mostInFlight, this.inFlight);
    await new Promise<void>((resolve) => this.#waiting.push(resolve));
    this.inFlight -= 1;
    return { status: "accepted", detail: {} };
  }
  /** Answers every delivery now waiting, again and again until `done` settles. */
  async answerUntil(done: Promise<unknown>): Promise<void> {
    let finished = false;
    void done.finally(() => (finished = true));
    while (!finished) {
      for (const resolve of this.#waiting.splice(0)) resolve();
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }
}

function groupOf(transport: GatedTransport, outbox?: () => Promise<Outbox>) {
  const registry = new InstanceRegistry(
    parseConfig({
      self: { name: "sender" },
      instances: Object.fromEntries(MEMBERS.map((name) => [name, { transports: [transport.id] }])),
      groups: { everyone: MEMBERS },
    }),
    {},
  );
  return { registry, dispatcher: new Dispatcher({ registry, transports: [transport], logger: silent, ...(outbox ? { outbox } : {}) }) };
}

describe("fan-out of a group send", () => {
  it("puts every member's send in flight at once on a pipelined transport (a broker), and at most GROUP_CONCURRENCY on others", async () => {
    const broker = new GatedTransport("nats", true);
    const sending = sendToGroup(groupOf(broker), { to: "everyone", body: "hi" });
    await broker.answerUntil(sending);
    const report = await sending;
    expect(broker.mostInFlight).toBe(MEMBERS.length);
    expect(report.members.map((member) => member.status)).toEqual(MEMBERS.map(() => "accepted"));

    const gateway = new GatedTransport("sessions_send", false);
    const limited = sendToGroup(groupOf(gateway), { to: "everyone", body: "hi" });
    await gateway.answerUntil(limited);
    expect((await limited).ok).toBe(true);
    expect(gateway.mostInFlight).toBe(GROUP_CONCURRENCY);
  });

  it("records every member's delivery durably before its report, and a repeat of the group id is answered from those records", async () => {
    const dir = mkdtempSync(join(tmpdir(), "oii-fan-out-"));
    try {
      const path = join(dir, "outbox.sqlite");
      const outbox = Outbox.open(path);
      const broker = new GatedTransport("nats", true);
      const group = groupOf(broker, () => outbox);
      const sending = sendToGroup(group, { to: "everyone", body: "hi", id: "g1" });
      await broker.answerUntil(sending);
      expect((await sending).ok).toBe(true);
      // Another connection to the file sees every record as soon as the reports are out.
      const reader = await Outbox.open(path);
      expect(MEMBERS.filter((member) => reader.delivery(`g1.${member}`, member)?.status === "accepted")).toEqual(MEMBERS);
      reader.close();
      const again = await sendToGroup(group, { to: "everyone", body: "hi", id: "g1" });
      expect(again.members.every((member) => member.repeatOf !== undefined)).toBe(true);
      expect(broker.mostInFlight).toBe(MEMBERS.length);
      (await outbox).close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("Outbox group commit", () => {
  it("commits deliveries recorded together in one go, each durable when its promise resolves; one ended without a record holds nobody; close commits what waits", async () => {
    const dir = mkdtempSync(join(tmpdir(), "oii-group-commit-"));
    try {
      const path = join(dir, "outbox.sqlite");
      const outbox = await Outbox.open(path);
      const expected = MEMBERS.map(() => outbox.expectDelivery());
      const notRecorded = outbox.expectDelivery();
      const receipt = { status: "accepted" as const, detail: {} };
      const committed = MEMBERS.map((to, i) =>
        outbox.commitDelivery(
          `m.${to}`,
          to,
          "nats",
          "accepted",
          receipt,
          new Date(),
          createEnvelope({ to, from: "sender", body: "x", id: `m.${to}` }),
          expected[i],
        ),
      );
      notRecorded();
      notRecorded();
      await Promise.all(committed);
      const reader = await Outbox.open(path);
      expect(MEMBERS.filter((to) => reader.delivery(`m.${to}`, to))).toEqual(MEMBERS);
      expect(
        reader
          .awaitingFollowUp(new Date(0))
          .map((item) => item.envelope.to)
          .sort(),
      ).toEqual([...MEMBERS].sort());

      const last = outbox.commitDelivery("late", "member0", "nats", "delivered", receipt);
      outbox.close();
      await last;
      expect(reader.delivery("late", "member0")?.status).toBe("delivered");
      reader.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
