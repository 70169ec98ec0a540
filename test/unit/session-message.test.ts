import { describe, expect, it } from "vitest";
import { createEnvelope } from "../../src/core/envelope.js";
import { chatMessageRefusal } from "../../src/transports/shared/session-message.js";

const refusal = (body: string) => chatMessageRefusal(createEnvelope({ from: "xiaoa", to: "xiaom", body }));

describe("chatMessageRefusal: what a Gateway chat message would change", () => {
  it.each([
    ["NUL", "a\u0000b", /NUL bytes/u],
    ["bell", "ding\u0007", /control characters \(U\+0007\)/u],
    ["escape", "\u001b[31mred", /U\+001B/u],
    ["delete", "a\u007Fb", /U\+007F/u],
    ["decomposed accent", "e\u0301", /NFC/u],
    ["trailing newline", "done\n", /trims/u],
  ])("refuses %s, saying why", (_name, body, reason) => {
    expect(refusal(body)).toMatch(reason);
  });

  it.each([
    ["tab, LF and CR", "a\tb\nc\r\nd"],
    ["composed accent", "\u00e9 \u00e4"],
    ["Chinese and emoji", "部署完成 🦀 👩‍👩‍👧‍👦"],
    ["bidi marks and zero width", "\u202Etxt\u202C a\u200Bb"],
    ["NEL and line separators", "a\u0085b\u2028c"],
  ])("lets %s through", (_name, body) => {
    expect(refusal(body)).toBeUndefined();
  });
});
