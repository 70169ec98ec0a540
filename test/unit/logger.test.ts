import { describe, expect, it } from "vitest";
import { createLogger, SecretSet } from "../../src/index.js";
import { captureLines } from "../harness/capture.js";

describe("createLogger", () => {
  it("redacts credential fields by path and secret values anywhere", () => {
    const secrets = new SecretSet();
    secrets.add("tok-very-secret-123");
    const { destination, lines } = captureLines();
    const logger = createLogger({ level: "debug", destination, secrets });
    logger.info({ gateway: { url: "ws://x", token: "tok-very-secret-123" }, authorization: "Bearer abc" }, "connecting");
    logger.warn({ err: new Error("server said tok-very-secret-123 is wrong") }, "refused with tok-very-secret-123");
    logger.child({ envelopeId: "e1" }).debug({ nested: { deeper: ["tok-very-secret-123"] } }, "deep");
    const text = lines.join("\n");
    expect(lines).toHaveLength(3);
    expect(text).not.toContain("tok-very-secret-123");
    expect(text).not.toContain("Bearer abc");
    expect(text).toContain("[redacted]");
  });

  it("scrubs the user-info of every URL in a line, known secret or not", () => {
    const { destination, lines } = captureLines();
    const logger = createLogger({ level: "debug", destination, secrets: new SecretSet() });
    logger.warn({ url: "ws://user:hunter2@10.0.0.2:18789/x" }, "could not reach wss://admin:pw%40x@host:443 or https://tok@h/a2a");
    expect(lines.join("\n")).not.toMatch(/hunter2|pw%40x|tok@/u);
    expect(lines.join("\n")).toContain("ws://[redacted]@10.0.0.2:18789/x");
  });
});

describe("createLogger with the secret scrubber: errors", () => {
  it("keep their class name, code, hint, message and stack, scrubbed of secrets", async () => {
    const { UnavailableError } = await import("../../src/index.js");
    const secrets = new SecretSet();
    secrets.add("tok-very-secret-123");
    const { destination, lines } = captureLines();
    const logger = createLogger({ level: "info", destination, secrets });
    const error = new UnavailableError("Gateway ws://10.0.0.2:18789/?token=tok-very-secret-123 rejected tok-very-secret-123", {
      code: "AUTH_FAILED",
      hint: "The token tok-very-secret-123 must equal gateway.auth.token there.",
      cause: new Error("inner tok-very-secret-123"),
    });
    logger.error({ err: error }, "as a field");
    logger.error(error, "as the first argument");
    expect(lines).toHaveLength(2);
    for (const line of lines) {
      expect(line).not.toContain("tok-very-secret-123");
      const err = (JSON.parse(line) as { err: Record<string, unknown> }).err;
      expect(err).toMatchObject({
        type: "UnavailableError",
        code: "AUTH_FAILED",
        hint: "The token [redacted] must equal gateway.auth.token there.",
        message: "Gateway ws://10.0.0.2:18789/?token=[redacted] rejected [redacted]: inner [redacted]",
      });
      expect(err.stack).toMatch(/^UnavailableError: Gateway ws:\/\/10\.0\.0\.2:18789\/\?token=\[redacted\] rejected \[redacted\]\n\s+at /u);
    }
    // The original error is left as it was.
    expect(error.hint).toContain("tok-very-secret-123");
    expect(error).toBeInstanceOf(UnavailableError);
  });
});

describe("createLogger at level silent", () => {
  it("writes nothing, and gives a real pino logger to whatever needs more than silence", () => {
    const logger = createLogger({ level: "silent", secrets: new SecretSet() });
    expect(logger.level).toBe("silent");
    expect(logger.isLevelEnabled("fatal")).toBe(false);
    logger.info({ token: "x" }, "nothing");
    const plain = logger.child({ envelopeId: "e0" });
    expect(plain.level).toBe("silent");
    plain.warn("nothing either");
    const loud = logger.child({ envelopeId: "e1" }, { level: "warn" });
    expect(loud.level).toBe("warn");
    expect(loud.bindings()).toMatchObject({ envelopeId: "e1" });
    // Once made, the real logger answers everything: a level raised later takes effect.
    logger.level = "error";
    expect(logger.level).toBe("error");
    expect(logger.isLevelEnabled("error")).toBe(true);
    expect(logger.isLevelEnabled("warn")).toBe(false);
  });

  it("keeps a plain child's bindings for when the child is made real", () => {
    const logger = createLogger({ level: "silent" });
    const child = logger.child({ envelopeId: "e2" });
    expect(child.isLevelEnabled("error")).toBe(false);
    // Asking for more than silence makes the child real: a child of the real logger, with its bindings.
    expect(child.bindings()).toMatchObject({ envelopeId: "e2" });
    expect(child.level).toBe("silent");
  });

  it("is pino itself when given a destination", () => {
    const { destination, lines } = captureLines();
    const logger = createLogger({ level: "silent", destination });
    logger.level = "info";
    logger.info("now heard");
    expect(lines).toHaveLength(1);
  });
});
