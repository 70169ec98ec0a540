import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { AuditLog } from "../../src/audit/audit-log.js";
import { inboundEntry, outboundEntry } from "../../src/audit/entries.js";
import { createEnvelope } from "../../src/core/envelope.js";
import type { DeliveryReport } from "../../src/index.js";

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

describe("the audit log", () => {
  it("keeps who, id, transport, status, verdict and size in order; the body only when asked; since narrows it", async () => {
    const dir = mkdtempSync(join(tmpdir(), "oii-audit-"));
    dirs.push(dir);
    const log = await AuditLog.open(join(dir, "state", "audit.sqlite"));
    const envelope = createEnvelope({ from: "xiaoa", to: "xiaom", body: "部署完成" });
    const report = { ok: true, id: envelope.id, to: "xiaom", status: "accepted", via: "sessions_send", attempts: [] } as unknown as DeliveryReport;
    log.record({ ...outboundEntry(envelope, report, true, false), at: "2026-12-01T09:00:00.000Z" });
    log.record(
      inboundEntry(
        { id: "in-000001", to: "xiaoa", body: "hi", transport: "memory_file", status: "surfaced" },
        { verified: false, claimedFrom: "xiaom", reason: "no signature" },
        true,
      ),
    );
    const all = log.list();
    expect(all).toEqual([
      {
        at: "2026-12-01T09:00:00.000Z",
        direction: "out",
        id: envelope.id,
        from: "xiaoa",
        to: "xiaom",
        transport: "sessions_send",
        status: "accepted",
        verdict: "signed",
        bytes: 12,
      },
      {
        at: expect.any(String),
        direction: "in",
        id: "in-000001",
        from: "xiaom",
        to: "xiaoa",
        transport: "memory_file",
        status: "surfaced",
        verdict: "unverified: no signature",
        bytes: 2,
        body: "hi",
      },
    ]);
    expect(log.list({ since: new Date("2026-12-01T10:00:00.000Z") }).map((entry) => entry.id)).toEqual(["in-000001"]);
    log.close();
  });
});
