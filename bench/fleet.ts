// Scenario 12 of `npm run bench`: a fleet of 8 receivers on a real NATS JetStream broker (2 real
// Gateways with the plugin installed from its tarball, 6 lightweight receivers running the same
// consumer code in this process) and broadcasts to it, against the same broadcast by direct
// sessions_send to the two Gateways, in the same run.
import { randomUUID } from "node:crypto";
import { join } from "node:path";
import which from "which";
import { type ConfigInput, createMessenger, type Messenger, parseConfig } from "../dist/index.js";
import { type FleetLease, leaseFleet, receiptKey } from "../dist/transports/nats/fleet.js";
import { NatsReceiver } from "../dist/transports/nats/receiver.js";
import { startGateway, type TestGateway } from "../test/harness/gateway.ts";
import { type MockModelServer, startMockModel } from "../test/harness/mock-model.ts";
import { startNatsServer, type TestNatsServer } from "../test/harness/nats-server.ts";
import { installPlugin, packPlugin } from "../test/harness/plugin-install.ts";
import { withRunNpmCache } from "./npm-cache.ts";
import { type Series, summarize, timed } from "./stats.ts";

export interface FleetBenchContext {
  readonly scratch: string;
  /** The plugin's packed tarball (`packPlugin`), when the caller packed it already. */
  readonly tarball?: Promise<string>;
  readonly rounds: number;
  readonly series: Series[];
  readonly row: (row: { scenario: string; a: string; b: string; ratio: string; note: string }) => void;
  readonly log: (text: string) => void;
}

const FLEET = "bench";
const GATEWAYS = ["gw1", "gw2"] as const;
const LIGHT = ["light1", "light2", "light3", "light4", "light5", "light6"] as const;
const MEMBERS = [...GATEWAYS, ...LIGHT];

const percentile = (values: readonly number[], p: number) =>
  [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor((values.length - 1) * p))] ?? 0;

