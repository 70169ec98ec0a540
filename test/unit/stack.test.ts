// withoutStackTraces: errors made inside carry no frames; the process's limit is back afterwards, also after a throw.
import { describe, expect, it } from "vitest";
import { withDeadline } from "../../src/util/deadline.js";
import { withoutStackTraces } from "../../src/util/stack.js";

describe("withoutStackTraces", () => {
  it("takes no stack for errors made inside, and puts the limit back after a return and after a throw", () => {
    const limit = Error.stackTraceLimit;
    const made = withoutStackTraces(() => new Error("made inside"));
    expect(made.stack?.split("\n").filter((line) => line.trimStart().startsWith("at "))).toEqual([]);
    expect(Error.stackTraceLimit).toBe(limit);
    expect(() =>
      withoutStackTraces(() => {
        throw new Error("thrown inside");
      }),
    ).toThrow("thrown inside");
    expect(Error.stackTraceLimit).toBe(limit);
    expect(new Error("outside").stack?.split("\n").some((line) => line.trimStart().startsWith("at "))).toBe(true);
  });

  it("leaves withDeadline's own timeout error its stack, and the work's errors theirs", async () => {
    const late = withDeadline(() => new Promise<never>(() => {}), { milliseconds: 20, onTimeout: () => new Error("too slow") });
    const timedOut = await late.catch((error: unknown) => error as Error);
    expect(timedOut.message).toBe("too slow");
    expect(timedOut.stack).toMatch(/\n\s+at /u);
    const failed = await withDeadline(async () => Promise.reject(new Error("work failed")), { milliseconds: 1000, onTimeout: () => new Error("x") }).catch(
      (error: unknown) => error as Error,
    );
    expect(failed.stack).toMatch(/\n\s+at /u);
  });
});
