import { createHash, randomBytes } from "node:crypto";
import { expect, it } from "vitest";
import { ValidationError } from "../../src/core/errors.js";
import { instancesContract } from "../../src/plugin/control-ui/feature.js";
import { UPLOAD_PART } from "../../src/plugin/control-ui/operations.js";
import { MAX_OPEN_UPLOADS, UPLOAD_IDLE_MS, UploadStaging } from "../../src/plugin/control-ui/uploads.js";

// The Instances page's file uploads: the bounds of the config's `attachments`, parts in order, and
// what OpenClaw lets through one plugin action (its PLUGIN_JSON_VALUE_LIMITS: 256 KiB of JSON, 64 Ki
// characters per string).
const BOUNDS = { maxFileBytes: 1000, maxTotalBytes: 1500, maxFiles: 3 };
const sha = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

function refusal(run: () => unknown): { message: string; path: string | undefined } {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    return { message: (error as ValidationError).message, path: (error as ValidationError).issues[0]?.path };
  }
  throw new Error("not refused");
}

it("takes a message's files in parts, in order, and gives them back whole, each as announced", () => {
  const staging = new UploadStaging();
  const text = Buffer.from("build ok\n");
  const binary = randomBytes(700);
  const upload = staging.begin(
    [
      { name: "build.log", size: text.byteLength, mime: "text/plain" },
      { name: "../x.bin", size: binary.byteLength },
      { name: "empty", size: 0 },
    ],
    BOUNDS,
  );
  expect(staging.append(upload, 0, 0, [text])).toBe(text.byteLength);
  expect(staging.append(upload, 1, 0, [binary.subarray(0, 300), binary.subarray(300, 500)])).toBe(500);
  expect(staging.append(upload, 1, 500, [binary.subarray(500)])).toBe(700);
  const files = staging.take(upload, "send input");
  expect(files.map((file) => ("bytes" in file ? [file.name, sha(file.bytes), file.mime] : []))).toEqual([
    ["build.log", sha(text), "text/plain"],
    // Names are data: made safe when the message is built (prepareFiles), not here.
    ["../x.bin", sha(binary), undefined],
    ["empty", sha(new Uint8Array()), undefined],
  ]);
  expect(staging.open).toBe(0);
  expect(refusal(() => staging.take(upload, "send input"))).toEqual({
    message: expect.stringMatching(/^Invalid send input: upload: no upload/u),
    path: "upload",
  });
});

it("refuses, naming the field, what passes the attachments bounds", () => {
  const staging = new UploadStaging();
  const file = (size: number) => ({ name: "f", size });
  expect(refusal(() => staging.begin([file(1), file(1), file(1), file(1)], BOUNDS))).toEqual({
    message: expect.stringContaining("4 files, at most 3"),
    path: "files",
  });
  expect(refusal(() => staging.begin([file(10), file(1001)], BOUNDS))).toEqual({
    message: expect.stringContaining("larger than attachments.maxFileBytes"),
    path: "files.1.size",
  });
  expect(refusal(() => staging.begin([file(900), file(900)], BOUNDS))).toEqual({
    message: expect.stringContaining("more than attachments.maxTotalBytes"),
    path: "files",
  });
  expect(staging.open).toBe(0);
});

it("refuses a part out of order, past the announced size, or for a file it does not have; and a send before every byte came", () => {
  const staging = new UploadStaging();
  const upload = staging.begin([{ name: "a", size: 10 }], BOUNDS);
  expect(refusal(() => staging.append(upload, 0, 4, [Buffer.alloc(4)])).path).toBe("offset");
  expect(refusal(() => staging.append(upload, 0, 0, [Buffer.alloc(11)])).path).toBe("data");
  expect(refusal(() => staging.append(upload, 1, 0, [Buffer.alloc(1)])).path).toBe("file");
  staging.append(upload, 0, 0, [Buffer.alloc(6)]);
  expect(refusal(() => staging.take(upload, "send input"))).toEqual({
    message: expect.stringContaining('file 0 ("a") has 6 of its 10 bytes'),
    path: "upload",
  });
  // Taken (and so closed) even when short: the page uploads again for the next try.
  expect(staging.open).toBe(0);
});

it("holds at most one message's worth across open uploads, and drops one left idle", () => {
  let now = 0;
  const staging = new UploadStaging(() => now);
  const first = staging.begin([{ name: "a", size: 1000 }], BOUNDS);
  expect(refusal(() => staging.begin([{ name: "b", size: 600 }], BOUNDS))).toEqual({
    message: expect.stringContaining("are being uploaded to this Gateway now"),
    path: "files",
  });
  now += UPLOAD_IDLE_MS - 1;
  staging.append(first, 0, 0, [Buffer.alloc(10)]);
  now += UPLOAD_IDLE_MS - 1;
  expect(staging.open).toBe(1);
  now += 2;
  // Idle for longer than UPLOAD_IDLE_MS: given up, and its room is free again.
  const second = staging.begin([{ name: "b", size: 600 }], BOUNDS);
  expect(refusal(() => staging.append(first, 0, 10, [Buffer.alloc(1)])).path).toBe("upload");
  expect(staging.discard(second)).toBe(true);
  expect(staging.discard(second)).toBe(false);
  for (let i = 0; i < MAX_OPEN_UPLOADS; i += 1) staging.begin([{ name: "c", size: 1 }], BOUNDS);
  expect(refusal(() => staging.begin([{ name: "d", size: 1 }], BOUNDS)).path).toBe("files");
});

it("the largest part the page sends fits one OpenClaw plugin action, and the Gateway's schema takes it", () => {
  const data = Array.from({ length: UPLOAD_PART.strings }, () => randomBytes(UPLOAD_PART.stringBytes).toString("base64"));
  for (const part of data) expect(part.length).toBe(UPLOAD_PART.stringChars);
  const payload = { upload: "6f1c1d9e-1b7a-4c1e-9a53-1f0e2b3c4d5e", file: 63, offset: 1_073_741_824, data };
  expect(Buffer.byteLength(JSON.stringify(payload))).toBeLessThanOrEqual(262_144);
  const schema = instancesContract.operations["upload.part"].input as unknown as {
    properties: { data: { maxItems: number; items: { maxLength: number; pattern: string } } };
  };
  expect(schema.properties.data.maxItems).toBe(UPLOAD_PART.strings);
  expect(schema.properties.data.items.maxLength).toBe(UPLOAD_PART.stringChars);
  const pattern = new RegExp(schema.properties.data.items.pattern, "u");
  for (const part of data) expect(pattern.test(part)).toBe(true);
  expect(pattern.test("not base64!")).toBe(false);
  // The page's send names the upload; workspace paths are for the agent's tool, not the page.
  const send = instancesContract.operations.send.input as unknown as { properties: Record<string, unknown>; additionalProperties: boolean };
  expect(Object.keys(send.properties).sort()).toEqual(["message", "replyTo", "to", "upload"]);
  expect(send.additionalProperties).toBe(false);
});
