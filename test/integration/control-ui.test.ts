import { createHash, randomBytes, randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createMessenger, type Messenger } from "../../src/index.js";
import { incomingFilesDir } from "../../src/transports/nodes/incoming.js";
import { MessagingKeyStore } from "../../src/trust/messaging-key.js";
import { freePort, startGateway, type TestGateway } from "../harness/gateway.js";
import { type MockModelServer, startMockModel } from "../harness/mock-model.js";
import { openclawCli, readHistory, textOf } from "../harness/oracle.js";
import { loadInstalledPlugin } from "../harness/plugin-install.js";
import { prometheusOrSkip, promtoolCheck, startPrometheus, type TestPrometheus } from "../harness/prometheus.js";
import { gatewayRequest } from "../harness/rpc.js";
import { testLog } from "../harness/secrets-watch.js";

// Where OpenClaw users look, against real Gateways: A (Xiaoa) runs the plugin from its packed
// tarball with the Control UI's custom plugin pages on; B (Xiaom) runs it too, with A's messaging
// key pinned (so it checks the files A's page sends, and its agent is told what it found); xiaoq's
// Gateway refuses connections. The Instances page is driven in Debian's Chromium (playwright-core),
// the `/instances` command through chat.send, our CLI through `openclaw inter-instance`, and the
// doctor's failing checks are read from the Gateway's health report.
const CHROMIUM = "/usr/bin/chromium";
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) {
  const missing = `control-ui.test: ${CHROMIUM} is missing (install Debian's chromium package to run the browser test)`;
  if (process.env.CI) throw new Error(missing);
  console.warn(missing);
}
const SCREENSHOT = join(import.meta.dirname, "..", "..", "docs", "control-ui-instances.png");
// A real 1×1 PNG.
const PNG = Buffer.from(
  "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d49444154789c6360f8cfc0f01f0005000201a5f8b0b90000000049454e44ae426082",
  "hex",
);
const sha = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

let scratch: string;
let mockA: MockModelServer;
let mockB: MockModelServer;
let gatewayA: TestGateway;
let gatewayB: TestGateway;
let stranger: Messenger;
let browser: BrowserContext | undefined;
let page: Page;
let deadPort: number;

/** The config's gateway block gains `controlUi.experimental.customPlugins` (Settings → Labs → Custom plugin UI). */
async function enableCustomPluginUi(stateDir: string): Promise<void> {
  const path = join(stateDir, "openclaw.json");
  const config = JSON.parse(await readFile(path, "utf8")) as { gateway: Record<string, unknown> };
  config.gateway.controlUi = { experimental: { customPlugins: true } };
  await writeFile(path, `${JSON.stringify(config, null, 2)}\n`);
}

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), "oii-controlui-"));
  let portB: number;
  [mockA, mockB, deadPort, portB] = await Promise.all([startMockModel(), startMockModel(), freePort(), freePort()]);
  const tokenB = `tok-xiaom-${randomUUID()}`;
  // A's plugin state (its messaging key) is made first, so B can pin the key before either starts.
  const stateA = join(scratch, "xiaoa-inter-instance");
  const keyA = new MessagingKeyStore(stateA).key();
  [gatewayB, gatewayA] = await Promise.all([
    startGateway({
      modelBaseUrl: mockB.url,
      name: "xiaom-ui",
      port: portB,
      token: tokenB,
      beforeStart: (gateway) =>
        loadInstalledPlugin(gateway, {
          hooks: { allowConversationAccess: true },
          config: { self: { name: "xiaom" }, stateDir: join(gateway.stateDir, "inter-instance"), instances: { xiaoa: { publicKey: keyA.publicKey } } },
        }),
    }),
    startGateway({
      modelBaseUrl: mockA.url,
      name: "xiaoa-ui",
      beforeStart: async (gateway) => {
        await loadInstalledPlugin(gateway, {
          hooks: { allowConversationAccess: true },
          config: {
            self: { name: "xiaoa" },
            stateDir: stateA,
            // The health service's first run comes 5 s after start.
            health: { intervalMs: 5_000 },
            defaults: { retries: 0 },
            // Find Gateways browses by mDNS: on loopback only (this Gateway is in the machine's own namespace).
            discovery: { interface: "127.0.0.1" },
            instances: {
              xiaom: { aliases: ["小m"], gateway: { url: `ws://127.0.0.1:${portB}`, token: tokenB }, transports: ["sessions_send"] },
              xiaoq: { gateway: { url: `ws://127.0.0.1:${deadPort}`, token: "tok-nobody-listens" }, transports: ["sessions_send"] },
            },
          },
        });
        await enableCustomPluginUi(gateway.stateDir);
      },
    }),
  ]);
  // Nobody A pinned: what it sends to A is held for A's owner (the default policy).
  stranger = createMessenger({
    config: {
      self: { name: "xiaoz" },
      stateDir: join(scratch, "xiaoz"),
      instances: { xiaoa: { gateway: { url: gatewayA.url, token: gatewayA.token }, transports: ["sessions_send"] } },
    },
    log: testLog(),
  });
}, 420_000);

