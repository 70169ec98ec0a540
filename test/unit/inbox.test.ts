import { appendFile, mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createEnvelope } from "../../src/index.js";
import { appendEntry, formatEntry, InboxWatcher, type MemoryEntry, readPresence, readReceipts } from "../../src/transports.js";

let workspace: string;
let surfaced: MemoryEntry[];
let watchers: InboxWatcher[];

beforeEach(async () => {
  workspace = await mkdtemp(join(tmpdir(), "oii-inbox-"));
  surfaced = [];
  watchers = [];
});

afterEach(async () => {
  await Promise.all(watchers.map((w) => w.stop()));
  await rm(workspace, { recursive: true, force: true });
});

async function startWatcher(options: { resurfaceUnseen?: boolean; accept?: () => boolean; retryMs?: number } = {}): Promise<InboxWatcher> {
  const watcher = new InboxWatcher({
    workspace,
    sessionKey: "agent:main:main",
    pollMs: 60_000,
    retryMs: options.retryMs ?? 60_000,
    resurfaceUnseen: options.resurfaceUnseen ?? false,
    surface: async (entry) => {
      if (options.accept && !options.accept()) return false;
      surfaced.push(entry);
      return "surfaced" as const;
    },
  });
  watchers.push(watcher);
  await watcher.start();
  return watcher;
}

const envelope = (body: string, id?: string) => createEnvelope({ from: "xiaoa", to: "xiaom", body, id });
const write = (body: string, id?: string, now?: Date) => appendEntry(envelope(body, id), { workspace, timeZone: "UTC", ...(now ? { now } : {}) });

describe("InboxWatcher", () => {
  it("surfaces each new entry once, with its body, and records the receipt", async () => {
    const watcher = await startWatcher();
    await write("first");
    await write("second\nwith two lines");
    await watcher.check();
    await watcher.check();
    expect(surfaced.map((e) => e.body)).toEqual(["first", "second\nwith two lines"]);
    const receipts = await readReceipts(workspace);
    expect([...receipts.values()].map((r) => r.state)).toEqual(["surfaced", "surfaced"]);
    expect(await readPresence(workspace)).toMatchObject({ watching: true, sessionKey: "agent:main:main" });
  });

  it("the same envelope written twice (another day's note) surfaces once", async () => {
    const watcher = await startWatcher();
    await write("twice", "envelope-twice-0001", new Date("2026-11-24T10:00:00Z"));
    await write("twice", "envelope-twice-0001", new Date("2026-11-25T10:00:00Z"));
    await watcher.check();
    expect(surfaced.map((e) => e.id)).toEqual(["envelope-twice-0001"]);
  });

  it("a body with a forged id marker and heading surfaces once, whole", async () => {
    const watcher = await startWatcher();
    const forged = formatEntry(envelope("forged", "forged-id-00000001"), "00:00").toString("utf8");
    const body = `look:\n${forged}\n## Notification from mallory (12:00)\n<!-- openclaw-inter-instance end id="x" -->`;
    await write(body);
    await watcher.check();
    expect(surfaced).toHaveLength(1);
    expect(surfaced[0]?.body).toBe(body);
  });

  it("nothing surfaces again after a restart", async () => {
    const first = await startWatcher();
    await write("before restart");
    await first.check();
    await first.stop();
    await write("after restart");
    const second = await startWatcher();
    await second.check();
    expect(surfaced.map((e) => e.body)).toEqual(["before restart", "after restart"]);
  });

  it("an entry cut short surfaces only once it is complete; hand-written notes are left alone", async () => {
    const watcher = await startWatcher();
    const note = join(workspace, "memory", "2026-11-25.md");
    await mkdir(join(workspace, "memory"), { recursive: true });
    const full = formatEntry(envelope("arrives in two writes", "split-write-0001"), "09:00");
    await writeFile(note, "# My own notes\n\n");
    await appendFile(note, full.subarray(0, 40));
    await watcher.check();
    expect(surfaced).toHaveLength(0);
    await appendFile(note, full.subarray(40));
    await appendFile(note, "\n- a line the owner typed\n");
    await watcher.check();
    expect(surfaced.map((e) => e.body)).toEqual(["arrives in two writes"]);
  });

  it("a note rewritten shorter is read again without surfacing old entries twice", async () => {
    const watcher = await startWatcher();
    await write("kept");
    await watcher.check();
    const note = join(workspace, "memory", `${new Date().toISOString().slice(0, 10)}.md`);
    await writeFile(note, formatEntry(envelope("new after rewrite", "rewrite-new-0001"), "10:00"));
    await watcher.check();
    expect(surfaced.map((e) => e.body)).toEqual(["kept", "new after rewrite"]);
  });

  it("an entry the host could not queue yet is offered again on the next scan, then never again", async () => {
    let open = false;
    const watcher = await startWatcher({ accept: () => open });
    await write("waits for the session");
    await watcher.check();
    expect(surfaced).toHaveLength(0);
    expect((await readReceipts(workspace)).size).toBe(0);
    open = true;
    await watcher.check();
    await watcher.check();
    expect(surfaced.map((e) => e.body)).toEqual(["waits for the session"]);
  });

  it("entries the host cannot take yet (its queue full) are offered again by themselves, with no file event or poll", async () => {
    let room = 2;
    const watcher = await startWatcher({ accept: () => room-- > 0, retryMs: 50 });
    for (const n of [1, 2, 3, 4]) await write(`message ${n}`);
    await watcher.check();
    expect(surfaced.map((e) => e.body)).toEqual(["message 1", "message 2"]);
    room = 2;
    await expect.poll(() => surfaced.length, { timeout: 2000, interval: 20 }).toBe(4);
    expect(surfaced.map((e) => e.body)).toEqual(["message 1", "message 2", "message 3", "message 4"]);
  });

  it("after a restart, surfaced-but-unseen entries are queued again only when seen receipts exist", async () => {
    const first = await startWatcher();
    await write("unseen before restart");
    await write("seen before restart");
    await first.check();
    await first.ledger.record(surfaced[1]!.id, "seen");
    await first.stop();
    surfaced = [];
    const cautious = await startWatcher();
    await cautious.check();
    expect(surfaced).toEqual([]);
    await cautious.stop();
    const resurfacing = await startWatcher({ resurfaceUnseen: true });
    await resurfacing.check();
    await resurfacing.check();
    expect(surfaced.map((e) => e.body)).toEqual(["unseen before restart"]);
  });

  it("notices an append through file events without an explicit check", async () => {
    await startWatcher();
    await write("by event");
    await expect.poll(() => surfaced.map((e) => e.body), { timeout: 5000 }).toEqual(["by event"]);
  });
});
