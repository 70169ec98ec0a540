import type { OpenClawPluginApi } from "openclaw/plugin-sdk/plugin-entry";
import type { DeliveryReport } from "../core/dispatcher.js";
import type { Envelope } from "../core/envelope.js";
import { heartbeatWaker, queueIntoNextTurn } from "./next-turn.js";
import { agentWorkspace } from "./workspace.js";

const PREVIEW_LENGTH = 120;
const RETRY_MS = 30_000;
const MAX_TRIES = 10;

/** What the owner's agent is told when a message it sent is lost for good. */
export function lostNoticeText(report: DeliveryReport, envelope: Envelope): string {
  const preview = envelope.body.length > PREVIEW_LENGTH ? `${envelope.body.slice(0, PREVIEW_LENGTH)}…` : envelope.body;
  const why = report.followUp?.at(-1)?.reason ?? "lost by the target after it accepted the message";
  return [
    `[openclaw-inter-instance notice] A message sent to ${envelope.to} never reached its agent (id ${envelope.id}).`,
    `Its Gateway accepted it and then dropped it; the redeliveries did not get it there (${why}).`,
    `It began: ${JSON.stringify(preview)}`,
    `Tell your owner. If it still matters, send it again, or check ${envelope.to}'s Gateway (\`openclaw inter-instance doctor ${envelope.to}\`).`,
  ].join("\n");
}

/**
 * The plugin's `onLost`: a warning in the Gateway log, and a notice in the owner's session's next
 * turn (tried again for a few minutes while that session cannot take it).
 */
export function createLostNotifier(api: OpenClawPluginApi, ownerSession: () => string): (report: DeliveryReport, envelope: Envelope) => void {
  return (report, envelope) => {
    const text = lostNoticeText(report, envelope);
    api.logger.warn(text.replaceAll("\n", " "));
    const sessionKey = ownerSession();
    const workspace = agentWorkspace(api);
    const target = { sessionKey, workspace, wake: heartbeatWaker(api, sessionKey) };
    const attempt = (tries: number): void => {
      void queueIntoNextTurn(api, api.logger, target, { id: `lost-${envelope.id}`, from: "the inter-instance outbox", text }).then(
        (queued) => {
          if (!queued && tries < MAX_TRIES) setTimeout(() => attempt(tries + 1), RETRY_MS).unref();
        },
        (error: unknown) => api.logger.warn(`inter-instance: could not tell the owner about lost message ${envelope.id}: ${String(error)}`),
      );
    };
    attempt(1);
  };
}
