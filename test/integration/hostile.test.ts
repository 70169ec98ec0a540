import { existsSync } from "node:fs";
import { join } from "node:path";
import { describe, expect } from "vitest";
import { type ConfigInput, createMessenger, type DeliveryReport, type Envelope, type TransportId, ValidationError } from "../../src/index.js";
import { chatMessageRefusal } from "../../src/transports/shared/session-message.js";
import { formatSessionMessage } from "../../src/transports.js";
import { hostileBodies } from "../fixtures/hostile-bodies.js";
import { type BorrowedGateway, it } from "../harness/fixtures.js";
import { notVerbatimOnce, readMemoryEntries } from "../harness/oracle.js";
import { testLog } from "../harness/secrets-watch.js";

// The run's shared plain Gateway (its window holds the 1 MiB body), in a session of this file's own.
function messenger(gateway: BorrowedGateway, scratch: string, sessionKey: string, transports: TransportId[]) {
  const config: ConfigInput = {
    self: { name: "xiaoa" },
    stateDir: join(scratch, "client"),
    instances: { xiaom: { gateway: { url: gateway.url, token: gateway.token }, sessionKey, workspace: gateway.workspace, transports } },
  };
  return createMessenger({ config, log: testLog() });
}

describe("hostile bodies arrive byte-exact and run nothing", () => {
  it("has at least 50 bodies", () => {
    expect(hostileBodies("x").length).toBeGreaterThanOrEqual(50);
  });

  it("memory_file: every body is in the note exactly as sent", async ({ plainGateway: gatewayB, scratch }) => {
    const sentinel = join(scratch, "SENTINEL");
    const link = messenger(gatewayB, scratch, "agent:main:main", ["memory_file"]);
    try {
      const sent = new Map<string, string>();
      for (const { body } of hostileBodies(sentinel)) {
        const report = await link.send({ to: "xiaom", body });
        expect(report.via).toBe("memory_file");
        sent.set(report.id, body);
      }
      const entries = new Map((await readMemoryEntries(gatewayB.workspace)).map((entry) => [entry.id, entry.body]));
      for (const [id, body] of sent) expect(entries.get(id), JSON.stringify(body.slice(0, 60))).toBe(body);
      expect(existsSync(sentinel)).toBe(false);
    } finally {
      await link.close();
    }
  });

  // Each message here is an agent turn, sent back to back into one busy session: the transport's
  // pacing keeps them under OpenClaw's session queue cap, which would otherwise drop some.
  it("sessions_send: every body reaches the target agent exactly as sent, once", async ({ plainGateway: gatewayB, scratch }) => {
    const sentinel = join(scratch, "SENTINEL");
    const sessionKey = await gatewayB.newSession("hostile");
    const link = messenger(gatewayB, scratch, sessionKey, ["sessions_send"]);
    try {
      const sent: { id: string; body: string }[] = [];
      const accepted: DeliveryReport[] = [];
      for (const { body } of hostileBodies(sentinel)) {
        const report = await link.send({ to: "xiaom", body });
        if (chatMessageRefusal({ body } as Envelope)) {
          // Refused before sending, with the reason; the next transport (the memory file) carries it byte-exact.
          expect(report.attempts[0]?.skippedBecause).toMatch(/NUL bytes|control characters|NFC|trims/u);
          continue;
        }
        expect(report.via, JSON.stringify(report.attempts)).toBe("sessions_send");
        sent.push({ id: report.id, body });
        accepted.push(report);
      }
      // Accepted is not delivered: under load the Gateway can drop a message after its ack. The sender
      // settles each on the target's evidence (redelivering what was lost), as `send --settle` does.
      const settled = await link.outbox.settle(accepted, { timeoutMs: 240_000 });
      expect(
        settled.filter((report) => report.status !== "delivered").map((report) => `${report.id}: ${report.status} ${JSON.stringify(report.followUp?.at(-1))}`),
      ).toEqual([]);
      const expected = sent.map(({ id, body }) => formatSessionMessage({ id, kind: "message", from: "xiaoa", to: "xiaom", body, createdAt: "" }));
      // Queued turns enter the transcript when their run starts.
      const missing = () => notVerbatimOnce(gatewayB, gatewayB.model, expected, sessionKey);
      await expect
        .poll(async () => (await missing()).length, { timeout: 240_000, interval: 2000 })
        .toBe(0)
        .catch(() => undefined);
      expect(await missing()).toEqual([]);
      expect(existsSync(sentinel)).toBe(false);
    } finally {
      await link.close();
    }
  }, 420_000);

  it("bodies that cannot be represented are refused before anything is sent", async ({ plainGateway: gatewayB, scratch }) => {
    const link = messenger(gatewayB, scratch, "agent:main:main", ["sessions_send", "memory_file"]);
    try {
      for (const body of ["lone surrogate \uD800 here", "", "x".repeat(1024 * 1024 + 1)]) {
        await expect(link.send({ to: "xiaom", body })).rejects.toBeInstanceOf(ValidationError);
      }
      for (const to of ["../xiaom", "xiaom; rm -rf /", "'xiaom'", "xiao m/.."]) {
        await expect(link.send({ to, body: "hi" })).rejects.toMatchObject({ code: "UNKNOWN_INSTANCE" });
      }
    } finally {
      await link.close();
    }
  });
});
