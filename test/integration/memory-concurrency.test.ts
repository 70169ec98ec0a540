import { spawn } from "node:child_process";
import { mkdtemp, readdir, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createEnvelope } from "../../src/index.js";
import { appendEntry, parseEntries } from "../../src/transports.js";

const writerScript = join(import.meta.dirname, "..", "fixtures", "memory-writer.mjs");
// 16 writers contend for the note's lock; 250 appends each interleave them thousands of times (1,000
// each took 3 min of CPU in CI, beside Gateways that need it; the bench runs 16 × 1,000).
const APPENDS = 250;
const bodyOf = (tag: string, w: number, i: number) => `${tag} writer ${w} message ${i}\n${"~".repeat((i * 37) % 900)}\nend`;

let workspace: string;
beforeEach(async () => {
  workspace = await mkdtemp(join(tmpdir(), "oii-concurrency-"));
});
afterEach(async () => {
  await rm(workspace, { recursive: true, force: true });
});

async function noteText(): Promise<Buffer> {
  const names = (await readdir(join(workspace, "memory"))).filter((name) => name.endsWith(".md"));
  return Buffer.concat(await Promise.all(names.map((name) => readFile(join(workspace, "memory", name)))));
}

function runWriter(tag: string, writers: number, count: number) {
  const child = spawn(process.execPath, [writerScript, workspace, tag, String(writers), String(count)], { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const done = new Promise<void>((resolve, reject) =>
    child.on("exit", (code, signal) => (code === 0 ? resolve() : reject(new Error(`writer ${tag} exited ${code ?? signal}: ${stderr}`)))),
  );
  return { child, done };
}

/** Every expected entry present exactly once with its exact body, nothing torn. */
function expectComplete(text: Buffer, expected: Map<string, string>): void {
  const parsed = parseEntries(text);
  expect(parsed.tornTail).toBeUndefined();
  const seen = new Map<string, number>();
  for (const entry of parsed.entries) {
    seen.set(entry.id, (seen.get(entry.id) ?? 0) + 1);
    expect(entry.body).toBe(expected.get(entry.id));
  }
  expect(parsed.entries.length).toBe(expected.size);
  expect([...seen.values()].every((n) => n === 1)).toBe(true);
}

describe("memory-file appends under concurrency", () => {
  it("16 writers × 250 appends in one process: every entry once, none torn or interleaved", async () => {
    const expected = new Map<string, string>();
    await Promise.all(
      Array.from({ length: 16 }, async (_, w) => {
        for (let i = 0; i < APPENDS; i += 1) {
          const id = `inproc-w${w}-m${i}`;
          expected.set(id, bodyOf("inproc", w, i));
          await appendEntry(createEnvelope({ from: "inproc", to: "target", body: bodyOf("inproc", w, i), id }), { workspace, timeZone: "UTC" });
        }
      }),
    );
    expectComplete(await noteText(), expected);
  }, 300_000);

  it("16 writers × 250 appends across 4 processes: every entry once, none torn or interleaved", async () => {
    const expected = new Map<string, string>();
    const runs = ["p0", "p1", "p2", "p3"].map((tag) => {
      for (let w = 0; w < 4; w += 1) for (let i = 0; i < APPENDS; i += 1) expected.set(`${tag}-w${w}-m${i}`, bodyOf(tag, w, i));
      return runWriter(tag, 4, APPENDS);
    });
    await Promise.all(runs.map((run) => run.done));
    expectComplete(await noteText(), expected);
  }, 300_000);

  it("a writer killed with SIGKILL mid-run leaves only whole entries, and the next writer carries on", async () => {
    const victim = runWriter("victim", 4, 100_000);
    // Kill it mid-run: once it has written something (a fixed delay raced process start-up under load).
    await expect
      .poll(async () => parseEntries(await noteText().catch(() => Buffer.alloc(0))).entries.length, { timeout: 60_000, interval: 100 })
      .toBeGreaterThan(50);
    victim.child.kill("SIGKILL");
    await victim.done.catch(() => undefined);
    const afterCrash = parseEntries(await noteText());
    expect(afterCrash.entries.length).toBeGreaterThan(0);
    for (const entry of afterCrash.entries) {
      const [, w, i] = /^victim-w(\d+)-m(\d+)$/u.exec(entry.id) ?? [];
      expect(entry.body).toBe(bodyOf("victim", Number(w), Number(i)));
    }
    // Whatever a torn tail there may be, the next append cuts it and the note parses whole again.
    await appendEntry(createEnvelope({ from: "next", to: "target", body: "after the crash", id: "next-after-crash" }), { workspace, timeZone: "UTC" });
    const repaired = parseEntries(await noteText());
    expect(repaired.tornTail).toBeUndefined();
    expect(repaired.entries.at(-1)?.body).toBe("after the crash");
    expect(repaired.entries.length).toBe(afterCrash.entries.length + 1);
  }, 120_000);
});
