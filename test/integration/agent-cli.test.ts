import { randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pLimit from "p-limit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ConfigInput, createMessenger, type Envelope, type TransportId } from "../../src/index.js";
import { chatMessageRefusal } from "../../src/transports/shared/session-message.js";
import { formatSessionMessage } from "../../src/transports.js";
import { hostileBody, sentinelPath } from "../fixtures/hostile.js";
import { hostileBodies } from "../fixtures/hostile-bodies.js";
import { type BorrowedGateway, borrowGateway } from "../harness/fixtures.js";
import { freePort, openclawEntry } from "../harness/gateway.js";
import { notVerbatimOnce, readHistory, readMemoryEntries, textOf, withoutSignatureLine } from "../harness/oracle.js";
import { testLog, watchSecret } from "../harness/secrets-watch.js";

let gatewayB: BorrowedGateway;
let sessionKey: string;
let scratch: string;

// The run's shared plain Gateway, in a session of this file's own.
beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), "oii-agent-cli-"));
  gatewayB = await borrowGateway("plain");
  sessionKey = await gatewayB.newSession("agent-cli");
});

afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

function configFor(options: { token?: string; bin?: string; transports?: TransportId[] } = {}): ConfigInput {
  return {
    self: { name: "xiaoa" },
    stateDir: join(scratch, "client-state"),
    openclawCli: { bin: options.bin ?? openclawEntry },
    instances: {
      xiaom: {
        aliases: ["小m"],
        gateway: { url: gatewayB.url, token: options.token ?? gatewayB.token },
        sessionKey,
        workspace: gatewayB.workspace,
        transports: options.transports ?? ["agent_cli", "memory_file"],
      },
    },
  };
}

describe("agent_cli transport against a real Gateway", () => {
  it("runs a turn on the target with a hostile body passed as a file: byte-exact, once, nothing executed, reply returned", async () => {
    const client = createMessenger({ config: configFor(), log: testLog() });
    try {
      const marker = randomUUID();
      const body = `${hostileBody(sentinelPath(scratch), marker)}\nREPLY:cli`;
      const report = await client.send({ to: "小m", body });
      expect(report).toMatchObject({ ok: true, via: "agent_cli", status: "delivered" });
      expect(report.receipt?.detail.reply).toBe("ACK cli");

      const rows = (await readHistory(gatewayB, sessionKey)).filter((row) => row.role === "user" && textOf(row.content).includes(marker));
      expect(rows).toHaveLength(1);
      expect(withoutSignatureLine(textOf(rows[0]?.content))).toBe(
        formatSessionMessage({ id: report.id, kind: "message", from: "xiaoa", to: "xiaom", body, createdAt: "" }),
      );
      expect(existsSync(sentinelPath(scratch))).toBe(false);
    } finally {
      await client.close();
    }
  });

  it("every hostile body the CLI can carry reaches the target agent exactly as sent, once; the rest are refused with the reason", async () => {
    const sentinel = sentinelPath(scratch);
    const client = createMessenger({ config: configFor({ transports: ["agent_cli"] }), log: testLog() });
    try {
      const threeAtATime = pLimit(3);
      const sent = await Promise.all(
        hostileBodies(sentinel).map(({ body }) => threeAtATime(async () => ({ body, report: await client.send({ to: "xiaom", body }) }))),
      );
      const refused = sent.filter(({ body }) => chatMessageRefusal({ body } as Envelope));
      for (const { report } of refused) expect(report.attempts[0]?.skippedBecause).toMatch(/NUL bytes|control characters|NFC|trims/u);
      const carried = sent.filter((entry) => !refused.includes(entry));
      expect(carried.filter(({ report }) => report.via !== "agent_cli").map(({ report }) => report.attempts)).toEqual([]);
      const expected = carried.map(({ body, report }) =>
        formatSessionMessage({ id: report.id, kind: "message", from: "xiaoa", to: "xiaom", body, createdAt: "" }),
      );
      expect(await notVerbatimOnce(gatewayB, gatewayB.model, expected, sessionKey)).toEqual([]);
      expect(existsSync(sentinel)).toBe(false);
    } finally {
      await client.close();
    }
  }, 600_000);

  it("a wrong token is unavailable with the fix named, and the next transport takes over", async () => {
    watchSecret("wrong-token-value");
    const client = createMessenger({ config: configFor({ token: "wrong-token-value" }), log: testLog() });
    try {
      const report = await client.send({ to: "xiaom", body: `wrong token ${randomUUID()}` });
      expect(report).toMatchObject({ ok: true, via: "memory_file", status: "written" });
      expect(report.attempts[0]).toMatchObject({ transport: "agent_cli", outcome: "unavailable", error: { code: "AUTH_FAILED" } });
      expect(JSON.stringify(report)).not.toContain("wrong-token-value");
      expect((await readMemoryEntries(gatewayB.workspace)).some((entry) => entry.id === report.id)).toBe(true);
    } finally {
      await client.close();
    }
  });

  it("a missing openclaw binary is unavailable with the install hint", async () => {
    const client = createMessenger({ config: configFor({ bin: join(scratch, "no-such-dir", "openclaw") }), log: testLog() });
    try {
      const report = await client.send({ to: "xiaom", body: "binary missing" });
      expect(report.attempts[0]).toMatchObject({ transport: "agent_cli", outcome: "unavailable", error: { code: "SPAWN_FAILED" } });
      expect(report.via).toBe("memory_file");
    } finally {
      await client.close();
    }
  });
});