afterAll(async () => {
  await browser?.close();
  await stranger?.close();
  await gatewayA?.dispose();
  await gatewayB?.dispose();
  await mockA?.close();
  await mockB?.close();
  await rm(scratch, { recursive: true, force: true });
});

/** Our entry in the Gateway's health report (`health` RPC, as `openclaw health --json` prints it), if any. */
async function pluginHealthError(): Promise<string | undefined> {
  const health = await gatewayRequest<{ plugins?: { errors?: { id: string; error?: string }[] } }>(gatewayA, "health", {});
  return health.plugins?.errors?.find((entry) => entry.id === "inter-instance")?.error;
}

it("/instances in chat lists the instances, the way to each now and the outbox, without a model call", async () => {
  const before = mockA.requests.length;
  const { runId } = await gatewayRequest<{ runId: string }>(gatewayA, "chat.send", {
    sessionKey: "agent:main:main",
    message: "/instances",
    idempotencyKey: randomUUID(),
  });
  await gatewayRequest(gatewayA, "agent.wait", { runId, timeoutMs: 60_000 }, 70_000);
  await expect
    .poll(
      async () => {
        const rows = await readHistory(gatewayA);
        const last = rows.at(-1);
        return last?.role === "assistant" ? textOf(last.content) : "";
      },
      { timeout: 60_000, interval: 1_000 },
    )
    .toContain("instance(s) known to xiaoa");
  const text = textOf((await readHistory(gatewayA)).at(-1)!.content);
  expect(text).toMatch(/- xiaom \(小m\): messages go by sessions_send/u);
  expect(text).toContain("- xiaoq");
  expect(text).toMatch(/outbox/u);
  expect(mockA.requests.length).toBe(before);
});

it("openclaw inter-instance runs our CLI inside OpenClaw, with the plugin's config from openclaw.json", async () => {
  const result = await openclawCli(gatewayA, ["inter-instance", "doctor", "xiaoq"], 120_000);
  expect(result.code).toBe(1);
  expect(result.stdout).toMatch(/FAIL\s+transport:sessions_send/u);
  expect(result.stdout).toContain("fix:");
  expect(`${result.stdout}${result.stderr}`).not.toContain("tok-nobody-listens");
}, 150_000);

