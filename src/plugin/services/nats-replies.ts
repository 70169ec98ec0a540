import type { Config } from "../../config/schema.js";
import { rowText } from "../../gateway/transcript.js";
import { leaseFleet, REPLY_TTL_MS, receiptKey, type StoredReply } from "../../transports/nats/fleet.js";

/** Runs whose turn carried fleet messages, kept until the run ends (or an hour, for a run that never reports its end). */
const FORGET_AFTER_MS = 3_600_000;

function finalAssistantText(messages: readonly unknown[]): string | undefined {
  for (let index = messages.length - 1; index >= 0; index -= 1) {
    const message = messages[index];
    if (message && typeof message === "object" && "role" in message && message.role === "assistant") {
      const text = rowText("content" in message ? message.content : undefined).trim();
      return text || undefined;
    }
  }
  return undefined;
}

/**
 * The answer side of `ask` over a fleet: a turn that carried messages from the broker ends, and its
 * final answer is stored in the fleet's replies bucket under each message's id, where the asker
 * (which, like this instance, may only dial out) finds it.
 */
export function createReplyRecorder(config: () => Promise<Config>, warn: (message: string) => void) {
  const runs = new Map<string, { ids: string[]; since: number }>();
  return {
    /** From agent_turn_prepare: the fleet messages in this run's prompt. */
    turnPrepared(runId: string | undefined, ids: readonly string[]): void {
      if (!runId || ids.length === 0) return;
      for (const [key, run] of runs) if (Date.now() - run.since > FORGET_AFTER_MS) runs.delete(key);
      runs.set(runId, { ids: [...(runs.get(runId)?.ids ?? []), ...ids], since: Date.now() });
    },
    /** From agent_end: store the run's answer for each of them. */
    async turnEnded(runId: string | undefined, messages: readonly unknown[], success: boolean): Promise<void> {
      const run = runId ? runs.get(runId) : undefined;
      if (!run || !runId) return;
      runs.delete(runId);
      const text = success ? finalAssistantText(messages) : undefined;
      if (!text) return;
      const settings = await config();
      if (!settings.nats) return;
      const lease = leaseFleet(settings.nats);
      try {
        const replies = await lease.fleet.bucket(lease.fleet.names.replies, REPLY_TTL_MS);
        const reply: StoredReply = { text, by: settings.self.name, at: new Date().toISOString() };
        for (const id of run.ids) await replies.put(receiptKey(id), JSON.stringify(reply));
      } catch (error) {
        warn(`inter-instance nats: the answer to ${run.ids.join(", ")} was not stored: ${String(error)}`);
      } finally {
        await lease.release();
      }
    },
  };
}

export type ReplyRecorder = ReturnType<typeof createReplyRecorder>;
