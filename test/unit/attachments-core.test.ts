import { createHash } from "node:crypto";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { fileListSchema, sha256Hex } from "../../src/core/attachments/file-list.js";
import { prepareFiles } from "../../src/core/attachments/prepare.js";
import { isSafeFileName, MAX_NAME_BYTES, safeFileName, uniqueFileNames } from "../../src/core/attachments/safe-name.js";
import { decodeFileList, encodeFileList } from "../../src/core/attachments/wire.js";
import { createEnvelope, ValidationError } from "../../src/index.js";
import { formatSessionMessage } from "../../src/transports/shared/session-message.js";
import { MessagingKeyStore } from "../../src/trust/messaging-key.js";
import { verdictsInText } from "../../src/trust/session-verdicts.js";
import { signEnvelope, verifySender } from "../../src/trust/sign-envelope.js";
import { signedPayload } from "../../src/trust/signature.js";
import { scratchDirs } from "../harness/scratch.js";

const scratch = scratchDirs("attachments-core-");
const bounds = { maxFileBytes: 1024, maxTotalBytes: 2048, maxFiles: 4 };

describe("safe file names", () => {
  it.each([
    ["../../etc/passwd", "_.._etc_passwd"],
    ["/abs", "_abs"],
    ["C:\\Windows\\system32", "C__Windows_system32"],
    ["CON", "_CON"],
    ["nul.txt", "_nul.txt"],
    ["com1", "_com1"],
    ["LPT9.log", "_LPT9.log"],
    ["a\u0000b", "ab"],
    ["..", "file"],
    [".", "file"],
    ["", "file"],
    [".bashrc", "bashrc"],
    ["report. ", "report"],
    ["x\u202Egnp.exe", "xgnp.exe"],
    ["a:b", "a_b"],
    ["e\u0301.txt", "é.txt"],
  ])("%j becomes %j", (given, safe) => {
    const result = safeFileName(given);
    expect(result.name).toBe(safe);
    expect(isSafeFileName(result.name)).toBe(true);
    expect(result.changes.length > 0).toBe(given !== safe);
  });

  it("keeps names that are safe as they are", () => {
    for (const name of ["build.log", "部署 记录.md", "screenshot (1).png", "CONSOLE.txt", "com10"]) expect(safeFileName(name)).toEqual({ name, changes: [] });
  });

  it("bounds a 10,000-character name to MAX_NAME_BYTES on a character boundary, keeping its extension", () => {
    const long = safeFileName(`${"字".repeat(10_000)}.txt`);
    expect(Buffer.byteLength(long.name, "utf8")).toBeLessThanOrEqual(MAX_NAME_BYTES);
    expect(long.name.endsWith("字.txt")).toBe(true);
    expect(long.name.isWellFormed()).toBe(true);
    expect(safeFileName("a".repeat(10_000)).name).toBe("a".repeat(MAX_NAME_BYTES));
  });

  it("never yields a separator, a dot-only name or a control character, whatever it is given", () => {
    const alphabet = ["/", "\\", ".", "\u0000", "\n", "a", "é", "e\u0301", ":", " ", "CON", "\u200B"];
    for (let seed = 0; seed < 2000; seed += 1) {
      let given = "";
      for (let n = seed, i = 0; i < 6; i += 1, n = Math.floor(n / alphabet.length) + seed * 7) given += alphabet[n % alphabet.length];
      const { name } = safeFileName(given);
      expect(name).not.toMatch(/[/\\\p{Cc}:]/u);
      expect(name).not.toMatch(/^\./u);
      expect(name).toBe(name.normalize("NFC"));
      expect(isSafeFileName(name)).toBe(true);
    }
  });

  it("keeps the files of one message apart: same names, names equal after NFC, names differing only in case", () => {
    const names = uniqueFileNames(["build.log", "build.log", "caf\u00e9.txt", "cafe\u0301.txt", "README", "readme", "../x", "/x"]).map((n) => n.name);
    expect(names).toEqual(["build.log", "build-2.log", "café.txt", "café-2.txt", "README", "readme-2", "_x", "_x-2"]);
    expect(new Set(names.map((n) => n.toLowerCase())).size).toBe(names.length);
  });

  it("keeps a renamed long name within the bound", () => {
    const long = "b".repeat(10_000);
    const [first, second] = uniqueFileNames([long, long]);
    expect(first!.name).not.toBe(second!.name);
    expect(Buffer.byteLength(second!.name, "utf8")).toBeLessThanOrEqual(MAX_NAME_BYTES);
  });
});