describe.skipIf(!haveChromium)("the Instances page in Chromium", () => {
  beforeAll(async () => {
    const profile = join(scratch, "chromium-profile");
    await mkdir(profile, { recursive: true });
    // Off the network: only the Gateway on loopback is reached.
    browser = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      viewport: { width: 1440, height: 1200 },
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
    page = browser.pages()[0] ?? (await browser.newPage());
  });

  const status = () => page.locator("output.iim-status").textContent();
  const transportBadge = (instance: string, transport: string) =>
    page.locator(`article[data-instance="${instance}"] [data-transport="${transport}"] .iim-badge`).textContent();

  it("loads from the plugin's tarball and shows each instance, its transports' state and the route now; a failing one shows its fix", async () => {
    const catalog = await gatewayRequest<{ plugins: { pluginId: string }[] }>(gatewayA, "plugins.controlUi.list", {});
    expect(catalog.plugins.map((plugin) => plugin.pluginId)).toContain("inter-instance");
    await openInstancesPage(page, `${gatewayA.httpUrl}/plugin?plugin=inter-instance&id=instances#token=${encodeURIComponent(gatewayA.token)}`, gatewayA.token);
    await page.getByRole("button", { name: "Check now" }).click();
    await expect.poll(() => transportBadge("xiaom", "sessions_send"), { timeout: 60_000 }).toBe("ok");
    await expect.poll(() => transportBadge("xiaoq", "sessions_send"), { timeout: 60_000 }).toBe("failing");
    expect(await page.locator('article[data-instance="xiaom"] .iim-route').textContent()).toContain("sessions_send");
    expect(await page.locator('article[data-instance="xiaoq"] .iim-fix').first().textContent()).toMatch(/^Fix: \S/u);
    const activations = await gatewayRequest<{ clients: { activations: { status: string }[] }[] }>(gatewayA, "plugins.controlUi.status", {
      pluginId: "inter-instance",
    });
    expect(activations.clients.flatMap((client) => client.activations.map((a) => a.status))).toContain("activated");
  });

  it("Find Gateways asks the plugin's discover route (authenticated) and says, in a sentence, that none answered on loopback", async () => {
    const route = `${gatewayA.httpUrl}/inter-instance/discover?timeout=1`;
    expect((await fetch(route)).status).toBe(401);
    const [answer] = await Promise.all([
      fetch(route, { headers: { authorization: `Bearer ${gatewayA.token}` } }),
      page.getByRole("button", { name: "Find Gateways" }).click(),
    ]);
    expect(await answer.json()).toMatchObject({
      gateways: [],
      sources: ["lan"],
      failed: [],
      text: expect.stringMatching(/^No OpenClaw Gateway answered within 1s\./u),
    });
    await page
      .locator(".iim-discover-result")
      .getByText(/^No OpenClaw Gateway answered within 3s\./u)
      .waitFor({ timeout: 30_000 });
  });

  // A refresh replaced the whole body, the form with it: the textarea lost the focus, and a message typed
  // right after (by a person, or by Playwright under load in CI run N) arrived empty.
  it("what someone is typing keeps the focus and its text across a refresh of the page", async () => {
    const message = page.getByRole("textbox", { name: "Message" });
    await message.fill("half a thought");
    await message.focus();
    const updated = page.locator("p.iim-muted", { hasText: "Updated" });
    const before = await updated.textContent();
    // "Check now" refreshes the page; the click moves the focus, so it goes back before the refresh lands.
    await page.getByRole("button", { name: "Check now" }).click();
    await message.focus();
    await expect.poll(() => updated.textContent(), { timeout: 60_000 }).not.toBe(before);
    expect(await message.evaluate((node) => node === node.ownerDocument.activeElement)).toBe(true);
    await page.keyboard.type(", finished");
    expect(await message.inputValue()).toBe("half a thought, finished");
    await message.fill("");
  });

  it("a message sent from the page arrives at Gateway B; one to the unreachable instance waits in the outbox and can be dropped", async () => {
    const body = `from the Instances page ${randomUUID()}`;
    await page.getByRole("combobox", { name: "Send to" }).selectOption("xiaom");
    await page.getByRole("textbox", { name: "Message" }).fill(body);
    await page.getByRole("button", { name: "Send", exact: true }).click();
    await expect.poll(status, { timeout: 60_000 }).toContain("Accepted by xiaom's Gateway via sessions_send (not yet seen by its agent)");
    await expect
      .poll(async () => (await readHistory(gatewayB)).some((row) => row.role === "user" && textOf(row.content).includes(body)), {
        timeout: 120_000,
        interval: 1_000,
      })
      .toBe(true);

    await page.getByRole("combobox", { name: "Send to" }).selectOption("xiaoq");
    await page.getByRole("textbox", { name: "Message" }).fill("this one waits");
    await page.getByRole("button", { name: "Send", exact: true }).click();
    await expect.poll(status, { timeout: 60_000 }).toContain("queued in the outbox");
    await page.getByRole("table", { name: "Outbox" }).getByRole("cell", { name: "xiaoq", exact: true }).waitFor({ timeout: 30_000 });
    // The numbers the metrics route serves, on the page: how long the oldest waits, latency per transport.
    await page.getByText(/^The oldest message has waited \d+ s\.$/u).waitFor({ timeout: 30_000 });
    const latency = page.getByRole("table", { name: "Delivery latency" }).getByRole("row").filter({ hasText: "sessions_send" });
    await latency.waitFor({ timeout: 30_000 });
    expect(await latency.getByRole("cell").allTextContents()).toEqual([
      "sessions_send",
      expect.stringMatching(/^[1-9]\d*$/u),
      expect.stringMatching(/^\d+ ms$/u),
      expect.stringMatching(/^\d+ ms$/u),
    ]);
  });

  it("a message held for the owner is listed without its body; approving it on the page shows it to A's agent", async () => {
    const body = `a stranger writes ${randomUUID()}`;
    const report = await stranger.send({ to: "xiaoa", body });
    expect(report.ok).toBe(true);
    const held = page.getByRole("table", { name: "Held messages" });
    await held.getByRole("cell", { name: report.id, exact: true }).waitFor({ timeout: 90_000 });
    expect(await held.textContent()).not.toContain(body);
    expect(await held.textContent()).toContain("claims to be xiaoz (UNVERIFIED");
    await mkdir(join(SCREENSHOT, ".."), { recursive: true });
    await page.screenshot({ path: SCREENSHOT, fullPage: true });

    await page.getByRole("button", { name: `Approve ${report.id}` }).click();
    await expect.poll(status, { timeout: 30_000 }).toContain(`Approved ${report.id}`);
    // Shown to A's agent (what its model is given), marked unverified and approved by the owner.
    const shownToA = () => mockA.requests.some((request) => JSON.stringify(request.body.messages ?? []).includes(body));
    await expect.poll(shownToA, { timeout: 90_000, interval: 1_000 }).toBe(true);
    await expect.poll(() => held.getByRole("cell", { name: report.id, exact: true }).count(), { timeout: 30_000 }).toBe(0);

    const waiting = page.getByRole("table", { name: "Outbox" });
    const queuedId = (await waiting.locator("tbody tr td").first().textContent())!;
    await page.getByRole("button", { name: `Drop ${queuedId}` }).click();
    await expect.poll(status, { timeout: 30_000 }).toContain(`Dropped ${queuedId}`);
    await expect.poll(() => page.getByText("Nothing waits in the outbox.").count(), { timeout: 30_000 }).toBe(1);
  }, 240_000);

  it("files chosen in the form go with the message: B's agent gets each byte-exact and is told it is verified; the form clears", async () => {
    const body = `files from the Instances page ${randomUUID()}`;
    const text = Buffer.from(`page build ok ${randomUUID()}\n`);
    // Larger than one OpenClaw plugin action may carry (256 KiB of JSON): it goes up in several parts.
    const data = randomBytes(400 * 1024);
    const files = [
      { name: "page-notes.txt", mimeType: "text/plain", buffer: text },
      { name: "page-shot.png", mimeType: "image/png", buffer: PNG },
      { name: "page-data.bin", mimeType: "application/octet-stream", buffer: data },
    ];
    await page.getByRole("combobox", { name: "Send to" }).selectOption("xiaom");
    await page.getByRole("textbox", { name: "Message" }).fill(body);
    await page.getByLabel("Files").setInputFiles(files);
    expect(await page.getByLabel("Files").inputValue()).toContain("page-notes.txt");
    await page.getByRole("button", { name: "Send", exact: true }).click();
    await expect.poll(status, { timeout: 90_000 }).toContain("Accepted by xiaom's Gateway via sessions_send");
    expect(await page.getByRole("textbox", { name: "Message" }).inputValue()).toBe("");
    expect(await page.getByLabel("Files").inputValue()).toBe("");

    // What B's model was given: the plugin's line for each file, with its verdict.
    const fileLines = (name: string) =>
      mockB.requests
        .flatMap((request) => (request.body.messages ?? []).map((message) => textOf(message.content)))
        .flatMap((prompt) => prompt.split("\n").filter((line) => line.includes(`${JSON.stringify(name)} (`)));
    const folder = incomingFilesDir(gatewayB.workspace);
    for (const { name, buffer } of files) {
      await expect
        .poll(() => fileLines(name).some((line) => line.includes(": verified (SHA-256")), { timeout: 120_000, interval: 500, message: name })
        .toBe(true);
      expect(sha(await readFile(join(folder, sha(buffer), name)))).toBe(sha(buffer));
    }
    expect(mockB.requests.some((request) => JSON.stringify(request.body.messages ?? []).includes(body))).toBe(true);
  }, 240_000);
});

