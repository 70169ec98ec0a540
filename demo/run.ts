// npm run demo
// Two real OpenClaw Gateways on loopback ("xiaoa" and "xiaom") and a scripted model. The library,
// speaking as xiaoa, acts on "给小m发消息：你好", asks xiaom a question, then loses its WebSocket
// route to xiaom and falls back to the memory file. Everything is removed at the end.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createMessenger, type DeliveryReport, parsePhrase } from "../dist/index.js";
import { startGateway, type TestGateway } from "../test/harness/gateway.ts";
import { startMockModel } from "../test/harness/mock-model.ts";
import { startTcpProxy } from "../test/harness/tcp-proxy.ts";

const started = performance.now();
const elapsed = () => `${((performance.now() - started) / 1000).toFixed(1)}s`;
const say = (line: string) => console.log(`[${elapsed()}] ${line}`);
const printReport = (report: DeliveryReport) => {
  for (const attempt of report.attempts) {
    const why = attempt.error ? ` ${attempt.error.code}: ${attempt.error.message}` : attempt.skippedBecause ? ` (${attempt.skippedBecause})` : "";
    console.log(`           ${attempt.transport.padEnd(14)} ${attempt.outcome}${why}`);
  }
  console.log(`           => ok=${report.ok} status=${report.status} via=${report.via ?? "-"}`);
};

const scratch = await mkdtemp(join(tmpdir(), "oii-demo-"));
const mock = await startMockModel();
const gateways: TestGateway[] = [];
try {
  say("starting two OpenClaw Gateways (xiaoa, xiaom) and the mock model on 127.0.0.1 …");
  const [xiaoa, xiaom] = await Promise.all([startGateway({ modelBaseUrl: mock.url, name: "xiaoa" }), startGateway({ modelBaseUrl: mock.url, name: "xiaom" })]);
  gateways.push(xiaoa, xiaom);
  say(`xiaoa on ${xiaoa.url}, xiaom on ${xiaom.url}`);
  // The route to xiaom goes through a relay the demo can cut, like a VPN dropping.
  const route = await startTcpProxy(xiaom.port);

  const messenger = createMessenger({
    config: {
      self: { name: "xiaoa" },
      stateDir: join(scratch, "state"),
      defaults: { circuitCooldownMs: 0 },
      instances: {
        xiaom: {
          aliases: ["小m", "mac-mini"],
          gateway: { url: route.url, token: xiaom.token },
          workspace: xiaom.workspace,
          transports: ["sessions_send", "memory_file"],
        },
        xiaoa: { aliases: ["小a"], gateway: { url: xiaoa.url, token: xiaoa.token }, workspace: xiaoa.workspace },
      },
    },
    log: { level: "silent" },
  });
  try {
    const phrase = "给小m发消息：你好";
    const intent = parsePhrase(phrase, messenger.registry);
    say(`phrase ${JSON.stringify(phrase)} -> ${JSON.stringify(intent)}`);
    if (intent.action !== "send") throw new Error("the phrase parser did not understand the demo phrase");
    const first = await messenger.send({ to: intent.target, body: intent.body });
    say("1. send to 小m:");
    printReport(first);

    const answer = await messenger.ask({ to: "xiaom", body: "部署完成了吗？ REPLY:deployed" }, { timeoutMs: 60_000 });
    say(`2. ask xiaom "部署完成了吗？" -> answer ${JSON.stringify(answer.reply)} (via ${answer.report.via})`);

    await route.close();
    say("3. the route to xiaom goes down (connections refused); send again:");
    const fallback = await messenger.send({ to: "mac-mini", body: "网络断了，这条走备用通道" });
    printReport(fallback);
    say(`   the entry is in ${String(fallback.receipt?.detail.path ?? "?")}`);

    say("4. doctor (probes, nothing sent):");
    for (const name of ["xiaoa", "xiaom"]) {
      for (const probe of await messenger.probe(name)) {
        console.log(
          `           ${name.padEnd(6)} ${probe.transport.padEnd(14)} ${probe.ok ? "ok" : probe.skippedBecause ? "--" : `FAIL ${probe.error?.code}`}`,
        );
      }
    }
  } finally {
    await messenger.close();
  }
} finally {
  await Promise.all(gateways.map((gateway) => gateway.dispose()));
  await mock.close();
  await rm(scratch, { recursive: true, force: true });
  say("cleaned up: Gateways stopped, state dirs removed.");
}
