import { describe, expect, it } from "vitest";
import { createEnvelope, MAX_BODY_BYTES, ValidationError } from "../../src/index.js";

describe("createEnvelope", () => {
  it("assigns an id and a timestamp", () => {
    const envelope = createEnvelope({ from: "xiaoa", to: "xiaom", body: "部署完成" });
    expect(envelope.id).toMatch(/^[0-9a-f-]{36}$/u);
    expect(new Date(envelope.createdAt).toString()).not.toBe("Invalid Date");
    expect(envelope.kind).toBe("message");
  });

  it.each([
    [{ body: "" }, "body"],
    [{ body: "\ud800 lone" }, "body"],
    [{ body: "x".repeat(MAX_BODY_BYTES + 1) }, "body"],
    [{ body: "ok", id: "short" }, "id"],
    [{ body: "ok", id: "has space in it" }, "id"],
    [{ body: "ok", from: "evil\nheader" }, "from"],
  ])("rejects %j at field %s", (patch, field) => {
    try {
      createEnvelope({ from: "xiaoa", to: "xiaom", ...patch });
      throw new Error("expected a ValidationError");
    } catch (error) {
      expect(error).toBeInstanceOf(ValidationError);
      expect((error as ValidationError).issues.map((issue) => issue.path)).toEqual([field]);
    }
  });

  it("accepts a body of exactly the limit", () => {
    expect(createEnvelope({ from: "a", to: "b", body: "é".repeat(MAX_BODY_BYTES / 2) }).body.length).toBe(MAX_BODY_BYTES / 2);
  });
});
