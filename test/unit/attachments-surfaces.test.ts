import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { sha256Hex } from "../../src/core/attachments/file-list.js";
import { createEnvelope, InstanceRegistry, parseConfig, UnsuitableMessageError, ValidationError } from "../../src/index.js";
import { sessionFilesText } from "../../src/plugin/session-files.js";
import { filesInWorkspace } from "../../src/plugin/tools/workspace-files.js";
import { A2aTransport } from "../../src/transports/a2a/transport.js";
import { refuseOverLimits } from "../../src/transports/sessions-send/attachments.js";
import { formatSessionMessage } from "../../src/transports/shared/session-message.js";
import { MessagingKeyStore } from "../../src/trust/messaging-key.js";
import { verdictsInText } from "../../src/trust/session-verdicts.js";
import { signEnvelope } from "../../src/trust/sign-envelope.js";
import { scratchDirs } from "../harness/scratch.js";

const scratch = scratchDirs("attachments-surfaces-");
const MB = 1024 * 1024;
const meta = (name: string, size: number, mime = "application/octet-stream") => ({ name, size, sha256: "a".repeat(64), mime });

describe("sessions_send refuses what the target's hello says it will not take, before sending", () => {
  const policy = { maxPayload: 25 * MB, attachments: { maxBytes: 6 * MB, maxImageBytes: 2 * MB } };

  it.each([
    [[meta("big.bin", 6 * MB + 1)], /maxBytes 6\.0 MiB/u],
    [[meta("shot.png", 2 * MB + 1, "image/png")], /maxImageBytes 2\.0 MiB/u],
    [[meta("a.bin", 5 * MB), meta("b.bin", 5 * MB), meta("c.bin", 5 * MB), meta("d.bin", 5 * MB)], /policy\.maxPayload 25\.0 MiB/u],
  ])("refuses %#, naming the limit, as a message this path cannot carry (the dispatcher falls back)", (files, limit) => {
    let error: unknown;
    try {
      refuseOverLimits(files, 100, policy, "xiaom");
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(UnsuitableMessageError);
    expect((error as UnsuitableMessageError).code).toBe("TOO_LARGE_FOR_TARGET");
    expect((error as UnsuitableMessageError).message).toMatch(limit);
    expect((error as UnsuitableMessageError).hint).toMatch(/nodes, memory_file/u);
  });

  it("takes what fits, and uses OpenClaw's defaults when an older Gateway does not advertise limits", () => {
    expect(() => refuseOverLimits([meta("ok.bin", 6 * MB), meta("ok.png", 2 * MB, "image/png")], 100, policy, "xiaom")).not.toThrow();
    expect(() => refuseOverLimits([meta("ok.bin", 18 * MB)], 100, {}, "xiaom")).not.toThrow();
    // 19 MB fits maxBytes but not a 25 MiB frame once base64 (OpenClaw's handshake doc warns of this).
    expect(() => refuseOverLimits([meta("b64.bin", 19 * MB)], 100, {}, "xiaom")).toThrow(/policy\.maxPayload/u);
    expect(() => refuseOverLimits([meta("big.bin", 21 * MB)], 100, {}, "xiaom")).toThrow(
      /does not advertise a limit; OpenClaw's default is maxBytes 20\.0 MiB/u,
    );
  });
});

describe("the receiving plugin checks session attachments against what the Gateway saved", () => {
  it("verifies a saved attachment by its signed SHA-256 and copies it into the incoming folder; other bytes are not verified", () => {
    const key = new MessagingKeyStore(join(scratch(), "state")).key();
    const pinned = (name: string) => (name === "xiaoa" ? key.publicKey : undefined);
    const good = Buffer.from("the real log");
    const files = [
      { name: "build.log", size: good.byteLength, sha256: sha256Hex(good), mime: "text/plain" },
      { name: "other.txt", size: 5, sha256: sha256Hex(Buffer.from("wants")), mime: "text/plain" },
    ];
    const envelope = signEnvelope(createEnvelope({ from: "xiaoa", to: "xiaom", body: "see the log", files }), key);
    const media = scratch();
    mkdirSync(join(media, "inbound"));
    writeFileSync(join(media, "inbound", "build---1.txt"), good);
    writeFileSync(join(media, "inbound", "other---2.txt"), "other");
    const prompt = `[media attached 1/2: media://inbound/build---1.txt (text/plain)]\n${formatSessionMessage(envelope)}\n[media attached: media://inbound/other---2.txt]`;
    const [message] = verdictsInText(prompt, pinned);
    const workspace = scratch();
    const text = sessionFilesText(prompt, message!, workspace, media)!;
    expect(text).toMatch(/"build.log" \(12 bytes, text\/plain\) at "\.openclaw-inter-instance\/incoming\/files\/[0-9a-f]{64}\/build\.log": verified/u);
    expect(text).toMatch(/"other.txt" .*: NOT VERIFIED \(no attachment the Gateway saved for this message has its SHA-256\)/u);
    // An unverified sender's list vouches for nothing.
    const unverified = verdictsInText(prompt, () => undefined)[0]!;
    expect(sessionFilesText(prompt, { ...unverified, files }, workspace, media)).not.toMatch(/: verified/u);
  });
});

describe("instance_send's files are workspace paths", () => {
  it("resolves paths inside the workspace and refuses any that lead out (.., absolute, a link)", async () => {
    const workspace = scratch();
    const outside = scratch();
    mkdirSync(join(workspace, "reports"));
    writeFileSync(join(workspace, "reports", "build.log"), "ok");
    writeFileSync(join(outside, "secret"), "no");
    symlinkSync(join(outside, "secret"), join(workspace, "link"));
    expect(await filesInWorkspace(workspace, ["reports/build.log"])).toEqual([{ path: join(workspace, "reports", "build.log"), name: "build.log" }]);
    for (const path of ["../secret", join(outside, "secret"), "link", "/etc/passwd", "missing.txt"]) {
      const error = await filesInWorkspace(workspace, [path]).catch((caught: unknown) => caught);
      expect(error, path).toBeInstanceOf(ValidationError);
      expect((error as ValidationError).issues[0]!.path).toBe("files.0");
    }
    await expect(filesInWorkspace(undefined, ["a"])).rejects.toThrow(/no workspace/u);
  });
});

describe("nodes carries files by the node's file.write", () => {
  it("writes each file to the incoming folder by digest, checked by SHA-256 on the node, before the envelope that names it", async () => {
    const { NodesTransport } = await import("../../src/transports/nodes/transport.js");
    const { createLogger } = await import("../../src/index.js");
    const writes: { path: string; sha256: string; overwrite: boolean }[] = [];
    const host = {
      writeFile: async (path: string, content: Buffer, options: { overwrite: boolean }) => {
        writes.push({ path, sha256: sha256Hex(content), overwrite: options.overwrite });
        return { written: true as const, path, sha256: sha256Hex(content), size: content.byteLength };
      },
    };
    const transport = new (class extends NodesTransport {
      override host() {
        return host as never;
      }
    })(undefined as never);
    const instance = new InstanceRegistry(
      parseConfig({
        self: { name: "xiaoa" },
        instances: { xiaom: { node: { gateway: { url: "ws://127.0.0.1:1", token: "t" }, workspace: "/w", name: "mac" } } },
      }),
      {},
    ).resolve("xiaom");
    const bytes = Buffer.from("log line");
    const file = { name: "build.log", size: bytes.byteLength, sha256: sha256Hex(bytes), mime: "text/plain" };
    const envelope = createEnvelope({ from: "xiaoa", to: "xiaom", body: "see it", files: [file] });
    expect(transport.applies(instance, envelope)).toEqual({ ok: true });
    await transport.deliver(envelope, { instance, signal: new AbortController().signal, logger: createLogger({ level: "silent" }), files: async () => bytes });
    expect(writes).toEqual([
      { path: join("/w", ".openclaw-inter-instance", "incoming", "files", file.sha256, "build.log"), sha256: file.sha256, overwrite: false },
      { path: join("/w", ".openclaw-inter-instance", "incoming", `${envelope.id}.json`), sha256: expect.any(String), overwrite: false },
    ]);
    const huge = createEnvelope({ from: "xiaoa", to: "xiaom", body: "too big", files: [{ ...file, size: 13 * MB }] });
    expect(transport.applies(instance, huge)).toMatchObject({ ok: false, reason: expect.stringMatching(/16 MiB/u) });
  });
});

describe("a2a cannot carry files", () => {
  it("is not applicable to a message with files, saying that OpenClaw's A2A channel drops file parts", () => {
    const instance = new InstanceRegistry(
      parseConfig({ self: { name: "xiaoa" }, instances: { xiaom: { a2a: { url: "http://127.0.0.1:1/a2a", token: "t" } } } }),
      {},
    ).resolve("xiaom");
    const transport = new A2aTransport("xiaoa", {});
    expect(transport.applies(instance, createEnvelope({ from: "xiaoa", to: "xiaom", body: "plain" }))).toEqual({ ok: true });
    const withFile = createEnvelope({ from: "xiaoa", to: "xiaom", body: "see it", files: [meta("build.log", 10, "text/plain")] });
    expect(transport.applies(instance, withFile)).toMatchObject({
      ok: false,
      reason: expect.stringMatching(/cannot carry files \(OpenClaw's A2A channel takes text and data parts only and drops file parts/u),
    });
  });
});
