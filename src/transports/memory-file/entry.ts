import { createHash } from "node:crypto";
import type { FileMeta } from "../../core/attachments/file-list.js";
import { incomingFilePath } from "../../core/attachments/incoming-files.js";
import { decodeFileList, encodeFileList } from "../../core/attachments/wire.js";
import type { Envelope } from "../../core/envelope.js";
import { incomingFilesDir } from "../nodes/incoming.js";

/**
 * One message in a daily note, in the seed's shape ("Notification from <sender> (HH:MM)" and the
 * body), framed by two HTML comments that are invisible when the note is rendered:
 *
 *     <!-- openclaw-inter-instance begin id="…" bytes=N sum=S -->
 *     ## Notification from xiaoa (14:05)
 *
 *     ````text
 *     <body: exactly N bytes of UTF-8>
 *     ````
 *     <!-- openclaw-inter-instance end id="…" -->
 *
 * The byte count makes parsing exact: a body may contain anything, markers included, and is
 * skipped whole. The fence (longer than any run of backticks in the body) keeps Markdown readers,
 * OpenClaw's memory index among them, from taking a line of the body for a heading.
 *
 * The note is a shared file that people and tools edit. When an editor changed its line ends or
 * trimmed trailing whitespace, the byte count no longer lands on the end marker; the entry then
 * reaches to the last end marker with its id, and is taken as it now reads only when `sum` (a hash
 * of the body with line ends and trailing whitespace normalized) still matches. Either way the
 * parser resumes after it: a body never turns into entries.
 */
export interface MemoryEntry {
  readonly id: string;
  readonly from: string;
  readonly time: string;
  readonly body: string;
  /** Byte offsets of the whole entry in the file. */
  readonly start: number;
  readonly end: number;
  /** True when the entry no longer has the bytes it was written with (line ends or trailing whitespace changed since). */
  readonly altered?: boolean;
  /** The sender's signature and the fields it covers that the note does not otherwise show. */
  readonly signed?: EntrySignature;
}

export interface EntrySignature {
  readonly to: string;
  readonly createdAt: string;
  readonly redelivery?: number;
  readonly conversation?: string;
  readonly hop?: number;
  readonly replyTo?: string;
  readonly task?: true;
  /** The files the signature lists (their bytes are in the incoming folder, `incomingFilesDir`). */
  readonly files?: readonly FileMeta[];
  readonly signature: string;
}

const BEGIN = Buffer.from("<!-- openclaw-inter-instance begin ");
const HEADER =
  /^<!-- openclaw-inter-instance begin id="([A-Za-z0-9._:-]+)" bytes=(\d{1,9})(?: sum=([0-9a-f]{16}))?(?: to="([^"\s]{1,400})" created="([0-9T:.Z+-]{10,40})"(?: redelivery=(\d{1,4}))?(?: conversation="([A-Za-z0-9._:-]{8,128})" hop=(\d{1,4}))?(?: reply-to="([A-Za-z0-9._:-]{8,128})")?(?: (task))?(?: files="([A-Za-z0-9_-]{1,65536})")? sig="([A-Za-z0-9_-]{86})")? -->[ \t]*\r?\n## Notification from ([^\r\n]*?) \((\d\d:\d\d)\)[ \t]*\r?\n[ \t]*\r?\n(?:(`{3,})text[ \t]*\r?\n)?/u;
// A header is short (but for a file list); this bounds how far the parser looks for it.
const MAX_HEADER_BYTES = 1024;
const MAX_FILES_HEADER_BYTES = 96 * 1024;

const endMarker = (id: string) => `<!-- openclaw-inter-instance end id="${id}" -->`;

/** The end of an entry whose write never finished, so the entries after it parse. */
export function sealFor(id: string): Buffer {
  return Buffer.from(`\n${endMarker(id)}\n`, "utf8");
}

/** The body as an editor may leave it: LF line ends, no trailing whitespace on any line or at the end. */
function normalized(body: string): string {
  return body
    .replace(/\r\n?/gu, "\n")
    .split("\n")
    .map((line) => line.replace(/[ \t]+$/u, ""))
    .join("\n")
    .replace(/\n+$/u, "");
}

function bodySum(body: string): string {
  return createHash("sha256").update(normalized(body)).digest("hex").slice(0, 16);
}

