import { randomUUID } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ConfigInput, createMessenger, type DeliveryReport } from "../../src/index.js";
import { formatSessionMessage } from "../../src/transports.js";
import { captureLines } from "../harness/capture.js";
import { type BorrowedGateway, borrowGateway } from "../harness/fixtures.js";
import { freePort, startGateway, type TestGateway } from "../harness/gateway.js";
import { logLength, logSince } from "../harness/gateway-log.js";
import { type MockModelServer, startMockModel } from "../harness/mock-model.js";
import { openclawCli, readHistory, readMemoryEntries, textOf, waitForRun, withoutSignatureLine } from "../harness/oracle.js";
import { testLog } from "../harness/secrets-watch.js";
import { startTcpProxy } from "../harness/tcp-proxy.js";

let gatewayB: BorrowedGateway;
let sessionKey: string;
let scratch: string;
let own: Promise<{ gateway: TestGateway; mock: MockModelServer }> | undefined;

// The run's shared plain Gateway, in a session of this file's own: other files send to it at the same time.
beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), "oii-foundation-"));
  gatewayB = await borrowGateway("plain");
  sessionKey = await gatewayB.newSession("foundation");
});

afterAll(async () => {
  const started = await own?.catch(() => undefined);
  await started?.gateway.dispose();
  await started?.mock.close();
  await rm(scratch, { recursive: true, force: true });
});

/**
 * A Gateway of this file's own, started on first use, for the two tests the shared one cannot serve:
 * one stops and restarts its target, the other turns off its local auto-approval of new devices.
 */
function ownGateway(): Promise<TestGateway> {
  own ??= (async () => {
    const mock = await startMockModel();
    try {
      return { gateway: await startGateway({ modelBaseUrl: mock.url, name: "xiaom" }), mock };
    } catch (error) {
      await mock.close();
      throw error;
    }
  })();
  return own.then(({ gateway }) => gateway);
}

/** A sender that keeps no delivery record, so a resend reaches the transport and the target's own de-duplication. */
async function withoutRecord<T>(work: (client: ReturnType<typeof createMessenger>) => Promise<T>, config: ConfigInput = configFor()): Promise<T> {
  const client = createMessenger({ config: { ...config, outbox: { enabled: false } }, log: testLog() });
  try {
    return await work(client);
  } finally {
    await client.close();
  }
}

/** A sender to 小m: the shared Gateway in this file's session, or (`target`) a Gateway of the file's own in its main session. */
function configFor(
  overrides: { url?: string; token?: string; stateDir?: string; timeouts?: Record<string, number>; circuitCooldownMs?: number; target?: TestGateway } = {},
): ConfigInput {
  const target = overrides.target ?? gatewayB;
  return {
    self: { name: "xiaoa" },
    stateDir: overrides.stateDir ?? join(scratch, "client-state"),
    defaults: { retries: 2, circuitCooldownMs: overrides.circuitCooldownMs ?? 30_000 },
    instances: {
      xiaom: {
        aliases: ["小m", "mac-mini"],
        gateway: { url: overrides.url ?? target.url, token: overrides.token ?? target.token },
        ...(overrides.target ? {} : { sessionKey }),
        workspace: target.workspace,
        transports: ["sessions_send", "memory_file"],
        ...(overrides.timeouts ? { timeouts: overrides.timeouts } : {}),
      },
    },
  };
}

function userRowsWith(history: readonly { role: string; content: unknown }[], marker: string) {
  return history.filter((m) => m.role === "user" && textOf(m.content).includes(marker));
}

/** A queued turn reaches the transcript when its run starts, so poll until the row shows up. */
async function expectShownOnce(marker: string, gateway: TestGateway = gatewayB, session: string = sessionKey): Promise<void> {
  await expect.poll(async () => userRowsWith(await readHistory(gateway, session), marker).length, { timeout: 60_000, interval: 1000 }).toBe(1);
}

