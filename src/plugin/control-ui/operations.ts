// The Instances page's backend operations, as the page and the Gateway both know them. Browser
// safe: it imports only types. What they return is plain JSON: an absent field is left out, never
// undefined (the Gateway refuses a result that is not bounded JSON). The backend adds the input
// schemas (JSON Schema from the same zod schemas the agent tools use) and the handlers.
import type { AuditEntry } from "../../audit/audit-log.js";
import type { HeldMessage } from "../../inbox/held.js";

export const INSTANCES_PAGE_ID = "instances";

export const OPERATIONS = {
  overview: {
    kind: "query",
    description:
      "Every instance with each transport's last check, the route a message takes now, the outbox, dead letters, recent deliveries and held messages.",
  },
  check: { kind: "action", description: "Run the doctor's checks for one instance (or every one) now, then return the overview. Nothing is sent." },
  send: {
    kind: "action",
    description: "Send a message to an instance or a group, as the instance_send tool does; with the files of an upload (upload.begin) to one instance.",
  },
  "upload.begin": {
    kind: "action",
    description: "Announce the files of a message to send (name, size, media type), within the attachments bounds; returns the upload's id.",
  },
  "upload.part": { kind: "action", description: "The next bytes of one file of an upload, as base64, in order." },
  "upload.discard": { kind: "action", description: "Drop an upload that will not be sent." },
  "outbox.retry": { kind: "action", description: "Retry every message waiting in the outbox now, backoff or not." },
  "outbox.drop": { kind: "action", description: "Drop one message from the outbox for good." },
  "deadletters.replay": { kind: "action", description: "Send a dead letter of this instance's fleet consumer to its agent again." },
  "held.approve": { kind: "action", description: "Approve a held incoming message: it is shown to the agent once." },
  "held.refuse": { kind: "action", description: "Refuse a held incoming message: it is never shown, and the sender's receipt says refused." },
  discover: {
    kind: "query",
    description: "Look for OpenClaw Gateways on the LAN (their bonjour beacon) and in the configured wide-area DNS-SD domains. Nothing is pinned or changed.",
  },
} as const satisfies Record<string, { readonly kind: "query" | "action"; readonly description: string }>;

export type OperationId = keyof typeof OPERATIONS;

export type CheckState = "pass" | "warn" | "fail" | "skip";

/** One transport of an instance, in the order messages try them. */
export interface TransportView {
  readonly id: string;
  /** From the last doctor run; `unchecked` before the first. */
  readonly state: CheckState | "unchecked";
  readonly summary: string;
  readonly fix?: string;
  /** Its circuit is open: messages skip it until the cool-down ends. */
  readonly skippedNow?: string;
}

export interface InstanceView {
  readonly name: string;
  readonly displayName: string;
  readonly aliases: readonly string[];
  readonly transports: readonly TransportView[];
  /** The transport a message would take now (absent: it would wait in the outbox). */
  readonly route?: string;
  /** Other failing or warning checks of the last doctor run (gateway, scope, node, timeouts, …). */
  readonly otherChecks: readonly { readonly check: string; readonly state: CheckState; readonly summary: string; readonly fix?: string }[];
  /** When the doctor's checks last ran for it (absent: never yet). */
  readonly checkedAt?: string;
}

export interface WaitingView {
  readonly id: string;
  readonly to: string;
  readonly queuedAt: string;
  readonly attempts: number;
  readonly lastError: string;
  readonly nextAttemptAt: string;
}

export interface DeadLetterView {
  readonly seq: number;
  readonly id: string;
  readonly from: string;
  readonly reason: string;
}

/** A message sent or shown here (the audit log's row); `status` for an outgoing one also says what became of it. */
export type DeliveryView = Pick<AuditEntry, "at" | "direction" | "id" | "from" | "to" | "transport" | "status" | "verdict">;

/** A held incoming message, without its body; `verdict` in words. */
export type HeldView = Pick<HeldMessage, "id" | "from" | "transport" | "verdict" | "reason" | "receivedAt">;

export interface LatencyView {
  readonly transport: string;
  readonly count: number;
  readonly p50Ms: number;
  readonly p95Ms: number;
}

export interface Overview {
  readonly self: string;
  readonly at: string;
  readonly instances: readonly InstanceView[];
  readonly outbox: readonly WaitingView[];
  readonly deadLetters: readonly DeadLetterView[];
  readonly recent: readonly DeliveryView[];
  readonly held: readonly HeldView[];
  /** Per transport, over the newest attempts that got through (this Gateway's, since it started). */
  readonly latency?: readonly LatencyView[];
  /** Age of the oldest message waiting in the outbox, in seconds; absent when none waits. */
  readonly oldestWaitingSeconds?: number;
  /** Set when the config cannot be used (the page says so, with what to do). */
  readonly problem?: string;
}

/** What an action says back: a sentence for a person, and whether it worked. */
export interface ActionResult {
  readonly ok: boolean;
  readonly text: string;
  /** A send that no transport delivered yet: it waits in the outbox and is retried. */
  readonly queued?: boolean;
}

/**
 * How the page cuts a file into `upload.part` calls. OpenClaw takes at most 256 KiB of JSON per plugin
 * action, each string at most 64 Ki characters: a part is up to three base64 strings of 48 KiB each
 * (a multiple of 3 bytes, so each string is whole base64 of 64 Ki characters).
 */
export const UPLOAD_PART = { stringBytes: 49_152, stringChars: 65_536, strings: 3 } as const;

/** `upload.begin`'s answer: the upload to send the parts to and name in `send`. */
export interface UploadStarted extends ActionResult {
  readonly upload?: string;
}

/** How a discovered Gateway's advertised fingerprint stands against the configured instance's pin. */
export type PinView = "match" | "mismatch" | "no-pin" | "not-advertised";

/** One Gateway a beacon announced: what it claims (unauthenticated), and what this side has for it. */
export interface DiscoveredView {
  readonly displayName: string;
  /** `lan`, or the wide-area DNS-SD domain it is listed in. */
  readonly source: string;
  /** The same in words: "on the LAN", "in openclaw.internal". */
  readonly foundWhere: string;
  /** From its SRV/A records; absent when none came. */
  readonly address?: string;
  readonly port: number;
  readonly url?: string;
  readonly tls: boolean;
  readonly fingerprint?: string;
  readonly configured?: { readonly instance: string; readonly pin: PinView };
  /** "not configured here", "configured here as xiaom, the advertised fingerprint matches its pin", … */
  readonly status: string;
  readonly warnings: readonly string[];
  /** For one not configured here: the command that adds it (and asks to confirm its fingerprint). */
  readonly addCommand?: string;
}

export interface DiscoveryView {
  readonly gateways: readonly DiscoveredView[];
  /** Where it looked: `lan` and the domains. */
  readonly sources: readonly string[];
  readonly ignored: readonly { readonly from?: string; readonly source?: string; readonly problem: string }[];
  readonly failed: readonly { readonly source: string; readonly problem: string }[];
  /** The whole result in sentences, as the CLI's `discover` prints it. */
  readonly text: string;
  readonly timeoutMs: number;
}