// Last: OpenClaw refreshes the health report on its own schedule (the first one can take a minute).
it("the doctor's failing checks are in the Gateway's health report, each with its fix; working instances are not", async () => {
  await expect.poll(pluginHealthError, { timeout: 90_000, interval: 2_000 }).toContain("xiaoq transport:sessions_send");
  const error = (await pluginHealthError())!;
  expect(error).toContain("(fix: ");
  expect(error).not.toContain("xiaom ");
  expect(error).not.toContain("tok-nobody-listens");
});

// Issue 30: a real Prometheus (Debian's) scrapes the plugin's route on A with A's token, once a second.
describe("metrics a monitoring system can scrape", () => {
  let prometheus: TestPrometheus | undefined;
  afterAll(async () => {
    await prometheus?.dispose();
  });

  const invoke = async (tool: string, args: unknown) =>
    (await (
      await fetch(`${gatewayA.httpUrl}/tools/invoke`, {
        method: "POST",
        headers: { authorization: `Bearer ${gatewayA.token}`, "content-type": "application/json" },
        body: JSON.stringify({ tool, args }),
      })
    ).json()) as { result?: { details: { report?: { status: string } } } };

  it("Prometheus scrapes /inter-instance/metrics; PromQL gives the outbox depth and the send count the test made; promtool passes on it; no token, no numbers", async () => {
    if (!(await prometheusOrSkip("control-ui.test metrics"))) return;
    const route = `${gatewayA.httpUrl}/inter-instance/metrics`;
    expect((await fetch(route)).status).toBe(401);
    const scraped = await fetch(route, { headers: { authorization: `Bearer ${gatewayA.token}` } });
    expect(scraped.status).toBe(200);
    expect(scraped.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/u);
    expect(await promtoolCheck(await scraped.text())).toEqual({ code: 0, output: "" });

    prometheus = await startPrometheus({ target: new URL(gatewayA.httpUrl).host, path: "/inter-instance/metrics", bearerToken: gatewayA.token });
    const up = prometheus;
    await expect.poll(async () => (await up.target())?.health, { timeout: 30_000, interval: 500 }).toBe("up");
    const one = async (promql: string) => (await up.query(promql))[0]?.value ?? 0;
    const SENT = 'sum(openclaw_inter_instance_sends_total{peer="xiaom",transport="sessions_send",status="accepted"})';
    const WAITING = 'openclaw_inter_instance_outbox_waiting{peer="xiaoq"}';
    const [sentBefore, waitingBefore] = [await one(SENT), await one(WAITING)];

    for (let i = 0; i < 3; i += 1)
      expect((await invoke("instance_send", { to: "xiaom", message: `counted ${i} ${randomUUID()}` })).result?.details.report).toMatchObject({
        status: "accepted",
      });
    for (let i = 0; i < 2; i += 1)
      expect((await invoke("instance_send", { to: "xiaoq", message: `waits ${i} ${randomUUID()}` })).result?.details.report).toMatchObject({
        status: "queued",
      });

    const routeText = async () => (await fetch(route, { headers: { authorization: `Bearer ${gatewayA.token}` } })).text();
    await expect.poll(() => one(SENT), { timeout: 30_000, interval: 500, message: `the route served:\n${await routeText()}` }).toBe(sentBefore + 3);
    await expect.poll(() => one(WAITING), { timeout: 30_000, interval: 500 }).toBe(waitingBefore + 2);
    expect(await one('openclaw_inter_instance_outbox_oldest_waiting_seconds{peer="xiaoq"}')).toBeGreaterThan(0);
    expect(await one('openclaw_inter_instance_circuit_open{peer="xiaom",transport="sessions_send"}')).toBe(0);
    expect(await one('sum(openclaw_inter_instance_delivery_seconds_count{transport="sessions_send"})')).toBeGreaterThanOrEqual(3);
    // What the stranger sent earlier was held: counted with its reason, in a word.
    expect(await one('sum(openclaw_inter_instance_inbound_total{status="held",reason="unverified"})')).toBeGreaterThanOrEqual(1);
  });
});

/**
 * Opens the plugin's page. Once, under a loaded run, the Control UI sat 90 s without mounting it; what
 * the page showed then goes to the log, and it is loaded once more, as a person would.
 */
async function openInstancesPage(page: Page, url: string, token: string): Promise<void> {
  const heading = page.getByRole("heading", { name: "Instances", level: 1 });
  const consoleLines: string[] = [];
  const onConsole = (message: { type(): string; text(): string }) => void consoleLines.push(`${message.type()}: ${message.text()}`.slice(0, 300));
  page.on("console", onConsole);
  try {
    await page.goto(url);
    try {
      await heading.waitFor({ timeout: 60_000 });
      return;
    } catch {
      const shown = (
        await page
          .locator("body")
          .textContent()
          .catch(() => "")
      )?.slice(0, 600);
      const said = `the Instances page did not mount within 60 s; it showed: ${JSON.stringify(shown)}; console: ${JSON.stringify(consoleLines.slice(-20))}; loading it again`;
      process.stderr.write(`[control-ui] ${said.replaceAll(token, "[token]").replaceAll(encodeURIComponent(token), "[token]")}\n`);
    }
    await page.reload();
    await heading.waitFor({ timeout: 90_000 });
  } finally {
    page.off("console", onConsole);
  }
}
