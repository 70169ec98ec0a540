import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { createMessenger, SecretSet } from "../../src/index.js";
import { adoptLogger } from "../../src/util/log.js";

const TOKEN = "tok-caller-logger-0123456789";

function capture() {
  const lines: Record<string, unknown>[] = [];
  const logger = pino({ level: "debug" }, { write: (line: string) => lines.push(JSON.parse(line) as Record<string, unknown>) });
  return { logger, lines };
}

describe("a caller's own pino logger", () => {
  it("gets the library's lines through a child that redacts credential fields and scrubs known tokens, also inside errors", () => {
    const { logger, lines } = capture();
    const secrets = new SecretSet();
    secrets.add(TOKEN);
    adoptLogger(logger, secrets).warn({ token: TOKEN, detail: `sent with ${TOKEN}`, err: new Error(`Gateway said: bad token ${TOKEN}`) }, "attempt failed");
    expect(lines).toHaveLength(1);
    expect(JSON.stringify(lines)).not.toContain(TOKEN);
    expect(lines[0]).toMatchObject({ lib: "openclaw-inter-instance", token: "[redacted]", msg: "attempt failed", err: { type: "Error" } });
  });

  it("createMessenger({ logger }) logs there, and never the instance's token", async () => {
    const dir = await mkdtemp(join(tmpdir(), "oii-logger-"));
    const { logger, lines } = capture();
    const link = createMessenger({
      config: {
        self: { name: "xiaoa" },
        stateDir: dir,
        outbox: { enabled: false },
        instances: { xiaom: { gateway: { url: "ws://127.0.0.1:9", token: TOKEN }, transports: ["sessions_send"] } },
      },
      logger,
    });
    try {
      const report = await link.send({ to: "xiaom", body: "hello" });
      expect(report.ok).toBe(false);
      expect(lines.some((line) => line.lib === "openclaw-inter-instance" && line.msg === "not delivered")).toBe(true);
      expect(JSON.stringify(lines)).not.toContain(TOKEN);
    } finally {
      await link.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