describe("agent_cli when the turn outlives the attempt", () => {
  it("kills the CLI, finds the message already in the target session, and does not send it again", async () => {
    const config = configFor();
    const client = createMessenger({
      config: { ...config, instances: { xiaom: { ...config.instances.xiaom, timeouts: { agent_cli: 12_000 } } } },
      log: testLog(),
    });
    try {
      const marker = randomUUID();
      const report = await client.send({ to: "xiaom", body: `slow turn ${marker} SLOW:40000` });
      // Still running or aborted there: either way the target has it, pending or in the transcript.
      expect(report.attempts[0]).toMatchObject({ transport: "agent_cli", checked: "landed", error: { class: "timeout" } });
      expect(["accepted", "delivered"]).toContain(report.attempts[0]?.outcome);
      expect(report).toMatchObject({ ok: true, via: "agent_cli" });
      expect(report.attempts).toHaveLength(1);
      const rowsWithMarker = async () =>
        (await readHistory(gatewayB, sessionKey)).filter((row) => row.role === "user" && textOf(row.content).includes(marker)).length;
      await expect.poll(rowsWithMarker, { timeout: 60_000, interval: 1000 }).toBe(1);
      expect((await readMemoryEntries(gatewayB.workspace)).some((entry) => entry.id === report.id)).toBe(false);
    } finally {
      await client.close();
    }
  });
});

describe("agent_cli sent again by a sender without the first one's record", () => {
  // openclaw agent (2026.9.6) takes no idempotency key: each run makes a random one, so the Gateway
  // would run the same envelope twice. The transport looks into the session first.
  it("finds the envelope in the target session by its header and does not run the CLI again", async () => {
    const client = createMessenger({ config: configFor({ transports: ["agent_cli"] }), log: testLog() });
    const amnesiac = createMessenger({ config: { ...configFor({ transports: ["agent_cli"] }), stateDir: join(scratch, "amnesiac-state") }, log: testLog() });
    try {
      const marker = randomUUID();
      const first = await client.send({ to: "xiaom", body: `twice ${marker}` });
      expect(first).toMatchObject({ ok: true, via: "agent_cli", status: "delivered" });
      const second = await amnesiac.send({ to: "xiaom", body: `twice ${marker}`, id: first.id }, { queue: false });
      expect(second.repeatOf).toBeUndefined();
      const rows = (await readHistory(gatewayB, sessionKey)).filter((row) => row.role === "user" && textOf(row.content).includes(marker));
      expect(rows).toHaveLength(1);
      expect(second).toMatchObject({ ok: true, via: "agent_cli", status: "delivered", receipt: { detail: { sentBefore: true } } });
      expect(await gatewayB.model.turnsEndingWith(marker)).toBe(1);
    } finally {
      await amnesiac.close();
      await client.close();
    }
  });
});

describe("capability probes against a real Gateway", () => {
  it("pass on a healthy target, and after a failed probe the next message skips the dead paths at once", async () => {
    const healthy = createMessenger({
      config: { ...configFor(), instances: { xiaom: { ...configFor().instances.xiaom, transports: ["sessions_send", "agent_cli", "memory_file"] } } },
      log: testLog(),
    });
    try {
      const results = await healthy.probe("xiaom");
      expect(results.map((r) => [r.transport, r.ok])).toEqual([
        ["sessions_send", true],
        ["agent_cli", true],
        ["memory_file", true],
      ]);
    } finally {
      await healthy.close();
    }

    const closedPort = await freePort();
    const base = configFor();
    const dead = createMessenger({
      config: {
        ...base,
        instances: {
          xiaom: {
            ...base.instances.xiaom,
            gateway: { url: `ws://127.0.0.1:${closedPort}`, token: gatewayB.token },
            transports: ["sessions_send", "agent_cli", "memory_file"],
          },
        },
      },
      log: testLog(),
    });
    try {
      const results = await dead.probe("xiaom");
      expect(results.map((r) => [r.transport, r.ok, r.error?.class])).toEqual([
        ["sessions_send", false, "unavailable"],
        ["agent_cli", false, "unavailable"],
        ["memory_file", true, undefined],
      ]);
      const report = await dead.send({ to: "xiaom", body: `after probe ${randomUUID()}` });
      expect(report.attempts.map((a) => [a.transport, a.outcome, a.tries])).toEqual([
        ["sessions_send", "skipped", 0],
        ["agent_cli", "skipped", 0],
        ["memory_file", "written", 1],
      ]);
      expect(report.attempts[0]?.skippedBecause).toMatch(/probe failed/u);
    } finally {
      await dead.close();
    }
  });
});