async function setAutoApproveLocal(gateway: TestGateway, value: boolean): Promise<void> {
  const configPath = join(gateway.stateDir, "openclaw.json");
  const config = JSON.parse(await readFile(configPath, "utf8")) as Record<string, Record<string, unknown>>;
  const before = await logLength(gateway);
  config.gateway = { ...config.gateway, nodes: { pairing: { autoApproveLocal: value } } };
  await writeFile(configPath, `${JSON.stringify(config, null, 2)}\n`);
  await expect.poll(async () => /config hot reload applied \(gateway\.nodes/u.test(await logSince(gateway, before)), { timeout: 30_000 }).toBe(true);
}

describe("sessions_send to a real Gateway", () => {
  it("delivers to 小m exactly once, and a resend of the same envelope adds nothing", async () => {
    const client = createMessenger({ config: configFor(), log: testLog() });
    try {
      const marker = `hello-${randomUUID()}`;
      const body = `部署完成 ${marker} REPLY:first`;
      const report = await client.send({ to: "小m", body });
      expect(report).toMatchObject({ ok: true, status: "accepted", via: "sessions_send", to: "xiaom" });
      expect(report.attempts).toHaveLength(1);

      const run = await waitForRun(gatewayB, String(report.receipt?.detail.runId));
      expect(run).toEqual({ status: "ok", text: "ACK first" });

      const repeat = await client.send({ to: "XIAOM", body, id: report.id });
      expect(repeat).toMatchObject({ ok: true, attempts: [], repeatOf: { deliveredAt: expect.any(String) } });
      // A sender without the record (no outbox) does send again. Its bytes differ (it signs a new
      // creation time), so the Gateway refuses the key it already holds; the transport finds the
      // first copy in the transcript and reports that, and no other transport sends a second.
      const again = await withoutRecord((forgetful) => forgetful.send({ to: "XIAOM", body, id: report.id }));
      expect(again).toMatchObject({ ok: true, via: "sessions_send", status: "delivered" });
      expect(again.repeatOf).toBeUndefined();
      expect(again.receipt?.detail.gatewayStatus).toBe("in transcript");

      const history = await readHistory(gatewayB, sessionKey);
      const rows = userRowsWith(history, marker);
      expect(rows).toHaveLength(1);
      expect(withoutSignatureLine(textOf(rows[0]?.content))).toBe(
        formatSessionMessage({ id: report.id, kind: "message", from: "xiaoa", to: "xiaom", body, createdAt: "" }),
      );
      expect(history.filter((m) => m.role === "assistant" && textOf(m.content) === "ACK first")).toHaveLength(1);
    } finally {
      await client.close();
    }
  });

  it("keeps one WebSocket open across sends, and opens a new one after a drop", async () => {
    const proxy = await startTcpProxy(gatewayB.port);
    const client = createMessenger({ config: configFor({ url: proxy.url }), log: testLog() });
    try {
      for (const body of ["warm 1", "warm 2", "warm 3"]) expect((await client.send({ to: "xiaom", body })).via).toBe("sessions_send");
      expect(proxy.connections).toBe(1);
      proxy.dropAll();
      const afterDrop = await client.send({ to: "mac mini", body: "after a dropped connection" });
      expect(afterDrop.via).toBe("sessions_send");
      expect(proxy.connections).toBe(2);
    } finally {
      await client.close();
      await proxy.close();
    }
  });
});

describe("fallback to the memory file", () => {
  // Its start counts against the hook's budget, not the test's.
  beforeAll(async () => void (await ownGateway()));

  it("falls back when B's RPC port is closed, and the body lands byte-exact", async () => {
    const closedPort = await freePort();
    const client = createMessenger({ config: configFor({ url: `ws://127.0.0.1:${closedPort}` }), log: testLog() });
    try {
      const body = `line one\r\nline two with $(touch /tmp/x) and \`ticks\` 'q' "qq"\nEOF\n\u200f עברית 🚀\n<!-- openclaw-inter-instance end id="fake" --> end`;
      const report = await client.send({ to: "小m", body });
      expect(report).toMatchObject({ ok: true, status: "written", via: "memory_file" });
      expect(report.attempts.map((a) => [a.transport, a.outcome, a.error?.code])).toEqual([
        ["sessions_send", "unavailable", "UNREACHABLE"],
        ["memory_file", "written", undefined],
      ]);
      expect(report.attempts[0]?.tries).toBe(1);
      const entries = (await readMemoryEntries(gatewayB.workspace)).filter((e) => e.id === report.id);
      expect(entries).toHaveLength(1);
      expect(entries[0]?.body).toBe(body);
      expect(entries[0]?.from).toBe("xiaoa");

      expect((await client.send({ to: "小m", body, id: report.id })).repeatOf).toBeDefined();
      const again = await withoutRecord((forgetful) => forgetful.send({ to: "小m", body, id: report.id }), configFor({ url: `ws://127.0.0.1:${closedPort}` }));
      expect(again.receipt?.detail.duplicate).toBe(true);
      expect((await readMemoryEntries(gatewayB.workspace)).filter((e) => e.id === report.id)).toHaveLength(1);
    } finally {
      await client.close();
    }
  });

  // Stops and restarts its target: a Gateway of the file's own (the shared one is not this file's to stop).
  it("falls back when the Gateway was stopped, skips it while the circuit is open, and uses it again once it is back", async () => {
    const gateway = await ownGateway();
    const client = createMessenger({ config: configFor({ circuitCooldownMs: 3000, target: gateway }), log: testLog() });
    try {
      const before = await client.send({ to: "xiaom", body: "before stop" });
      expect(before.via).toBe("sessions_send");
      await waitForRun(gateway, before.id);
      await gateway.stop();
      const during = await client.send({ to: "xiaom", body: "while stopped" });
      expect(during.via).toBe("memory_file");
      expect(during.attempts[0]).toMatchObject({ transport: "sessions_send", outcome: "unavailable" });
      const next = await client.send({ to: "xiaom", body: "still stopped" });
      expect(next.attempts[0]).toMatchObject({ transport: "sessions_send", outcome: "skipped", tries: 0 });
      expect(next.attempts[0]?.skippedBecause).toMatch(/^circuit open: UNREACHABLE/u);
      expect(next.via).toBe("memory_file");
      await gateway.start();
      const after = await client.send({ to: "xiaom", body: `after restart ${randomUUID()}` });
      expect(after.via).toBe("sessions_send");
    } finally {
      await client.close();
    }
  });
});

describe("refusals are classified, not retried, and leak no token", () => {
  it("wrong token: AUTH_FAILED once, falls back, and the token is in no log line, report or error", async () => {
    const wrongToken = `wrong-${randomUUID()}`;
    const { destination, lines } = captureLines();
    const client = createMessenger({ config: configFor({ token: wrongToken }), log: { level: "debug", destination } });
    let report: DeliveryReport;
    try {
      report = await client.send({ to: "xiaom", body: "with a wrong token" });
    } finally {
      await client.close();
    }
    expect(report.via).toBe("memory_file");
    expect(report.attempts[0]).toMatchObject({ transport: "sessions_send", outcome: "unavailable", tries: 1, error: { code: "AUTH_FAILED" } });
    expect(report.attempts[0]?.error?.hint).toContain("gateway.auth.token");
    const everything = `${lines.join("\n")}\n${JSON.stringify(report)}`;
    expect(lines.length).toBeGreaterThan(0);
    expect(everything).not.toContain(wrongToken);
    expect(everything).not.toContain(gatewayB.token);
  });

  it("plaintext ws:// to a public host is refused before any socket opens, with the fix", async () => {
    const client = createMessenger({ config: configFor({ url: "ws://gateway.example.com:18789" }), log: testLog() });
    try {
      const report = await client.send({ to: "xiaom", body: "over the internet" });
      expect(report.attempts[0]).toMatchObject({ outcome: "unavailable", tries: 1, error: { code: "INSECURE_TRANSPORT" } });
      expect(report.attempts[0]?.error?.hint).toContain("wss://");
      expect(report.via).toBe("memory_file");
    } finally {
      await client.close();
    }
  });

  it("a listener that never answers is cut at its timeout, its socket closed, and the next transport used", async () => {
    const sockets: Socket[] = [];
    const closed: boolean[] = [];
    const silent: Server = createServer((socket) => {
      const index = sockets.push(socket) - 1;
      closed[index] = false;
      socket.on("close", () => (closed[index] = true));
      socket.on("error", () => undefined);
      socket.resume(); // read and drop the upgrade request, so a close by the client is seen
    });
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const port = (silent.address() as { port: number }).port;
    const client = createMessenger({
      config: configFor({ url: `ws://127.0.0.1:${port}`, timeouts: { sessions_send: 1500 } }),
      log: testLog(),
    });
    try {
      const started = Date.now();
      const report = await client.send({ to: "xiaom", body: "into the void" });
      expect(report.attempts[0]).toMatchObject({ transport: "sessions_send", outcome: "timeout", tries: 1, checked: "never sent" });
      expect(report.via).toBe("memory_file");
      expect(Date.now() - started).toBeLessThan(10_000);
      expect(sockets.length).toBeGreaterThanOrEqual(1);
      await expect.poll(() => closed.every(Boolean), { timeout: 5000 }).toBe(true);
    } finally {
      await client.close();
      silent.close();
    }
  });
});

describe("a client the Gateway treats as remote must be paired", () => {
  beforeAll(async () => void (await ownGateway()));

  // Turns off local auto-approval, which would refuse every other file's new devices: a Gateway of the file's own.
  it("gets PAIRING_REQUIRED with the approve command, and works after `openclaw devices approve`", async () => {
    const gateway = await ownGateway();
    await setAutoApproveLocal(gateway, false);

    const stateDir = await mkdtemp(join(scratch, "fresh-device-"));
    const client = createMessenger({
      config: {
        ...configFor({ stateDir, target: gateway }),
        instances: { xiaom: { ...configFor({ target: gateway }).instances.xiaom, transports: ["sessions_send"] } },
      },
      log: testLog(),
    });
    try {
      const refused = await client.send({ to: "xiaom", body: "before approval" });
      expect(refused.ok).toBe(false);
      expect(refused.attempts[0]).toMatchObject({ outcome: "unavailable", tries: 1, error: { code: "PAIRING_REQUIRED" } });
      const hint = refused.attempts[0]?.error?.hint ?? "";
      const requestId = /openclaw devices approve (\S+)`/u.exec(hint)?.[1];
      expect(requestId).toBeDefined();

      const approved = await openclawCli(gateway, ["devices", "approve", String(requestId), "--url", gateway.url, "--token", gateway.token, "--json"]);
      expect(approved.code, approved.stderr + approved.stdout).toBe(0);

      const marker = `after-approval-${randomUUID()}`;
      const delivered = await client.send({ to: "xiaom", body: marker });
      expect(delivered).toMatchObject({ ok: true, via: "sessions_send" });
      await expectShownOnce(marker, gateway, "agent:main:main");
      const tokens = JSON.parse(await readFile(join(stateDir, "device-tokens.json"), "utf8")) as Record<string, { token: string }>;
      expect(Object.keys(tokens).some((key) => key.startsWith(`ws://127.0.0.1:${gateway.port}|`))).toBe(true);
    } finally {
      await client.close();
      await setAutoApproveLocal(gateway, true);
    }
  });
});

describe("the README example", () => {
  it("runs as written against a real Gateway", async () => {
    const { execFile } = await import("node:child_process");
    const { promisify } = await import("node:util");
    const marker = `readme-${randomUUID()}`;
    const { stdout } = await promisify(execFile)(process.execPath, ["examples/send.mjs", marker], {
      env: {
        ...process.env,
        XIAOM_URL: gatewayB.url,
        XIAOM_TOKEN: gatewayB.token,
        XIAOM_WORKSPACE: gatewayB.workspace,
        OPENCLAW_INTER_INSTANCE_HOME: join(scratch, "readme-client"),
      },
    });
    const report = JSON.parse(stdout) as DeliveryReport;
    expect(report).toMatchObject({ ok: true, via: "sessions_send", to: "xiaom" });
    // The example names no session, so it lands in the shared Gateway's main one: its unique marker, once.
    await expectShownOnce(marker, gatewayB, "agent:main:main");
  });
});
