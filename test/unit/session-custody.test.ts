import { describe, expect, it } from "vitest";
import { createEnvelope, type Envelope } from "../../src/core/envelope.js";
import type { GatewayConnection } from "../../src/gateway/connection.js";
import type { TranscriptRow } from "../../src/gateway/transcript.js";
import { custodyInSession, laterTurnRan, sessionKeys } from "../../src/transports/sessions-send/custody.js";

const T0 = 1_800_000_000_000;
const header = (id: string, body = "hi") => `[Message from xiaoa via openclaw-inter-instance, id ${id}]\n${body}`;
const user = (key: string, text: string, at: number, id = `event-${key}`): TranscriptRow => ({
  role: "user",
  content: text,
  idempotencyKey: key,
  __openclaw: { id, idempotencyKey: key, recordTimestampMs: at },
});
const reply = (at: number): TranscriptRow => ({
  role: "assistant",
  content: [{ type: "text", text: "ACK" }],
  __openclaw: { id: `reply-${at}`, recordTimestampMs: at },
});

interface Gateway {
  messages?: TranscriptRow[];
  pending?: { runId: string; state: string }[];
  receipts?: { runId: string; state: string; consumedByEventId?: string }[];
  active?: boolean;
  wait?: string;
  rows?: Record<string, TranscriptRow>;
  older?: TranscriptRow[];
  /** The Gateway refuses `inputRunIds` (it holds a key twice). */
  refuseReceipts?: boolean;
}

/** A connection that answers as a 2026.9 Gateway does, from the facts given. */
function gateway(facts: Gateway): { connection: GatewayConnection; calls: string[] } {
  const calls: string[] = [];
  const request = async (method: string, params: Record<string, unknown>) => {
    calls.push(method);
    if (method === "chat.history") {
      if (facts.refuseReceipts && params.inputRunIds) throw new Error("Pending input receipt lookup has ambiguous source run IDs");
      if (params.offset) return { messages: facts.older ?? [], pendingInputs: { items: [] }, inputReceipts: [], sessionInfo: { hasActiveRun: facts.active } };
      return {
        messages: facts.messages ?? [],
        pendingInputs: { items: facts.pending ?? [] },
        inputReceipts: (facts.receipts ?? []).filter((receipt) => (params.inputRunIds as string[]).includes(receipt.runId)),
        sessionInfo: { hasActiveRun: facts.active ?? false },
        ...(facts.older ? { hasMore: true, nextOffset: 100 } : {}),
      };
    }
    if (method === "chat.message.get") return { message: facts.rows?.[String(params.messageId)] };
    if (method === "agent.wait") return { status: facts.wait ?? "timeout" };
    throw new Error(`unexpected ${method}`);
  };
  return { connection: { request } as unknown as GatewayConnection, calls };
}

const envelope = (redelivery?: number): Envelope => ({
  ...createEnvelope({ to: "xiaom", from: "xiaoa", body: "hi", id: "env-00000001" }),
  ...(redelivery ? { redelivery } : {}),
});
const look = (facts: Gateway, options: { envelope?: Envelope; acceptedAt?: number; now?: number } = {}) =>
  custodyInSession(options.envelope ?? envelope(), {
    connection: gateway(facts).connection,
    sessionKey: "agent:main:main",
    signal: new AbortController().signal,
    acceptedAt: options.acceptedAt ?? T0,
    now: options.now ?? T0 + 5_000,
  });

