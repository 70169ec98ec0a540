import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createMessenger, ValidationError, type ConfigInput, type Envelope, type TransportId } from "../../src/index.js";
import { formatSessionMessage } from "../../src/transports.js";
import { chatMessageRefusal } from "../../src/session-message.js";
import { hostileBodies } from "../fixtures/hostile-bodies.js";
import { startGateway, type TestGateway } from "../harness/gateway.js";
import { startMockModel, type MockModelServer } from "../harness/mock-model.js";
import { notVerbatimOnce, readMemoryEntries } from "../harness/oracle.js";
import { testLog } from "../harness/secrets-watch.js";

let mock: MockModelServer;
let gatewayB: TestGateway;
let scratch: string;
let sentinel: string;

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), "oii-hostile-"));
  sentinel = join(scratch, "SENTINEL");
  mock = await startMockModel();
  // A window that holds the 1 MiB body: a turn that does not fit the target's model never reaches its transcript.
  gatewayB = await startGateway({ modelBaseUrl: mock.url, name: "xiaom-hostile", contextWindow: 2_000_000 });
  await mkdir(gatewayB.workspace, { recursive: true });
});

afterAll(async () => {
  await gatewayB?.dispose();
  await mock?.close();
  await rm(scratch, { recursive: true, force: true });
});

function messenger(transports: TransportId[]) {
  const config: ConfigInput = {
    self: { name: "xiaoa" },
    stateDir: join(scratch, "client"),
    instances: { xiaom: { gateway: { url: gatewayB.url, token: gatewayB.token }, workspace: gatewayB.workspace, transports } },
  };
  return createMessenger({ config, log: testLog() });
}

describe("hostile bodies arrive byte-exact and run nothing", () => {
  it("has at least 50 bodies", () => {
    expect(hostileBodies("x").length).toBeGreaterThanOrEqual(50);
  });

  it("memory_file: every body is in the note exactly as sent", async () => {
    const link = messenger(["memory_file"]);
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
  it("sessions_send: every body reaches the target agent exactly as sent, once", async () => {
    const link = messenger(["sessions_send"]);
    try {
      const sent: { id: string; body: string }[] = [];
      for (const { body } of hostileBodies(sentinel)) {
        const report = await link.send({ to: "xiaom", body });
        if (chatMessageRefusal({ body } as Envelope)) {
          // Refused before sending, with the reason; the next transport (the memory file) carries it byte-exact.
          expect(report.attempts[0]?.skippedBecause).toMatch(/NUL bytes|control characters|NFC|trims/u);
          continue;
        }
        expect(report.via, JSON.stringify(report.attempts)).toBe("sessions_send");
        sent.push({ id: report.id, body });
      }
      const expected = sent.map(({ id, body }) => formatSessionMessage({ id, kind: "message", from: "xiaoa", to: "xiaom", body, createdAt: "" }));
      // Queued turns enter the transcript when their run starts.
      const missing = () => notVerbatimOnce(gatewayB, mock.requests, expected);
      await expect.poll(async () => (await missing()).length, { timeout: 240_000, interval: 2000 }).toBe(0).catch(() => undefined);
      expect(await missing()).toEqual([]);
      expect(existsSync(sentinel)).toBe(false);
    } finally {
      await link.close();
    }
  }, 420_000);

  it("bodies that cannot be represented are refused before anything is sent", async () => {
    const link = messenger(["sessions_send", "memory_file"]);
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
