// Light fleet members for scenario 12, in a process of their own (as other machines would be): the
// plugin's receiving code (durable consumer, receipt, ack) with the agent's next turn replaced by a
// counter. node bench/fleet-receivers.ts <nats url> <fleet> <name>...
// Prints "ready" once every consumer exists; answers "cpu" on stdin with its process.cpuUsage() as
// JSON; stops its receivers and exits when stdin ends.
import { createInterface } from "node:readline";
import { parseConfig } from "../dist/index.js";
import { leaseFleet } from "../dist/transports/nats/fleet.js";
import { NatsReceiver } from "../dist/transports/nats/receiver.js";

const [url, fleetName, ...names] = process.argv.slice(2);
if (!url || !fleetName || names.length === 0) throw new Error("usage: fleet-receivers.ts <nats url> <fleet> <name>...");
const config = parseConfig({ self: { name: "bench-receivers" }, instances: {}, nats: { servers: [url], fleet: fleetName } }).nats!;
const lease = leaseFleet(config);
let surfaced = 0;
const receivers = names.map(
  (self) =>
    new NatsReceiver({
      fleet: lease.fleet,
      self,
      surface: async () => {
        surfaced += 1;
        return true;
      },
      onError: (error) => process.stderr.write(`fleet-receivers ${self}: ${String(error)}\n`),
    }),
);
await Promise.all(receivers.map((receiver) => receiver.start()));
process.stdout.write("ready\n");
for await (const line of createInterface({ input: process.stdin })) {
  if (line === "cpu") process.stdout.write(`${JSON.stringify({ ...process.cpuUsage(), surfaced })}\n`);
}
await Promise.all(receivers.map((receiver) => receiver.stop()));
await lease.release();
