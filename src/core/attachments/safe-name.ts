/**
 * File names in messages are data, never paths: whatever a sender wrote, the name a receiver
 * writes under is one plain file name inside its incoming folder. `safeFileName` makes any string
 * such a name (and says what it changed); `uniqueFileNames` keeps names of one message apart.
 */

/** Longest safe name, in UTF-8 bytes: below the 255 of common file systems, with room for a collision suffix. */
export const MAX_NAME_BYTES = 200;

/** What a name becomes when nothing usable is left of it. */
const FALLBACK_NAME = "file";

/** Separators of every platform, and the characters Windows does not allow in names (`:` opens an NTFS stream). */
const PATH_OR_RESERVED = /[/\\:*?"<>|]/gu;
/** Control characters, bidirectional overrides and invisible format characters that could disguise a name. */
const INVISIBLE = /[\p{Cc}\p{Cf}\u2028\u2029]/gu;
/** Windows device names, with or without an extension (`CON`, `nul.txt`, `COM1`, `LPT²`). */
const DEVICE_NAME = /^(con|prn|aux|nul|clock\$|conin\$|conout\$|com[0-9¹²³]|lpt[0-9¹²³])(\.|$)/iu;
const LONGEST_KEPT_EXTENSION = 16;

export interface SafeName {
  readonly name: string;
  /** What was changed, in words (empty when the name was safe as given). */
  readonly changes: readonly string[];
}

/** The name made safe to write as one file in a folder; never empty, never a path, NFC, at most `MAX_NAME_BYTES`. */
export function safeFileName(raw: string): SafeName {
  const changes: string[] = [];
  let name = raw.isWellFormed() ? raw : raw.toWellFormed();
  if (name !== raw) changes.push("lone surrogates replaced");
  const normalized = name.normalize("NFC");
  if (normalized !== name) changes.push("normalized to Unicode NFC");
  name = normalized;
  const visible = name.replace(INVISIBLE, "");
  if (visible !== name) changes.push("control and invisible characters removed");
  name = visible;
  const flat = name.replace(PATH_OR_RESERVED, "_");
  if (flat !== name) changes.push("path separators and reserved characters replaced by _");
  name = flat;
  // Leading dots hide a file or spell `.`/`..`; trailing dots and spaces are dropped by Windows.
  const trimmed = name.replace(/^[\s.]+/u, "").replace(/[\s.]+$/u, "");
  if (trimmed !== name) changes.push("leading dots and surrounding spaces or trailing dots removed");
  name = trimmed;
  if (DEVICE_NAME.test(name)) {
    name = `_${name}`;
    changes.push("prefixed with _ (a Windows device name)");
  }
  if (Buffer.byteLength(name, "utf8") > MAX_NAME_BYTES) {
    name = truncated(name, MAX_NAME_BYTES);
    changes.push(`shortened to ${MAX_NAME_BYTES} bytes`);
  }
  if (name === "") {
    name = FALLBACK_NAME;
    changes.push(`nothing usable was left: named "${FALLBACK_NAME}"`);
  }
  return { name, changes };
}

/** Whether a name is already safe as it is (what a receiver checks before trusting a listed name as a file name). */
export function isSafeFileName(name: string): boolean {
  return safeFileName(name).changes.length === 0;
}

/** The name cut to `maxBytes` of UTF-8 on a code point boundary, keeping a short extension. */
function truncated(name: string, maxBytes: number): string {
  const dot = name.lastIndexOf(".");
  const extension = dot > 0 && name.length - dot <= LONGEST_KEPT_EXTENSION ? name.slice(dot) : "";
  const stem = name.slice(0, name.length - extension.length);
  return `${cutToBytes(stem, maxBytes - Buffer.byteLength(extension, "utf8")).replace(/[\s.]+$/u, "")}${extension}`;
}

function cutToBytes(text: string, maxBytes: number): string {
  let out = "";
  let bytes = 0;
  for (const char of text) {
    const size = Buffer.byteLength(char, "utf8");
    if (bytes + size > maxBytes) break;
    out += char;
    bytes += size;
  }
  return out;
}

/**
 * Safe names that no two files of one message share, as a case-insensitive file system (macOS,
 * Windows) would compare them: the second `build.log` becomes `build-2.log`. Names that differ only
 * by Unicode normalization are one name here (each is NFC already).
 */
export function uniqueFileNames(raw: readonly string[]): SafeName[] {
  const taken = new Set<string>();
  return raw.map((given) => {
    const safe = safeFileName(given);
    let name = safe.name;
    for (let n = 2; taken.has(foldKey(name)); n += 1) name = withSuffix(safe.name, n);
    taken.add(foldKey(name));
    return name === safe.name ? safe : { name, changes: [...safe.changes, "renamed: another file of the message has the same name"] };
  });
}

const foldKey = (name: string) => name.normalize("NFC").toLowerCase();

function withSuffix(name: string, n: number): string {
  const dot = name.lastIndexOf(".");
  const [stem, extension] = dot > 0 ? [name.slice(0, dot), name.slice(dot)] : [name, ""];
  const suffix = `-${n}`;
  const room = MAX_NAME_BYTES - Buffer.byteLength(suffix + extension, "utf8");
  return `${cutToBytes(stem, room)}${suffix}${extension}`;
}
