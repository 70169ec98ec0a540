import type { OpenClawPluginApi } from "openclaw/plugin-sdk/plugin-entry";
import { describe, expect, it, vi } from "vitest";
import type { DeliveryReport } from "../../src/core/dispatcher.js";
import type { Envelope } from "../../src/core/envelope.js";
import { createLostNotifier, lostNoticeText } from "../../src/plugin/lost-notice.js";

const envelope = {
  id: "env-1",
  kind: "message",
  from: "xiaoa",
  to: "xiaom",
  body: `部署完成 ${"x".repeat(300)}`,
  createdAt: new Date().toISOString(),
} as unknown as Envelope;
const report: DeliveryReport = {
  ok: false,
  id: "env-1",
  to: "xiaom",
  status: "lost",
  via: "sessions_send",
  attempts: [],
  followUp: [
    {
      at: new Date().toISOString(),
      found: "lost",
      reason: "the target Gateway marked it interrupted; not sent again (sent 4 times)",
      action: "given up",
    } as unknown as NonNullable<DeliveryReport["followUp"]>[number],
  ],
};

// The host as OpenClaw 2026.9 answers: no id while the session does not exist yet, then queued.
function host(answers: { id: string; enqueued: boolean }[]) {
  const injections: { sessionKey: string; text: string; idempotencyKey: string }[] = [];
  const warnings: string[] = [];
  const api = {
    logger: { info: () => undefined, warn: (line: string) => warnings.push(line) },
    config: {},
    session: {
      workflow: {
        enqueueNextTurnInjection: async (injection: { sessionKey: string; text: string; idempotencyKey: string }) => {
          injections.push(injection);
          return { ...(answers.shift() ?? { id: injection.idempotencyKey, enqueued: true }), sessionKey: injection.sessionKey };
        },
      },
    },
    runtime: {
      agent: { resolveAgentWorkspaceDir: () => "/nonexistent-workspace", session: { getSessionEntry: () => undefined } },
      system: { requestHeartbeat: () => undefined },
    },
  };
  return { api: api as unknown as OpenClawPluginApi, injections, warnings };
}

describe("the owner hears of a message lost for good", () => {
  it("says where it went, its id, how it began, why it was given up and what to do", () => {
    const text = lostNoticeText(report, envelope);
    expect(text).toContain("sent to xiaom never reached its agent (id env-1)");
    expect(text).toContain("sent 4 times");
    expect(text).toContain(`"部署完成 ${"x".repeat(115)}…"`);
    expect(text).toContain("openclaw inter-instance doctor xiaom");
  });

  it("warns in the Gateway log and queues the notice into the owner's session, again later while it has no session", async () => {
    vi.useFakeTimers();
    try {
      const { api, injections, warnings } = host([{ id: "", enqueued: false }]);
      createLostNotifier(api, () => "agent:main:main")(report, envelope);
      await vi.waitFor(() => expect(injections).toHaveLength(1));
      expect(warnings[0]).toContain("never reached its agent (id env-1)");
      expect(injections[0]).toMatchObject({ sessionKey: "agent:main:main", idempotencyKey: "inter-instance:lost-env-1" });
      await vi.advanceTimersByTimeAsync(30_000);
      expect(injections).toHaveLength(2);
      await vi.advanceTimersByTimeAsync(60_000);
      expect(injections).toHaveLength(2);
    } finally {
      vi.useRealTimers();
    }
  });
});
