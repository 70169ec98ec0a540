import { existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import { join, relative, sep } from "node:path";
import { describe, expect, it } from "vitest";
import { sha256Hex } from "../../src/core/attachments/file-list.js";
import { checkIncomingFile, writeIncomingFile } from "../../src/core/attachments/incoming-files.js";
import { prepareFiles } from "../../src/core/attachments/prepare.js";
import { createEnvelope, InstanceRegistry, parseConfig } from "../../src/index.js";
import { entryFilesText, entryVerdict, inboxInjectionText } from "../../src/plugin/services/inbox.js";
import { MemoryFileTransport } from "../../src/transports/memory-file/transport.js";
import { incomingFilesDir } from "../../src/transports/nodes/incoming.js";
import { parseEntries } from "../../src/transports.js";
import { MessagingKeyStore } from "../../src/trust/messaging-key.js";
import { signEnvelope } from "../../src/trust/sign-envelope.js";
import { scratchDirs } from "../harness/scratch.js";
import { silentLogger } from "../harness/silent-logger.js";

const silent = silentLogger();
const scratch = scratchDirs("attachments-receive-");
const bounds = { maxFileBytes: 10 * 1024 * 1024, maxTotalBytes: 20 * 1024 * 1024, maxFiles: 16 };

/** Every path under `root`, relative, links not followed. */
function walk(root: string): string[] {
  return (readdirSync(root, { recursive: true }) as string[]).map((path) => path.split(sep).join("/"));
}

const HOSTILE = ["../../etc/passwd", "/abs", "CON", "a\u0000b", "x".repeat(10_000), "caf\u00e9.txt", "cafe\u0301.txt", "same.txt", "same.txt"];

async function deliverByMemoryFile(workspace: string, inputs: Parameters<typeof prepareFiles>[0]) {
  const key = new MessagingKeyStore(join(scratch(), "state")).key();
  const prepared = await prepareFiles(inputs, bounds);
  const envelope = signEnvelope(createEnvelope({ from: "xiaoa", to: "xiaom", body: "see the files", files: prepared }), key);
  const instance = new InstanceRegistry(parseConfig({ self: { name: "xiaoa" }, instances: { xiaom: { workspace, timeZone: "UTC" } } }), {}).resolve("xiaom");
  const bytesOf = new Map(prepared.map((file) => [file.sha256, file.bytes]));
  const receipt = await new MemoryFileTransport().deliver(envelope, {
    instance,
    signal: new AbortController().signal,
    logger: silent,
    files: async (file) => bytesOf.get(file.sha256)!,
  });
  const pinned = (name: string) => (name === "xiaoa" ? key.publicKey : undefined);
  const [entry] = parseEntries(readFileSync(String(receipt.detail.path))).entries;
  return { envelope, prepared, entry: entry!, pinned };
}

describe("files by memory_file, checked by the receiving plugin", () => {
  it("writes each file into the incoming folder by digest, names them in the signed entry, and the frame lists them verified", async () => {
    const workspace = scratch();
    const binary = Buffer.from(Array.from({ length: 300_000 }, (_, i) => (i * 7919) % 256));
    const { prepared, entry, pinned } = await deliverByMemoryFile(workspace, [
      { bytes: binary, name: "blob.bin" },
      { bytes: Buffer.from("log\n"), name: "build.log" },
    ]);
    for (const file of prepared) expect(readFileSync(join(incomingFilesDir(workspace), file.sha256, file.name)).equals(Buffer.from(file.bytes))).toBe(true);
    expect(entry.signed?.files?.map((file) => file.name)).toEqual(["blob.bin", "build.log"]);
    const verdict = entryVerdict(entry, pinned);
    expect(verdict.verified).toBe(true);
    const text = inboxInjectionText(entry, verdict, await entryFilesText(entry, verdict, workspace));
    expect(text).toContain('"blob.bin" (300,000 bytes, application/octet-stream) at ".openclaw-inter-instance/incoming/files/');
    expect(text.match(/: verified \(SHA-256/gu)).toHaveLength(2);
    // The list is drawn before the data line, by the plugin.
    expect(text.indexOf("Files with this message")).toBeLessThan(text.indexOf("What follows until the end line"));
  });

  it("a file changed after arrival, or missing, is listed NOT VERIFIED; a forged list does not verify the sender either", async () => {
    const workspace = scratch();
    const { prepared, entry, pinned } = await deliverByMemoryFile(workspace, [
      { bytes: Buffer.from("one"), name: "one.txt" },
      { bytes: Buffer.from("two"), name: "two.txt" },
    ]);
    writeFileSync(join(incomingFilesDir(workspace), prepared[0]!.sha256, "one.txt"), "ONE");
    const verdict = entryVerdict(entry, pinned);
    const text = (await entryFilesText(entry, verdict, workspace))!;
    expect(text).toMatch(/"one.txt" .*: NOT VERIFIED \(its SHA-256 differs from the listed one\)/u);
    expect(text).toMatch(/"two.txt" .*: verified/u);
    const forged = { ...entry, signed: { ...entry.signed!, files: [{ ...entry.signed!.files![0]!, size: 4 }, entry.signed!.files![1]!] } };
    const forgedVerdict = entryVerdict(forged, pinned);
    expect(forgedVerdict.verified).toBe(false);
    expect(await entryFilesText(forged, forgedVerdict, workspace)).not.toMatch(/: verified/u);
  });

  it("hostile names are made safe, and nothing is written outside the incoming folder", async () => {
    const workspace = scratch();
    const before = walk(workspace);
    const { prepared, entry, pinned } = await deliverByMemoryFile(
      workspace,
      HOSTILE.map((name, index) => ({ bytes: Buffer.from(`content ${index}`), name })),
    );
    const names = prepared.map((file) => file.name);
    expect(new Set(names.map((name) => name.toLowerCase())).size).toBe(HOSTILE.length);
    for (const name of names)
      expect(name.includes("/") || name.includes("\\") || name.includes("\u0000") || name.startsWith(".") || name === "CON").toBe(false);
    expect(names).toContain("_CON");
    expect(names).toContain("café-2.txt");
    expect(names).toContain("same-2.txt");
    const incoming = relative(workspace, incomingFilesDir(workspace)).split(sep).join("/");
    const written = walk(workspace).filter((path) => !before.includes(path));
    const outside = written.filter((path) => !path.startsWith(incoming) && !path.startsWith("memory") && !incoming.startsWith(path));
    expect(outside).toEqual([]);
    expect(existsSync("/etc/passwd") && readFileSync("/etc/passwd", "utf8").includes("content 0")).toBe(false);
    const verdict = entryVerdict(entry, pinned);
    expect((await entryFilesText(entry, verdict, workspace))!.match(/: verified/gu)).toHaveLength(HOSTILE.length);
  });

  it("never follows a link out of the incoming folder, to write or to verify", async () => {
    const workspace = scratch();
    const outside = scratch();
    const folder = incomingFilesDir(workspace);
    const bytes = Buffer.from("secret");
    const file = { name: "x.txt", size: bytes.byteLength, sha256: sha256Hex(bytes), mime: "text/plain" };
    mkdirSync(folder, { recursive: true });
    symlinkSync(outside, join(folder, file.sha256));
    await expect(writeIncomingFile(folder, file, bytes)).rejects.toThrow(/outside/u);
    expect(readdirSync(outside)).toEqual([]);
    writeFileSync(join(outside, "x.txt"), bytes);
    expect(await checkIncomingFile(folder, file)).toMatchObject({ verified: false });
  });

  it("refuses bytes that are not the listed file before writing anything", async () => {
    const folder = join(scratch(), "files");
    const file = { name: "x.txt", size: 3, sha256: sha256Hex(Buffer.from("abc")), mime: "text/plain" };
    await expect(writeIncomingFile(folder, file, Buffer.from("abd"))).rejects.toThrow(/not the listed file/u);
    expect(existsSync(folder)).toBe(false);
  });
});
