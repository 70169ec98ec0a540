import { randomBytes } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createEnvelope } from "../../src/core/envelope.js";
import { formatSessionMessage } from "../../src/transports/shared/session-message.js";

// OpenClaw masks what looks like a vendor token (`r8_`, `hf_`, `npm_` and ten letters, …) in text it
// stores and shows. This runs the installed OpenClaw's own redactor over signature lines.
async function openclawRedactor(): Promise<(text: string) => string> {
  const dist = join("test", "openclaw-host", "node_modules", "openclaw", "dist");
  for (const file of (await readdir(dist)).filter((name) => /^redact-[\w-]+\.mjs$/u.test(name))) {
    const source = await readFile(join(dist, file), "utf8");
    const alias = /\bredactSensitiveText as (\w+)\b/u.exec(source)?.[1];
    if (alias) return ((await import(join(process.cwd(), dist, file))) as Record<string, (text: string) => string>)[alias]!;
  }
  throw new Error(`OpenClaw's redactSensitiveText was not found in ${dist}: run npm install (the prepare script installs OpenClaw there).`);
}

describe("the signature line survives OpenClaw's secret redaction", () => {
  it("hex signatures are never masked; base64url ones were (about 1 in 70)", async () => {
    const redact = await openclawRedactor();
    const envelope = createEnvelope({ from: "xiaoa", to: "xiaom", body: "hello", id: "redaction-0001" });
    const line = (signature: string) => formatSessionMessage({ ...envelope, signature });
    const signatures = Array.from({ length: 3_000 }, () => randomBytes(64).toString("base64url"));
    const masked = signatures.filter((signature) => redact(line(signature)) !== line(signature));
    expect(masked).toEqual([]);
    // The same signatures as base64url text (how they were written before): some are masked.
    const plain = (signature: string) => `[openclaw-inter-instance signature to=xiaom created=2026-12-03T00:00:00.000Z sig=${signature}]`;
    expect(signatures.filter((signature) => redact(plain(signature)) !== plain(signature)).length).toBeGreaterThan(0);
  });
});
