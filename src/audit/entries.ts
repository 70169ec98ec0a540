import type { DeliveryReport } from "../core/dispatcher.js";
import type { Envelope } from "../core/envelope.js";
import type { SenderVerdict } from "../trust/frame.js";
import type { AuditEntry } from "./audit-log.js";

/** What the log keeps of a report this sender got: never a token (reports carry none), the body only when asked. */
export function outboundEntry(envelope: Envelope, report: DeliveryReport, signed: boolean, bodies: boolean): AuditEntry {
  return {
    at: new Date().toISOString(),
    direction: "out",
    id: envelope.id,
    from: envelope.from,
    to: report.to,
    transport: report.via ?? "none",
    status: report.repeatOf ? "repeat" : report.status,
    verdict: signed ? "signed" : "unsigned",
    bytes: Buffer.byteLength(envelope.body, "utf8"),
    ...(bodies ? { body: envelope.body } : {}),
  };
}

/** What the log keeps of a message shown to this instance's agent, with the verdict it was shown with. */
export function inboundEntry(
  message: { id: string; to: string; body: string; transport: string; status: string },
  verdict: SenderVerdict,
  bodies: boolean,
): AuditEntry {
  return {
    at: new Date().toISOString(),
    direction: "in",
    id: message.id,
    from: verdict.verified ? verdict.from : verdict.claimedFrom,
    to: message.to,
    transport: message.transport,
    status: message.status,
    verdict: verdict.verified ? "verified" : `unverified: ${verdict.reason}`,
    bytes: Buffer.byteLength(message.body, "utf8"),
    ...(bodies ? { body: message.body } : {}),
  };
}
