import { describe, expect, it } from "vitest";
import { createLogger } from "../../src/util/log.js";
import { SecretSet } from "../../src/util/redact.js";
import { captureLines } from "../harness/capture.js";
import { findLeaks } from "../harness/secrets-watch.js";

function linesOf(log: (logger: ReturnType<typeof createLogger>) => void, secrets?: SecretSet): string[] {
  const { destination, lines } = captureLines();
  log(createLogger({ level: "trace", destination, ...(secrets ? { secrets } : {}) }));
  return lines;
}

describe("the suite-wide secrets check", () => {
  const token = "tok-unit-0123456789abcdef";
  const quoteBack = (logger: ReturnType<typeof createLogger>) => logger.info({ err: new Error(`auth failed for ${token}`) }, "transport failed");

  it("finds a token that a log line quotes back", () => {
    expect(findLeaks(linesOf(quoteBack), [token])).toHaveLength(1);
  });

  it("finds nothing once the library's logger knows the token", () => {
    const secrets = new SecretSet();
    secrets.add(token);
    expect(findLeaks(linesOf(quoteBack, secrets), [token])).toEqual([]);
  });
});
