import { describe, expect, it } from "vitest";
import { isPlaintextAllowed } from "../../src/gateway/url-policy.js";
import { classifyGatewayError } from "../../src/gateway.js";
import { FatalError, TransientError, UnavailableError } from "../../src/index.js";

const context = { url: "wss://xiaom.example.ts.net", tokenSource: "environment variable XIAOM_TOKEN", sessionKey: "agent:main:main" };

// The messages and `details` of the pairing, token-mismatch and session-not-found frames are copied
// from runs against a real 2026.9.6 Gateway (the integration tests also provoke the first two live);
// the top-level codes there, and the MISSING_SCOPE and busy frames, follow docs/gateway/protocol.
const frames = {
  pairing: {
    gatewayCode: "NOT_PAIRED",
    message: "device pairing required (requestId: 4b5a05ba-6be4-4eb1-85cc-756fcddaf445)",
    details: { code: "PAIRING_REQUIRED", reason: "not-paired", requestId: "4b5a05ba-6be4-4eb1-85cc-756fcddaf445", recommendedNextStep: "wait_then_retry" },
  },
  tokenMismatch: {
    gatewayCode: "INVALID_REQUEST",
    message: "unauthorized: gateway token mismatch (use this gateway's gateway.auth.token or pair the device)",
    details: { code: "AUTH_TOKEN_MISMATCH" },
  },
  scopeMismatch: { gatewayCode: "INVALID_REQUEST", message: "scope mismatch", details: { code: "AUTH_SCOPE_MISMATCH" } },
  missingScope: {
    gatewayCode: "FORBIDDEN",
    message: "missing scope: operator.write",
    details: { code: "MISSING_SCOPE", missingScope: "operator.write", requiredScopes: ["operator.write"] },
  },
  sessionNotFound: { gatewayCode: "INVALID_REQUEST", message: "session not found: agent:main:q3test", retryable: false },
  busy: { gatewayCode: "UNAVAILABLE", message: "request queue full", retryable: true, retryAfterMs: 100 },
  invalid: { gatewayCode: "INVALID_REQUEST", message: "invalid sessions.send params: message too long" },
  // Messages from a real run: the same id sent again after a SIGKILL restart interrupted its input.
  ownershipEnded: { gatewayCode: "UNAVAILABLE", message: "Pending input ownership ended; submit a new turn to continue", retryable: true },
  keyConflict: { gatewayCode: "INVALID_REQUEST", message: "Pending input idempotency key conflicts with the accepted input" },
};

describe("classifyGatewayError", () => {
  it("PAIRING_REQUIRED is unavailable with the exact approve command", () => {
    const error = classifyGatewayError(frames.pairing, context);
    expect(error).toBeInstanceOf(UnavailableError);
    expect(error.code).toBe("PAIRING_REQUIRED");
    expect(error.hint).toContain("openclaw devices approve 4b5a05ba-6be4-4eb1-85cc-756fcddaf445");
  });

  it("a token mismatch is an auth failure that names where the token came from", () => {
    const error = classifyGatewayError(frames.tokenMismatch, context);
    expect(error).toMatchObject({ code: "AUTH_FAILED", failureClass: "unavailable" });
    expect(error.hint).toContain("environment variable XIAOM_TOKEN");
  });

  it.each([
    ["scopeMismatch", "SCOPE_NOT_APPROVED", UnavailableError],
    ["missingScope", "MISSING_SCOPE", UnavailableError],
    ["sessionNotFound", "SESSION_NOT_FOUND", UnavailableError],
    ["busy", "UNAVAILABLE", TransientError],
    ["invalid", "INVALID_REQUEST", FatalError],
    ["ownershipEnded", "INPUT_INTERRUPTED", UnavailableError],
    ["keyConflict", "INPUT_INTERRUPTED", UnavailableError],
  ] as const)("%s becomes %s", (frame, code, type) => {
    const error = classifyGatewayError(frames[frame], context);
    expect(error).toBeInstanceOf(type);
    expect(error.code).toBe(code);
  });

  it("network errors: refused is unavailable, a reset is transient", () => {
    expect(classifyGatewayError(Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" }), context)).toMatchObject({
      code: "UNREACHABLE",
      failureClass: "unavailable",
    });
    expect(classifyGatewayError(Object.assign(new Error("socket hang up"), { code: "ECONNRESET" }), context)).toMatchObject({ failureClass: "transient" });
  });

  it("the reference client's plaintext refusal is INSECURE_TRANSPORT", () => {
    const error = classifyGatewayError(new Error('SECURITY ERROR: Cannot connect to "203.0.113.9" over plaintext ws://. Both credentials…'), context);
    expect(error.code).toBe("INSECURE_TRANSPORT");
  });
});

describe("isPlaintextAllowed", () => {
  it.each([
    ["ws://127.0.0.1:18789", true],
    ["ws://localhost:18789", true],
    ["ws://192.168.1.20:18789", true],
    ["ws://100.101.102.103:18789", true],
    ["ws://mac-mini.tail1234.ts.net:18789", true],
    ["ws://mac-mini.local:18789", true],
    ["ws://[::1]:18789", true],
    ["wss://gateway.example.com", true],
    ["ws://gateway.example.com:18789", false],
    ["ws://203.0.113.9:18789", false],
  ])("%s → %s", (url, allowed) => {
    expect(isPlaintextAllowed(url, {})).toBe(allowed);
  });

  it("honours OpenClaw's break-glass variable", () => {
    expect(isPlaintextAllowed("ws://gateway.example.com:18789", { OPENCLAW_ALLOW_INSECURE_PRIVATE_WS: "1" })).toBe(true);
  });
});
