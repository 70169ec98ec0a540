import type { FileMeta } from "../../core/attachments/file-list.js";
import type { FileSource } from "../../core/attachments/held-files.js";
import { isImageMime } from "../../core/attachments/mime.js";
import { UnsuitableMessageError } from "../../core/errors.js";
import type { GatewayPolicy } from "../../gateway/connection.js";

/** What a Gateway that does not advertise its limits applies (OpenClaw 2026.9.x defaults). */
const DEFAULT_MAX_BYTES = 20 * 1024 * 1024;
const DEFAULT_MAX_IMAGE_BYTES = 6 * 1024 * 1024;
const DEFAULT_MAX_PAYLOAD = 25 * 1024 * 1024;
/** Room in a frame for everything but the attachments' base64 (message, keys, JSON). */
const FRAME_OVERHEAD = 64 * 1024;

/** One attachment of `sessions.send` (OpenClaw's `ChatAttachmentSchema`): the bytes as base64. */
export interface SessionAttachment {
  readonly type: "image" | "file";
  readonly mimeType: string;
  readonly fileName: string;
  readonly content: string;
  readonly origin: "file";
  readonly sizeBytes: number;
}

const mib = (bytes: number) => `${(bytes / (1024 * 1024)).toFixed(1)} MiB (${bytes.toLocaleString("en-US")} bytes)`;

/**
 * Refuses, before anything is sent, files the target's Gateway would refuse: one larger than the
 * hello's `policy.attachments` (`maxImageBytes` for images, `maxBytes` else), or a frame whose
 * base64 would pass `policy.maxPayload`. The error names the limit; the dispatcher tries the next transport.
 */
export function refuseOverLimits(files: readonly FileMeta[], messageBytes: number, policy: GatewayPolicy, instance: string): void {
  const maxBytes = policy.attachments?.maxBytes ?? DEFAULT_MAX_BYTES;
  const maxImageBytes = policy.attachments?.maxImageBytes ?? DEFAULT_MAX_IMAGE_BYTES;
  const said = policy.attachments ? "its Gateway's hello advertises" : "its Gateway does not advertise a limit; OpenClaw's default is";
  for (const file of files) {
    const image = isImageMime(file.mime);
    const limit = image ? maxImageBytes : maxBytes;
    if (file.size > limit)
      throw new UnsuitableMessageError(
        `${JSON.stringify(file.name)} is ${mib(file.size)}, larger than ${instance} takes as a session attachment: ${said} ${image ? "maxImageBytes" : "maxBytes"} ${mib(limit)}.`,
        {
          code: "TOO_LARGE_FOR_TARGET",
          hint: `The next transport that can carry files (nodes, memory_file) takes it; or raise agents.defaults.mediaMaxMb on ${instance}.`,
        },
      );
  }
  const maxPayload = policy.maxPayload ?? DEFAULT_MAX_PAYLOAD;
  const frame = files.reduce((sum, file) => sum + 4 * Math.ceil(file.size / 3), messageBytes + FRAME_OVERHEAD);
  if (frame > maxPayload)
    throw new UnsuitableMessageError(
      `The files of this message take about ${mib(frame)} as base64, more than one frame to ${instance} may carry (policy.maxPayload ${mib(maxPayload)}).`,
      {
        code: "TOO_LARGE_FOR_TARGET",
        hint: "The next transport that can carry files (nodes, memory_file) takes this one; or send fewer or smaller files per message.",
      },
    );
}

/** The files as `sessions.send` attachments (images as images, for models that take them). */
export async function sessionAttachments(files: readonly FileMeta[], source: FileSource | undefined): Promise<SessionAttachment[]> {
  if (!source)
    throw new UnsuitableMessageError("The bytes of this message's files are not available to this transport.", {
      code: "INTEGRITY_FAILURE",
      hint: "Send it through link.send with files.",
    });
  return Promise.all(
    files.map(async (file) => ({
      type: isImageMime(file.mime) ? ("image" as const) : ("file" as const),
      mimeType: file.mime,
      fileName: file.name,
      content: Buffer.from(await source(file)).toString("base64"),
      origin: "file" as const,
      sizeBytes: file.size,
    })),
  );
}
