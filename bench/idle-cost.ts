// Scenario 9 of `npm run bench`: what the plugin costs a Gateway at rest. Three idle Gateways side
// by side: one with the plugin installed from its packed tarball and one message waiting in its
// outbox (its target refuses), two without (their difference is the noise floor; one in --quick); each one's CPU
// time (its whole process tree) over the same windows. OpenClaw's own periodic work comes in bursts
// of a few CPU seconds that land in some windows of each Gateway and not others: the cost is the
// median over windows of each window's difference, and work of the plugin's that recurs (polls,
// retry timers) is in every window's difference.
import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { cpuSecondsOfTree } from "../test/harness/cpu-time.ts";
import { freePort, startGateway, type TestGateway } from "../test/harness/gateway.ts";
import { startMockModel } from "../test/harness/mock-model.ts";
import { loadInstalledPlugin } from "../test/harness/plugin-install.ts";

export interface IdleCostContext {
  readonly scratch: string;
  /** Whether a second Gateway without the plugin runs beside the first, for the noise floor (not in --quick). */
  readonly noiseFloor: boolean;
  readonly windowMs: number;
  /** Consecutive windows; each Gateway's median window is compared. */
  readonly windows: number;
  /** Left to the Gateways after start before the window (plugin loading, the memory index, first cron ticks). */
  readonly settleMs: number;
  readonly row: (row: { scenario: string; a: string; b: string; ratio: string; note: string }) => void;
  readonly log: (text: string) => void;
  /** Instances configured beside xiaom in the plugin's config, each a refusing target like it. */
  readonly otherInstances?: readonly string[];
  /** Work on the Gateways with and without the plugin after the idle windows, while they still run (saves other scenarios their Gateway starts). */
  readonly afterWindows?: (withPlugin: TestGateway, plain: TestGateway) => Promise<void>;
}

async function queueOne(gateway: TestGateway, to = "xiaom"): Promise<string> {
  const response = await fetch(`${gateway.httpUrl}/tools/invoke`, {
    method: "POST",
    headers: { authorization: `Bearer ${gateway.token}`, "content-type": "application/json" },
    body: JSON.stringify({ tool: "instance_send", args: { to, message: "waits in the outbox while the bench measures" } }),
  });
  const body = (await response.json()) as { result?: { details?: { report?: { status?: string } } } };
  return body.result?.details?.report?.status ?? `no report (${response.status})`;
}

/** A Node child that prints a first line when it is set up (`ready …`); resolves with it and that line. */
async function startChild(args: readonly string[]): Promise<{ child: ChildProcess; ready: string }> {
  const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "inherit"], cwd: join(import.meta.dirname, "..") });
  const [ready] = (await once(createInterface({ input: child.stdout! }), "line")) as [string];
  return { child, ready };
}