function fenceFor(body: string): string {
  const longestRun = Math.max(0, ...(body.match(/`+/gu) ?? []).map((run) => run.length));
  return "`".repeat(Math.max(3, longestRun + 1));
}

/**
 * A signed envelope's signature and the fields it covers; `to` percent-encoded, so no name can end
 * the comment. A redelivery is the same entry (its number is not signed); entries written before
 * this change may say `redelivery=N`, which their signature covers, and still parse.
 */
function signatureAttributes(envelope: Envelope): string {
  if (!envelope.signature) return "";
  const conversation = envelope.conversation ? ` conversation="${envelope.conversation}" hop=${envelope.hop ?? 1}` : "";
  const reply = `${envelope.replyTo ? ` reply-to="${envelope.replyTo}"` : ""}${envelope.task ? " task" : ""}`;
  const files = envelope.files ? ` files="${encodeFileList(envelope.files)}"` : "";
  return ` to="${encodeURIComponent(envelope.to)}" created="${envelope.createdAt}"${conversation}${reply}${files} sig="${envelope.signature}"`;
}

interface SignatureMatch {
  readonly to: string | undefined;
  readonly createdAt: string | undefined;
  readonly redelivery: string | undefined;
  readonly conversation: string | undefined;
  readonly hop: string | undefined;
  readonly replyTo: string | undefined;
  readonly task: string | undefined;
  readonly files: string | undefined;
  readonly signature: string | undefined;
}

function signatureOf({ to, createdAt, redelivery, conversation, hop, replyTo, task, files, signature }: SignatureMatch): { signed?: EntrySignature } {
  if (to === undefined || createdAt === undefined || signature === undefined) return {};
  const listed = files === undefined ? undefined : decodeFileList(files);
  // A list that does not decode signs nothing: the entry reads as unsigned.
  if (files !== undefined && !listed) return {};
  let decoded: string;
  try {
    decoded = decodeURIComponent(to);
  } catch {
    return {};
  }
  return {
    signed: {
      to: decoded,
      createdAt,
      ...(redelivery ? { redelivery: Number(redelivery) } : {}),
      ...(conversation ? { conversation, hop: Number(hop) } : {}),
      ...(replyTo ? { replyTo } : {}),
      ...(task ? { task: true as const } : {}),
      ...(listed ? { files: listed } : {}),
      signature,
    },
  };
}

export function formatEntry(envelope: Envelope, time: string): Buffer {
  const body = Buffer.from(envelope.body, "utf8");
  const fence = fenceFor(envelope.body);
  const head =
    `<!-- openclaw-inter-instance begin id="${envelope.id}" bytes=${body.length} sum=${bodySum(envelope.body)}${signatureAttributes(envelope)} -->\n` +
    `## Notification from ${envelope.from} (${time})\n\n${fence}text\n`;
  return Buffer.concat([Buffer.from(head, "utf8"), body, Buffer.from(`\n${fence}\n${endMarker(envelope.id)}\n${filesLine(envelope)}`, "utf8")]);
}

/**
 * For a reader without the plugin: where the message's files are, on a line after the entry (note
 * text, not part of it; the plugin checks the signed list instead).
 */
function filesLine(envelope: Envelope): string {
  if (!envelope.files) return "";
  const where = (file: FileMeta) => `${JSON.stringify(file.name)} (${file.size} bytes, ${file.mime}) at ${incomingFilePath(incomingFilesDir(""), file)}`;
  return `Files with message ${envelope.id}: ${envelope.files.map(where).join("; ")}\n`;
}

type ParsedAt =
  | { readonly entry: MemoryEntry }
  /** Framed by us but not usable (changed beyond line ends and whitespace): skipped whole. */
  | { readonly damaged: { readonly id: string; readonly end: number } }
  /** The file ends inside the bytes it promised and no end marker of its id follows: a write that never finished. */
  | { readonly torn: { readonly id: string } }
  | undefined;

function parseAt(text: Buffer, start: number): ParsedAt {
  const first = text.subarray(start, start + MAX_HEADER_BYTES).toString("utf8");
  const window = first.includes(' files="') && !first.includes("-->") ? text.subarray(start, start + MAX_FILES_HEADER_BYTES).toString("utf8") : first;
  const head = HEADER.exec(window);
  if (!head) return undefined;
  const [matched, id = "", bytes = "0", sum, to, createdAt, redelivery, conversation, hop, replyTo, task, files, signature, from = "", time = "", fence] = head;
  const signed = signatureOf({ to, createdAt, redelivery, conversation, hop, replyTo, task, files, signature });
  const bodyStart = start + Buffer.byteLength(matched, "utf8");
  const bodyEnd = bodyStart + Number(bytes);
  const exactEnd = Buffer.from(`\n${fence ? `${fence}\n` : ""}${endMarker(id)}\n`, "utf8");
  if (text.subarray(bodyEnd, bodyEnd + exactEnd.length).equals(exactEnd)) {
    return { entry: { id, from, time, body: text.subarray(bodyStart, bodyEnd).toString("utf8"), start, end: bodyEnd + exactEnd.length, ...signed } };
  }
  const marker = Buffer.from(endMarker(id), "utf8");
  const markerAt = text.lastIndexOf(marker);
  if (markerAt < bodyStart) {
    if (bodyEnd + exactEnd.length > text.length) return { torn: { id } };
    // Its end marker is gone but the file holds all the bytes it promised: skip those.
    return { damaged: { id, end: bodyEnd } };
  }
  const afterMarker = /^[ \t]*\r?\n/u.exec(text.subarray(markerAt + marker.length, markerAt + marker.length + 8).toString("utf8"));
  const end = markerAt + marker.length + (afterMarker ? Buffer.byteLength(afterMarker[0], "utf8") : 0);
  let candidate = text.subarray(bodyStart, markerAt).toString("utf8");
  candidate = fence ? candidate.replace(new RegExp(`\\r?\\n[ \\t]*${fence}[ \\t]*\\r?\\n?$`, "u"), "") : candidate.replace(/\r?\n$/u, "");
  if (sum !== undefined && bodySum(candidate) === sum) return { entry: { id, from, time, body: candidate, start, end, altered: true, ...signed } };
  return { damaged: { id, end } };
}

export interface ParseResult {
  readonly entries: MemoryEntry[];
  /** Offset and id of an entry of ours that the file ends inside of (a write cut short). */
  readonly tornTail: { readonly at: number; readonly id: string } | undefined;
}

/** Finds every complete entry; other text in the note is left alone. */
export function parseEntries(text: Buffer): ParseResult {
  const entries: MemoryEntry[] = [];
  let position = 0;
  while (position < text.length) {
    const at = text.indexOf(BEGIN, position);
    if (at === -1) break;
    const parsed = parseAt(text, at);
    if (parsed && "torn" in parsed) return { entries, tornTail: { at, id: parsed.torn.id } };
    if (parsed && "entry" in parsed) {
      entries.push(parsed.entry);
      position = parsed.entry.end;
    } else if (parsed) {
      position = parsed.damaged.end;
    } else {
      position = at + BEGIN.length;
    }
  }
  return { entries, tornTail: undefined };
}