describe("custody of an accepted sessions.send", () => {
  it("its row followed by an answer: ran; its row alone: in the session", async () => {
    expect(await look({ messages: [user("env-00000001:user", header("env-00000001"), T0 + 10), reply(T0 + 20)] })).toEqual({ state: "ran" });
    expect(await look({ messages: [user("env-00000001:user", header("env-00000001"), T0 + 10)] })).toEqual({ state: "pending" });
  });

  it("a queued pending input is in the Gateway's custody; interrupted or cancelled is lost", async () => {
    const receipts = [{ runId: "env-00000001", state: "pending" }];
    expect(await look({ receipts, pending: [{ runId: "env-00000001", state: "queued" }] })).toEqual({ state: "queued" });
    expect(await look({ receipts, pending: [{ runId: "env-00000001", state: "interrupted" }] })).toMatchObject({
      state: "lost",
      reason: expect.stringContaining("interrupted"),
    });
    expect(await look({ receipts, pending: [{ runId: "env-00000001", state: "cancelled" }] })).toMatchObject({ state: "lost" });
  });

  it("consumed by a queue-overflow summary is lost, though the summary quotes its header", async () => {
    const summary = user(
      "followup-overflow:abc:env-00000001:def",
      `[Queue overflow] Dropped 1 message due to cap.\nSummary:\n- ${header("env-00000001").replace("\n", " ")}`,
      T0 + 50,
      "summary-1",
    );
    const receipts = [{ runId: "env-00000001", state: "consumed", consumedByEventId: "summary-1" }];
    expect(await look({ receipts, messages: [summary, reply(T0 + 60)] })).toMatchObject({ state: "lost", reason: expect.stringContaining("cap") });
    // The summary row is older than the page read: read by its event id.
    expect(await look({ receipts, messages: [], rows: { "summary-1": summary } })).toMatchObject({ state: "lost" });
  });

  it("consumed into a row that collected several messages is in the session", async () => {
    const collected = user("collect-1", `${header("other-0000001")}\n\n${header("env-00000001")}`, T0 + 50, "collected-1");
    expect(
      await look({ receipts: [{ runId: "env-00000001", state: "consumed", consumedByEventId: "collected-1" }], rows: { "collected-1": collected } }),
    ).toEqual({ state: "pending" });
  });

  it("in nobody's custody: unsettled while a run is active, queued in memory or within the commit grace; lost once the session is quiet and has moved on", async () => {
    expect(await look({ active: true }, { now: T0 + 300_000 })).toMatchObject({ state: "unsettled" });
    expect(await look({ wait: "pending" }, { now: T0 + 300_000 })).toMatchObject({ state: "unsettled" });
    expect(await look({}, { now: T0 + 5_000 })).toMatchObject({ state: "unsettled" });
    expect(await look({ messages: [user("later:user", "later", T0 + 100), reply(T0 + 200)] }, { now: T0 + 5_000 })).toMatchObject({
      state: "lost",
      reason: expect.stringContaining("nobody's custody"),
    });
    expect(await look({}, { now: T0 + 121_000 })).toMatchObject({ state: "lost" });
  });

  it("a session that never goes quiet: in nobody's custody past the commit grace, with a later turn answered, is lost though a run is active", async () => {
    const later = [user("later:user", "later", T0 + 100), reply(T0 + 200)];
    expect(await look({ active: true, messages: later }, { now: T0 + 60_000 })).toMatchObject({ state: "unsettled" });
    expect(await look({ active: true, messages: [user("later:user", "later", T0 + 100)] }, { now: T0 + 300_000 })).toMatchObject({ state: "unsettled" });
    expect(await look({ active: true, messages: later, wait: "pending" }, { now: T0 + 300_000 })).toMatchObject({ state: "unsettled" });
    expect(await look({ active: true, messages: later }, { now: T0 + 300_000 })).toMatchObject({
      state: "lost",
      reason: expect.stringContaining("a later turn has run"),
    });
  });

  it("when the Gateway refuses to say who holds the key, absence proves nothing; an interrupted input still does", async () => {
    expect(await look({ refuseReceipts: true }, { now: T0 + 300_000 })).toMatchObject({ state: "unsettled" });
    expect(await look({ refuseReceipts: true, pending: [{ runId: "env-00000001", state: "interrupted" }] })).toMatchObject({ state: "lost" });
  });

  it("an older page is read before calling it lost, as far back as rows committed after the send", async () => {
    const page = [user("later:user", "later", T0 + 100), reply(T0 + 200)];
    expect(await look({ messages: page, older: [user("env-00000001:user", header("env-00000001"), T0 + 10), reply(T0 + 20)] })).toEqual({ state: "ran" });
  });

  it("a redelivery is found under any key it was sent with", async () => {
    expect(sessionKeys(envelope(2))).toEqual(["env-00000001", "env-00000001:redelivery-1", "env-00000001:redelivery-2"]);
    const receipts = [{ runId: "env-00000001:redelivery-2", state: "pending" }];
    expect(await look({ receipts, pending: [{ runId: "env-00000001:redelivery-2", state: "queued" }] }, { envelope: envelope(2) })).toEqual({
      state: "queued",
    });
  });

  it("a later turn ran only when a user row committed after the send was answered", () => {
    expect(laterTurnRan([user("a:user", "a", T0 - 10), reply(T0 + 5)], T0)).toBe(false);
    expect(laterTurnRan([user("b:user", "b", T0 + 10)], T0)).toBe(false);
    expect(laterTurnRan([user("b:user", "b", T0 + 10), reply(T0 + 20)], T0)).toBe(true);
  });
});