async function stopChild(child: ChildProcess | undefined): Promise<void> {
  if (!child || child.exitCode !== null) return;
  child.kill("SIGTERM");
  await Promise.race([once(child, "exit"), new Promise((resolve) => setTimeout(resolve, 5000))]);
  if (child.exitCode === null) child.kill("SIGKILL");
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

export async function benchIdleCost(context: IdleCostContext): Promise<void> {
  context.log(
    `starting ${context.noiseFloor ? "three" : "two"} idle Gateways, one with the plugin (installed by OpenClaw from its packed tarball, once per run)`,
  );
  const mock = await startMockModel();
  const refusing = `ws://127.0.0.1:${await freePort()}`;
  let plain: TestGateway | undefined;
  let plainToo: TestGateway | undefined;
  let withPlugin: TestGateway | undefined;
  let services: { child: ChildProcess; ready: string } | undefined;
  let emptyNode: { child: ChildProcess; ready: string } | undefined;
  try {
    // Two without the plugin: how far two identical idle Gateways differ is the noise floor.
    [plain, plainToo, withPlugin] = await Promise.all([
      startGateway({ modelBaseUrl: mock.url, name: "idle-plain" }),
      context.noiseFloor ? startGateway({ modelBaseUrl: mock.url, name: "idle-plain-2" }) : undefined,
      startGateway({
        modelBaseUrl: mock.url,
        name: "idle-plugin",
        beforeStart: (gateway) =>
          loadInstalledPlugin(gateway, {
            enabled: true,
            config: {
              self: { name: "bench-idle" },
              stateDir: join(gateway.stateDir, "inter-instance"),
              instances: Object.fromEntries(
                ["xiaom", ...(context.otherInstances ?? [])].map((name) => [
                  name,
                  { gateway: { url: refusing, token: "not-used" }, transports: ["sessions_send"] },
                ]),
              ),
            },
          }),
      }),
    ]);
    context.log("9 the Gateways are ready");
    const queued = await queueOne(withPlugin);
    // The plugin's services alone, in a process of their own, beside an empty Node process: what the
    // Gateway measurement cannot resolve under OpenClaw's own bursts.
    const servicesScratch = join(context.scratch, "idle-services");
    await mkdir(servicesScratch, { recursive: true });
    services = await startChild(["bench/idle-services.ts", servicesScratch, refusing]);
    emptyNode = await startChild(["-e", "process.stdout.write('ready\\n'); setInterval(() => undefined, 2 ** 30)"]);
    context.log(`9 a message is ${queued} in the plugin's outbox; services and empty node started; settling ${context.settleMs / 1000} s`);
    await new Promise((resolve) => setTimeout(resolve, context.settleMs));
    // Without the second plain Gateway (--quick), the first stands in for it: no noise floor is measured.
    const pids = [plain.pid!, (plainToo ?? plain).pid!, withPlugin.pid!, services.child.pid!, emptyNode.child.pid!];
    const shares: [number[], number[], number[], number[], number[]] = [[], [], [], [], []];
    for (let window = 0; window < context.windows; window += 1) {
      const before = await Promise.all(pids.map(cpuSecondsOfTree));
      await new Promise((resolve) => setTimeout(resolve, context.windowMs));
      const after = await Promise.all(pids.map(cpuSecondsOfTree));
      for (const [i] of pids.entries()) shares[i]!.push(((after[i]! - before[i]!) / (context.windowMs / 1000)) * 100);
      context.log(
        `9 idle window ${window + 1}/${context.windows}: ${shares.map((list) => `${list.at(-1)!.toFixed(2)} %`).join(", ")} (plain, plain, plugin; services alone, empty node)`,
      );
    }
    const [plainShare, plainTooShare, pluginShare] = shares.map(median) as [number, number, number];
    // Paired by window: each window's plugin share against the two without it in that same window.
    const [plainWindows, plainTooWindows, pluginWindows, servicesWindows, emptyWindows] = shares;
    const cost = median(pluginWindows.map((share, i) => share - (plainWindows[i]! + plainTooWindows[i]!) / 2));
    const noise = median(plainWindows.map((share, i) => Math.abs(share - plainTooWindows[i]!)));
    const signed = (value: number) => `${value >= 0 ? "+" : ""}${value.toFixed(2)} %`;
    const seconds = context.windowMs / 1000;
    context.row({
      scenario: "9. idle cost",
      a: `Gateway with the plugin: ${pluginShare.toFixed(2)} % of a core`,
      b: `two without: ${plainShare.toFixed(2)} % and ${plainTooShare.toFixed(2)} %`,
      ratio: signed(cost),
      note: `median over ${context.windows} windows of ${seconds} s at rest of (plugin − mean of the two without) in the same window; CPU time of each Gateway's process tree (every window: plugin ${pluginWindows.map((v) => v.toFixed(2)).join(" / ")}, without ${plainWindows.map((v) => v.toFixed(2)).join(" / ")} and ${plainTooWindows.map((v) => v.toFixed(2)).join(" / ")} %); the plugin's has one message ${queued} in its outbox (its target refuses). ${plainToo ? `The two without it differ by ${noise.toFixed(2)} % (median per window): differences below that are noise` : "One Gateway without it (quick run): no noise floor"}. Goal: within 0.1 % of a core`,
    });
    const servicesCost = median(servicesWindows.map((share, i) => share - emptyWindows[i]!));
    context.row({
      scenario: "9. idle cost, services alone",
      a: `inbox + outbox services: ${median(servicesWindows).toFixed(3)} % of a core`,
      b: `empty node: ${median(emptyWindows).toFixed(3)} %`,
      ratio: `${servicesCost >= 0 ? "+" : ""}${servicesCost.toFixed(3)} %`,
      note: `the plugin's two services run as in a Gateway (file watch and 30 s safety-net poll on a workspace; one message queued for a refusing target, ${services.ready.replace(/^ready /u, "")}), in a process of their own, same ${context.windows} windows of ${seconds} s; median of per-window differences. Goal: within 0.1 % of a core`,
    });
    if (context.afterWindows) {
      await Promise.all([stopChild(services.child), stopChild(emptyNode.child), plainToo?.stop()]);
      for (const to of context.otherInstances ?? []) await queueOne(withPlugin, to);
      await context.afterWindows(withPlugin, plain);
    }
  } finally {
    await Promise.all([stopChild(services?.child), stopChild(emptyNode?.child)]);
    await Promise.all([plain?.dispose(), plainToo?.dispose(), withPlugin?.dispose()]);
    await mock.close();
  }
}