describe("preparing files", () => {
  it("reads, names safely, types and digests each file", async () => {
    const dir = scratch();
    writeFileSync(join(dir, "build.log"), "line 1\n");
    const files = await prepareFiles(
      [
        { path: join(dir, "build.log") },
        { bytes: new Uint8Array([1, 2, 3]), name: "../../etc/passwd" },
        { bytes: new Uint8Array([0x89]), name: "x.png", mime: "Image/PNG; q=1" },
      ],
      bounds,
    );
    expect(files.map(({ bytes: _bytes, ...meta }) => meta)).toEqual([
      { name: "build.log", size: 7, sha256: createHash("sha256").update("line 1\n").digest("hex"), mime: "text/plain" },
      {
        name: "_.._etc_passwd",
        size: 3,
        sha256: sha256Hex(new Uint8Array([1, 2, 3])),
        mime: "application/octet-stream",
        givenName: "../../etc/passwd",
        nameChanges: ["path separators and reserved characters replaced by _", "leading dots and surrounding spaces or trailing dots removed"],
      },
      { name: "x.png", size: 1, sha256: sha256Hex(new Uint8Array([0x89])), mime: "image/png" },
    ]);
  });

  it.each([
    [[{ bytes: new Uint8Array(1025), name: "big" }], "files.0", "maxFileBytes"],
    [
      [
        { bytes: new Uint8Array(1000), name: "a" },
        { bytes: new Uint8Array(1000), name: "b" },
        { bytes: new Uint8Array(100), name: "c" },
      ],
      "files",
      "maxTotalBytes",
    ],
    [Array.from({ length: 5 }, (_, i) => ({ bytes: new Uint8Array(1), name: `f${i}` })), "files", "at most 4"],
    [[{ path: "/nonexistent/for/sure" }], "files.0.path", "ENOENT"],
    [[{ path: "/" }], "files.0.path", "not a regular file"],
  ])("refuses %#, naming the field %s and the limit", async (inputs, field, words) => {
    const error = await prepareFiles(inputs, bounds).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ValidationError);
    expect((error as ValidationError).issues[0]!.path).toBe(field);
    expect((error as ValidationError).message).toContain(words);
    expect((error as ValidationError).hint).toBeTruthy();
  });

  it("refuses a file on disk over the bound before reading it", async () => {
    const dir = scratch();
    writeFileSync(join(dir, "big.bin"), Buffer.alloc(4096));
    await expect(prepareFiles([{ path: join(dir, "big.bin") }], bounds)).rejects.toThrow(/files\.0\.path: 4,096 bytes|0\.0 MiB \(4,096 bytes\)/u);
  });
});

describe("files in envelopes", () => {
  const file = { name: "build.log", size: 7, sha256: "a".repeat(64), mime: "text/plain" };

  it("lists files in the envelope and validates every field", () => {
    expect(createEnvelope({ from: "xiaoa", to: "xiaom", body: "see the log", files: [file] }).files).toEqual([file]);
    expect(createEnvelope({ from: "xiaoa", to: "xiaom", body: "no files" })).not.toHaveProperty("files");
    for (const [bad, field] of [
      [{ ...file, name: "../x" }, "files.0.name"],
      [{ ...file, sha256: "xyz" }, "files.0.sha256"],
      [{ ...file, size: -1 }, "files.0.size"],
      [{ ...file, mime: "not a type" }, "files.0.mime"],
    ] as const) {
      const error = (() => {
        try {
          createEnvelope({ from: "xiaoa", to: "xiaom", body: "b", files: [bad] });
        } catch (caught) {
          return caught;
        }
      })();
      expect(error).toBeInstanceOf(ValidationError);
      expect((error as ValidationError).issues.map((issue) => issue.path)).toEqual([field]);
    }
    expect(() => createEnvelope({ from: "a", to: "b", body: "b", files: [file, { ...file, name: "BUILD.LOG" }] })).toThrow(/same name/u);
  });

  it("the signature covers each file's name, size, digest and type; an envelope without files signs as before", () => {
    const key = new MessagingKeyStore(join(scratch(), "state")).key();
    const pinned = (name: string) => (name === "xiaoa" ? key.publicKey : undefined);
    const signed = signEnvelope(createEnvelope({ from: "xiaoa", to: "xiaom", body: "see the log", files: [file] }), key);
    expect(verifySender(signed, signed.signature, pinned).verified).toBe(true);
    for (const patch of [{ name: "other.log" }, { size: 8 }, { sha256: "b".repeat(64) }, { mime: "text/html" }])
      expect(verifySender({ ...signed, files: [{ ...file, ...patch }] }, signed.signature, pinned).verified).toBe(false);
    expect(verifySender({ ...signed, files: undefined }, signed.signature, pinned).verified).toBe(false);
    // The bytes signed for a message without files are exactly the eleven parts signed before files existed.
    const plain = { id: "00000000-1", from: "a", to: "b", createdAt: "2026-01-01T00:00:00.000Z", body: "x" };
    const bodySha = createHash("sha256").update("x").digest("hex");
    expect(signedPayload(plain).toString()).toBe(
      JSON.stringify(["openclaw-inter-instance/envelope/v1", "00000000-1", "a", "b", "2026-01-01T00:00:00.000Z", bodySha, 0, "", 0, "", 0]),
    );
  });

  it("a session message carries the signed list in its signature line; a changed list does not verify", () => {
    const key = new MessagingKeyStore(join(scratch(), "state")).key();
    const pinned = (name: string) => (name === "xiaoa" ? key.publicKey : undefined);
    const files = [file, { name: "shot.png", size: 10, sha256: "c".repeat(64), mime: "image/png" }];
    const envelope = signEnvelope(createEnvelope({ from: "xiaoa", to: "xiaom", body: "see these", files }), key);
    const text = formatSessionMessage(envelope);
    expect(verdictsInText(text, pinned)).toMatchObject([{ id: envelope.id, verdict: { verified: true }, body: "see these", files }]);
    const forged = text.replace(encodeFileList(files), encodeFileList([{ ...file, size: 9 }, files[1]!]));
    expect(forged).not.toBe(text);
    const [verdict] = verdictsInText(forged, pinned);
    expect(verdict!.verdict.verified).toBe(false);
    expect(verdict).not.toHaveProperty("files");
  });

  it("decodes only well-formed lists with safe names", () => {
    expect(decodeFileList(encodeFileList([file]))).toEqual([file]);
    const hostile = Buffer.from(JSON.stringify([["../../etc/passwd", 1, "a".repeat(64), "text/plain"]])).toString("base64url");
    expect(decodeFileList(hostile)).toBeUndefined();
    expect(decodeFileList("!!")).toBeUndefined();
    expect(fileListSchema().safeParse([]).success).toBe(false);
  });
});
