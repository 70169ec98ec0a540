import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, expect, it } from "vitest";
import { createMessenger, type Messenger } from "../../src/index.js";
import { buildOverview, CheckBook, describeOverview } from "../../src/plugin/control-ui/overview.js";

let dir: string;
let link: Messenger;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "oii-overview-"));
  await mkdir(join(dir, "ws"));
  link = createMessenger({
    config: {
      self: { name: "xiaoa" },
      stateDir: dir,
      instances: {
        xiaom: {
          aliases: ["小m"],
          gateway: { url: "ws://127.0.0.1:9", token: "tok-secret-xiaom" },
          workspace: join(dir, "ws"),
          transports: ["sessions_send", "memory_file"],
        },
        xiaoq: { gateway: { url: "ws://127.0.0.1:9", token: "tok-secret-xiaoq" }, transports: ["sessions_send"] },
      },
    },
    log: { level: "silent" },
  });
});

afterEach(async () => {
  await link.close();
  await rm(dir, { recursive: true, force: true });
});

/** What the Gateway accepts from a plugin operation: plain JSON, no undefined anywhere. */
function hasUndefined(value: unknown): boolean {
  if (value === undefined) return true;
  if (Array.isArray(value)) return value.some(hasUndefined);
  if (value && typeof value === "object") return Object.values(value).some(hasUndefined);
  return false;
}

it("is plain JSON before any check, and says so: every transport unchecked, the route by the order", async () => {
  const overview = await buildOverview({ link, book: new CheckBook(), held: async () => [], audit: async () => [] });
  expect(hasUndefined(overview)).toBe(false);
  const xiaom = overview.instances.find((i) => i.name === "xiaom")!;
  expect(xiaom).not.toHaveProperty("checkedAt");
  expect(xiaom.route).toBe("sessions_send");
  expect(xiaom.transports.map((t) => [t.id, t.state])).toEqual([
    ["sessions_send", "unchecked"],
    ["memory_file", "unchecked"],
  ]);
  expect(describeOverview(overview)).toContain("- xiaom (小m): messages go by sessions_send; not checked yet.");
});

it("shows the last doctor run per transport with its fix, and the route past an open circuit", async () => {
  const book = new CheckBook();
  const probes = await link.probe("xiaom");
  expect(probes[0]).toMatchObject({ transport: "sessions_send", ok: false });
  book.record(await link.doctor({ instance: "xiaom" }));
  const overview = await buildOverview({ link, book, held: async () => [], audit: async () => [] });
  expect(hasUndefined(overview)).toBe(false);
  const xiaom = overview.instances.find((i) => i.name === "xiaom")!;
  const sessions = xiaom.transports.find((t) => t.id === "sessions_send")!;
  expect(sessions.state).toBe("fail");
  expect(sessions.fix).toMatch(/\S/u);
  expect(sessions.skippedNow).toMatch(/^circuit open/u);
  // The probe opened sessions_send's circuit: a message would go by the memory file now.
  expect(xiaom.route).toBe("memory_file");
  expect(book.failing().map((c) => `${c.instance} ${c.check}`)).toContain("xiaom transport:sessions_send");
  expect(JSON.stringify(overview)).not.toContain("tok-secret");
  expect(describeOverview(overview)).toMatch(/xiaom \(小m\): messages go by memory_file; 1 of 2 transport\(s\) failing/u);
});

it("lists what waits in the outbox and drops one for good", async () => {
  const report = await link.send({ to: "xiaoq", body: "waits" });
  expect(report.status).toBe("queued");
  let overview = await buildOverview({ link, book: new CheckBook(), held: async () => [], audit: async () => [] });
  expect(overview.outbox.map((w) => [w.id, w.to])).toEqual([[report.id, "xiaoq"]]);
  expect(overview.instances.find((i) => i.name === "xiaoq")).not.toHaveProperty("route");
  expect(await link.outbox.drop(report.id)).toBe(true);
  expect(await link.outbox.drop(report.id)).toBe(false);
  overview = await buildOverview({ link, book: new CheckBook(), held: async () => [], audit: async () => [] });
  expect(overview.outbox).toEqual([]);
});