export async function benchFleet(context: FleetBenchContext): Promise<void> {
  if (!(await which("nats-server", { nothrow: true }))) {
    context.row({ scenario: "12. fleet", a: "not run", b: "", ratio: "", note: "nats-server is missing (apt-get install -y nats-server)" });
    return;
  }
  context.log("starting a NATS JetStream broker, two Gateways with the plugin and six lightweight receivers");
  const nats: TestNatsServer = await startNatsServer();
  const natsInput = { servers: [nats.url], fleet: FLEET };
  const mocks: MockModelServer[] = [];
  const gateways: TestGateway[] = [];
  const leases: FleetLease[] = [];
  const receivers: NatsReceiver[] = [];
  const links: Messenger[] = [];
  try {
    const tarball = await (context.tarball ?? packPlugin(context.scratch));
    await Promise.all(
      GATEWAYS.map(async (name) => {
        const mock = await startMockModel();
        mocks.push(mock);
        gateways.push(
          await startGateway({
            modelBaseUrl: mock.url,
            name: `fleet-${name}`,
            extraConfig: { messages: { queue: { cap: 10_000 } } },
            beforeStart: (gateway) =>
              installPlugin(
                tarball,
                { stateDir: gateway.stateDir, env: withRunNpmCache(gateway.env, context.scratch) },
                {
                  enabled: true,
                  config: {
                    self: { name },
                    stateDir: join(gateway.stateDir, "inter-instance"),
                    nats: natsInput,
                    instances: {},
                    inbound: { unverified: "allow", ratePerHour: 1_000_000 },
                  },
                },
              ),
          }),
        );
      }),
    );
    context.log("12 the two Gateways with the plugin are ready");
    // The receiving code of the plugin (durable consumer, receipt, ack) with the agent's next turn
    // replaced by a counter: what an extra instance costs the broker and the sender.
    const natsConfig = parseConfig({ self: { name: "bench" }, instances: {}, nats: natsInput }).nats!;
    for (const name of LIGHT) {
      const lease = leaseFleet(natsConfig);
      leases.push(lease);
      const receiver = new NatsReceiver({ fleet: lease.fleet, self: name, surface: async () => true });
      receivers.push(receiver);
      await receiver.start();
    }
    const watchLease = leaseFleet(natsConfig);
    leases.push(watchLease);
    const receipts = await watchLease.fleet.bucket(watchLease.fleet.names.receipts);
    const arrivals = new Map<string, number>();
    const watcher = await receipts.watch({ key: ">" });
    void (async () => {
      for await (const entry of watcher) if (!arrivals.has(entry.key)) arrivals.set(entry.key, performance.now());
    })();

    const byNats: ConfigInput = {
      self: { name: "bench-sender" },
      stateDir: join(context.scratch, "fleet-sender"),
      nats: natsInput,
      instances: Object.fromEntries(MEMBERS.map((name) => [name, { transports: ["nats"] }])),
      groups: { all: MEMBERS, two: MEMBERS.slice(0, 2), four: MEMBERS.slice(0, 4) },
    };
    const direct: ConfigInput = {
      self: { name: "bench-sender" },
      stateDir: join(context.scratch, "fleet-direct"),
      // A send that takes longer than this fails the run: the default 15 s was seen to run out on a loaded 2-core machine (quick run in the suite).
      instances: Object.fromEntries(
        MEMBERS.map((name, i) => [
          name,
          {
            gateway: { url: gateways[i % 2]!.url, token: gateways[i % 2]!.token },
            maxQueued: 5_000,
            transports: ["sessions_send"],
            timeouts: { sessions_send: 60_000 },
          },
        ]),
      ),
      groups: { all: MEMBERS },
    };
    const natsLink = createMessenger({ config: byNats, log: { level: "silent" } });
    const directLink = createMessenger({ config: direct, log: { level: "silent" } });
    links.push(natsLink, directLink);
    // Warm-up: every consumer exists and every connection is open.
    await natsLink.groups.send({ to: "all", body: "warm-up" });
    await directLink.groups.send({ to: "all", body: "warm-up" });

    const waitForAll = async (id: string, members: readonly string[], deadline: number) => {
      const keys = members.map((member) => receiptKey(`${id}.${member}`));
      while (keys.some((key) => !arrivals.has(key))) {
        if (performance.now() > deadline) throw new Error(`receipts missing for ${keys.filter((key) => !arrivals.has(key)).length} member(s) of ${id}`);
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      return keys.map((key) => arrivals.get(key)!);
    };

    context.log("12 warm-up broadcasts delivered");
    const perMember: number[] = [];
    const perBroadcastNats: number[] = [];
    const perBroadcastAccepted: number[] = [];
    let natsTotalMs = 0;
    for (let round = 0; round < context.rounds; round += 1) {
      const id = randomUUID();
      const started = performance.now();
      const report = await natsLink.groups.send({ to: "all", body: `broadcast ${round}`, id });
      perBroadcastAccepted.push(performance.now() - started);
      if (!report.ok) throw new Error(`broadcast over nats failed: ${report.members.map((m) => m.status).join(", ")}`);
      const times = await waitForAll(id, MEMBERS, started + 60_000);
      for (const at of times) perMember.push(at - started);
      perBroadcastNats.push(Math.max(...times) - started);
      natsTotalMs += Math.max(...times) - started;
    }
    context.log("12 broadcasts over nats done");
    const directAccepted: number[] = [];
    let directTotalMs = 0;
    for (let round = 0; round < context.rounds; round += 1) {
      const ms = await timed(async () => {
        const report = await directLink.groups.send({ to: "all", body: `direct ${round}` });
        if (!report.ok)
          throw new Error(
            `direct broadcast failed: ${report.members.map((m) => m.status).join(", ")}; attempts ${JSON.stringify(report.members.filter((m) => !m.ok).map((m) => m.attempts))}`,
          );
      });
      directAccepted.push(ms);
      directTotalMs += ms;
    }
    context.log("12 direct broadcasts done");
    // What one more member costs: broadcasts to 2, 4 and 8 members, until every receipt is in.
    const bySize: Record<number, number> = {};
    for (const [group, size] of [
      ["two", 2],
      ["four", 4],
      ["all", 8],
    ] as const) {
      const samples: number[] = [];
      for (let round = 0; round < context.rounds; round += 1) {
        const id = randomUUID();
        const started = performance.now();
        await natsLink.groups.send({ to: group, body: `size ${size} ${round}`, id });
        samples.push(Math.max(...(await waitForAll(id, MEMBERS.slice(0, size), started + 60_000))) - started);
      }
      bySize[size] = percentile(samples, 0.5);
    }
    const memberSeries = summarize("12 broadcast over nats, per member until its receipt", perMember);
    const acceptedSeries = summarize("12 broadcast over nats, all 8 stream acks", perBroadcastAccepted);
    const directSeries = summarize("12 broadcast by direct sessions_send, all 8 accepted", directAccepted);
    context.series.push(memberSeries, acceptedSeries, directSeries);
    const rate = (ms: number) => Math.round((context.rounds * MEMBERS.length * 1000) / ms);
    context.row({
      scenario: "12. fleet of 8 (2 Gateways + 6 light receivers)",
      a: `broadcast over nats: all 8 acked p50 ${acceptedSeries.p50} ms; each member's receipt p50 ${memberSeries.p50} / p95 ${memberSeries.p95} ms; ${rate(natsTotalMs)} msg/s until the last receipt`,
      b: `direct sessions_send to the 2 Gateways (8 sessions): all accepted p50 ${directSeries.p50} ms, ${rate(directTotalMs)} msg/s`,
      ratio: `${Math.round((directSeries.p50 / acceptedSeries.p50) * 10) / 10}× faster to hand over by the broker`,
      note: `n=${context.rounds} broadcasts; a receipt is written by each receiver once the message is queued into its agent's next turn (the light ones count it). Direct needs a Gateway port per target; the broker needs none`,
    });
    const extra = Math.round(((bySize[8]! - bySize[2]!) / 6) * 100) / 100;
    context.row({
      scenario: "12. fleet, cost per member",
      a: `2 / 4 / 8 members: last receipt p50 ${Math.round(bySize[2]!)} / ${Math.round(bySize[4]!)} / ${Math.round(bySize[8]!)} ms`,
      b: "",
      ratio: `+${extra} ms per extra member`,
      note: "the slope from 2 to 8 members of one broadcast, until its last receipt",
    });
    watcher.stop();
  } finally {
    for (const link of links) await link.close();
    for (const receiver of receivers) await receiver.stop();
    for (const lease of leases) await lease.release();
    for (const gateway of gateways) await gateway.dispose();
    for (const mock of mocks) await mock.close();
    await nats.dispose();
  }
}
