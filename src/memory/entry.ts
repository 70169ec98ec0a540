import type { Envelope } from "../envelope.js";

/**
 * One message in a daily note, in the seed's shape ("Notification from <sender> (HH:MM)" and the
 * body), framed by two HTML comments that are invisible when the note is rendered:
 *
 *     <!-- openclaw-inter-instance begin id="…" bytes=N -->
 *     ## Notification from xiaoa (14:05)
 *
 *     <body: exactly N bytes of UTF-8>
 *     <!-- openclaw-inter-instance end id="…" -->
 *
 * The byte count makes parsing exact: a body may contain anything, markers included, and is
 * skipped whole; an entry cut short by a crash has no end marker and is not an entry.
 */
export interface MemoryEntry {
  readonly id: string;
  readonly from: string;
  readonly time: string;
  readonly body: string;
  /** Byte offsets of the whole entry in the file. */
  readonly start: number;
  readonly end: number;
}

const BEGIN = Buffer.from("<!-- openclaw-inter-instance begin ");
const HEADER = /^<!-- openclaw-inter-instance begin id="([A-Za-z0-9._:-]+)" bytes=(\d{1,9}) -->\n## Notification from ([^\n]*) \((\d\d:\d\d)\)\n\n/u;
// A header line is short; this bounds how far the parser looks for it.
const MAX_HEADER_BYTES = 512;

function endMarker(id: string): string {
  return `\n<!-- openclaw-inter-instance end id="${id}" -->\n`;
}

export function formatEntry(envelope: Envelope, time: string): Buffer {
  const body = Buffer.from(envelope.body, "utf8");
  const head = `<!-- openclaw-inter-instance begin id="${envelope.id}" bytes=${body.length} -->\n## Notification from ${envelope.from} (${time})\n\n`;
  return Buffer.concat([Buffer.from(head, "utf8"), body, Buffer.from(endMarker(envelope.id), "utf8")]);
}

type ParsedAt = { readonly entry: MemoryEntry } | { readonly torn: true } | undefined;

function parseAt(text: Buffer, start: number): ParsedAt {
  const head = HEADER.exec(text.subarray(start, start + MAX_HEADER_BYTES).toString("utf8"));
  if (!head) return undefined;
  const [matched, id = "", bytes = "0", from = "", time = ""] = head;
  const bodyStart = start + Buffer.byteLength(matched, "utf8");
  const bodyEnd = bodyStart + Number(bytes);
  const end = Buffer.from(endMarker(id), "utf8");
  // The file ends inside an entry whose header promised more: a write cut short.
  if (bodyEnd + end.length > text.length) return { torn: true };
  if (!text.subarray(bodyEnd, bodyEnd + end.length).equals(end)) return undefined;
  return { entry: { id, from, time, body: text.subarray(bodyStart, bodyEnd).toString("utf8"), start, end: bodyEnd + end.length } };
}

export interface ParseResult {
  readonly entries: MemoryEntry[];
  /** Offset of an entry of ours that the file ends inside of (a write cut short). */
  readonly tornTailAt: number | undefined;
}

/** Finds every complete entry; other text in the note is left alone. */
export function parseEntries(text: Buffer): ParseResult {
  const entries: MemoryEntry[] = [];
  let position = 0;
  while (position < text.length) {
    const at = text.indexOf(BEGIN, position);
    if (at === -1) break;
    const parsed = parseAt(text, at);
    if (parsed && "torn" in parsed) return { entries, tornTailAt: at };
    if (parsed) {
      entries.push(parsed.entry);
      position = parsed.entry.end;
    } else {
      position = at + BEGIN.length;
    }
  }
  return { entries, tornTailAt: undefined };
}
