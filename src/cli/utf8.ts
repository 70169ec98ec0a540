import { isUtf8 } from "node:buffer";
import { BadInput } from "./exit.js";

/** Decodes UTF-8 or refuses it with the offset of the first byte that is not: nothing is replaced by U+FFFD. */
export function decodeUtf8(bytes: Uint8Array, what: string): string {
  if (isUtf8(bytes)) return new TextDecoder().decode(bytes);
  const offset = firstInvalidUtf8Byte(bytes);
  throw new BadInput(
    `${what} is not valid UTF-8: byte ${offset} (0x${bytes[offset]?.toString(16).padStart(2, "0") ?? "end"}) starts no valid character; convert it first, e.g. with iconv -t UTF-8`,
  );
}

/** The offset of the first byte that does not belong to a well-formed UTF-8 sequence (RFC 3629), or -1. */
export function firstInvalidUtf8Byte(bytes: Uint8Array): number {
  let i = 0;
  while (i < bytes.length) {
    const lead = bytes[i]!;
    if (lead < 0x80) {
      i += 1;
      continue;
    }
    const length = lead >= 0xc2 && lead <= 0xdf ? 2 : lead >= 0xe0 && lead <= 0xef ? 3 : lead >= 0xf0 && lead <= 0xf4 ? 4 : 0;
    if (length === 0 || i + length > bytes.length) return i;
    const second = bytes[i + 1]!;
    // Overlong forms, UTF-16 surrogates and code points past U+10FFFF are excluded by the second byte's range.
    const low = lead === 0xe0 ? 0xa0 : lead === 0xf0 ? 0x90 : 0x80;
    const high = lead === 0xed ? 0x9f : lead === 0xf4 ? 0x8f : 0xbf;
    if (second < low || second > high) return i;
    for (let k = 2; k < length; k += 1) if ((bytes[i + k]! & 0xc0) !== 0x80) return i;
    i += length;
  }
  return -1;
}
