import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createMessenger, type Messenger, parseConfig } from "../../src/index.js";
import { leaseFleet, receiptKey } from "../../src/transports/nats/fleet.js";
import { announce, fleetMembers } from "../../src/transports/nats/presence.js";
import { NatsReceiver } from "../../src/transports/nats/receiver.js";
import { natsServerOrSkip, startNatsServer, type TestNatsServer } from "../harness/nats-server.js";

// A broadcast to a fleet of 30 on a real broker, with the plugin's receiving code (no Gateway: the
// agent's next turn is a counter). The sender's publishes are all in flight at once and recorded in
// one commit; each member still takes its copy once, writes its receipt, and the follow-up reads them.
const run = await natsServerOrSkip("fleet-fan-out.test.ts");
const FLEET = "fanout";
const MEMBERS = Array.from({ length: 30 }, (_, i) => `m${String(i).padStart(2, "0")}`);

let nats: TestNatsServer;
let scratch: string;
let link: Messenger;
const receivers: NatsReceiver[] = [];
const surfaced = new Map<string, number>();
const leases: { release(): Promise<void> }[] = [];

describe.runIf(run)("fan-out to a fleet on one broker", () => {
  beforeAll(async () => {
    nats = await startNatsServer();
    scratch = await mkdtemp(join(tmpdir(), "oii-fan-out-"));
    const config = parseConfig({ self: { name: "receivers" }, instances: {}, nats: { servers: [nats.url], fleet: FLEET } }).nats!;
    for (const self of MEMBERS) {
      const lease = leaseFleet(config);
      leases.push(lease);
      const receiver = new NatsReceiver({
        fleet: lease.fleet,
        self,
        surface: async (envelope) => {
          surfaced.set(envelope.id, (surfaced.get(envelope.id) ?? 0) + 1);
          return true;
        },
      });
      receivers.push(receiver);
      await receiver.start();
    }
    link = createMessenger({
      config: {
        self: { name: "sender" },
        stateDir: join(scratch, "sender"),
        nats: { servers: [nats.url], fleet: FLEET },
        instances: Object.fromEntries(MEMBERS.map((name) => [name, { transports: ["nats"] }])),
        groups: { everyone: MEMBERS },
      },
      log: { level: "silent" },
    });
  });

  afterAll(async () => {
    await link?.close();
    for (const receiver of receivers) await receiver.stop();
    for (const lease of leases) await lease.release();
    await nats?.dispose();
    if (scratch) await rm(scratch, { recursive: true, force: true });
  });

  it("every member takes its copy once and writes its receipt; the sender's follow-up reads them all; a repeat of the id is stored once", async () => {
    const report = await link.groups.send({ to: "everyone", body: "to all", id: "broadcast-1" }, { settleMs: 20_000 });
    expect(report.members.map((member) => [member.to, member.status])).toEqual(MEMBERS.map((member) => [member, "delivered"]));
    expect(MEMBERS.map((member) => surfaced.get(`broadcast-1.${member}`))).toEqual(MEMBERS.map(() => 1));

    const lease = leaseFleet(parseConfig({ self: { name: "reader" }, instances: {}, nats: { servers: [nats.url], fleet: FLEET } }).nats!);
    leases.push(lease);
    const receipts = await lease.fleet.bucket(lease.fleet.names.receipts);
    const written = await Promise.all(MEMBERS.map(async (member) => (await receipts.get(receiptKey(`broadcast-1.${member}`)))?.json<{ by: string }>().by));
    expect(written).toEqual(MEMBERS);

    // The sender answers a repeat from its outbox; a second sender's publish of the same ids is dropped by the broker's duplicate window.
    const again = await link.groups.send({ to: "everyone", body: "to all", id: "broadcast-1" });
    expect(again.members.every((member) => member.repeatOf !== undefined)).toBe(true);
    const other = createMessenger({
      config: {
        self: { name: "sender" },
        stateDir: join(scratch, "other-sender"),
        nats: { servers: [nats.url], fleet: FLEET },
        instances: Object.fromEntries(MEMBERS.map((name) => [name, { transports: ["nats"] }])),
        groups: { everyone: MEMBERS },
      },
      log: { level: "silent" },
    });
    const twice = await other.groups.send({ to: "everyone", body: "to all", id: "broadcast-1" });
    await other.close();
    expect(twice.members.map((member) => member.receipt?.detail.duplicate)).toEqual(MEMBERS.map(() => true));
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(MEMBERS.map((member) => surfaced.get(`broadcast-1.${member}`))).toEqual(MEMBERS.map(() => 1));
  });

  it("reads the whole fleet's presence at once", async () => {
    const lease = leaseFleet(parseConfig({ self: { name: "presence" }, instances: {}, nats: { servers: [nats.url], fleet: FLEET } }).nats!);
    leases.push(lease);
    await Promise.all([...MEMBERS].reverse().map((name) => announce(lease.fleet, { name, aliases: [], receives: ["nats"] })));
    expect((await fleetMembers(lease.fleet)).map((member) => member.name)).toEqual(MEMBERS);
  });
});
