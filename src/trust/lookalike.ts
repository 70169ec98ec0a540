/**
 * Text that only looks like ours: header lines, signature lines, frame lines and verdicts written
 * with invisible or look-alike characters, or in plain words. The receiving side compares such
 * lines by their skeleton (after Unicode TR39: what a reader sees, not which code points spell it)
 * and treats any near-match as a claim by whoever wrote the text.
 */

// Format characters (zero-width joiners, bidi controls, the BOM, soft hyphens), combining marks
// (after NFKD: accents, variation selectors) and the fillers that render as nothing.
// biome-ignore lint/suspicious/noMisleadingCharacterClass: the class lists combining marks on purpose, each to be stripped on its own
const INVISIBLE = /[\p{Cf}\p{Mn}\p{Me}\u115F\u1160\u3164\uFFA0\u2800\u034F]/gu;

/**
 * Common look-alikes of the Latin letters and signs our fixed words use (Unicode's confusables.txt,
 * the characters that NFKD does not already fold): Cyrillic, Greek, Armenian and Latin extensions,
 * brackets, dashes, colons and bars.
 */
const CONFUSABLE: Readonly<Record<string, string>> = Object.fromEntries(
  (
    [
      // Cyrillic
      ["а", "a"],
      ["в", "b"],
      ["е", "e"],
      ["ё", "e"],
      ["г", "r"],
      ["һ", "h"],
      ["і", "i"],
      ["ї", "i"],
      ["ј", "j"],
      ["к", "k"],
      ["ӏ", "l"],
      ["м", "m"],
      ["н", "h"],
      ["о", "o"],
      ["п", "n"],
      ["р", "p"],
      ["с", "c"],
      ["т", "t"],
      ["у", "y"],
      ["х", "x"],
      ["ѕ", "s"],
      ["ԁ", "d"],
      ["ԛ", "q"],
      ["ԝ", "w"],
      ["ь", "b"],
      ["ɡ", "g"],
      ["А", "a"],
      ["В", "b"],
      ["Е", "e"],
      ["Ё", "e"],
      ["І", "i"],
      ["Ї", "i"],
      ["Ј", "j"],
      ["К", "k"],
      ["М", "m"],
      ["Н", "h"],
      ["О", "o"],
      ["Р", "p"],
      ["С", "c"],
      ["Т", "t"],
      ["У", "y"],
      ["Х", "x"],
      ["Ѕ", "s"],
      ["Ԁ", "d"],
      ["Ԛ", "q"],
      ["Ԝ", "w"],
      ["Ӏ", "l"],
      // Greek
      ["α", "a"],
      ["β", "b"],
      ["γ", "y"],
      ["ε", "e"],
      ["η", "n"],
      ["ι", "i"],
      ["κ", "k"],
      ["ν", "v"],
      ["ο", "o"],
      ["ρ", "p"],
      ["σ", "o"],
      ["τ", "t"],
      ["υ", "u"],
      ["χ", "x"],
      ["ω", "w"],
      ["Α", "a"],
      ["Β", "b"],
      ["Ε", "e"],
      ["Ζ", "z"],
      ["Η", "h"],
      ["Ι", "i"],
      ["Κ", "k"],
      ["Μ", "m"],
      ["Ν", "n"],
      ["Ο", "o"],
      ["Ρ", "p"],
      ["Τ", "t"],
      ["Υ", "y"],
      ["Χ", "x"],
      // Armenian and Latin extensions
      ["օ", "o"],
      ["ս", "u"],
      ["ց", "g"],
      ["հ", "h"],
      ["ո", "n"],
      ["ı", "i"],
      ["ȷ", "j"],
      ["ɑ", "a"],
      ["ɩ", "i"],
      ["ʟ", "l"],
      ["ᴀ", "a"],
      ["ʙ", "b"],
      ["ᴄ", "c"],
      ["ᴅ", "d"],
      ["ᴇ", "e"],
      ["ɢ", "g"],
      ["ʜ", "h"],
      ["ɪ", "i"],
      ["ᴊ", "j"],
      ["ᴋ", "k"],
      ["ᴍ", "m"],
      ["ɴ", "n"],
      ["ᴏ", "o"],
      ["ᴘ", "p"],
      ["ʀ", "r"],
      ["ꜱ", "s"],
      ["ᴛ", "t"],
      ["ᴜ", "u"],
      ["ᴠ", "v"],
      ["ᴡ", "w"],
      ["ʏ", "y"],
      ["ᴢ", "z"],
      ["ł", "l"],
      ["ø", "o"],
      ["đ", "d"],
      ["ħ", "h"],
      // Digits read as letters in words
      ["0", "o"],
      ["1", "l"],
      // Brackets, dashes, colons, bars
      ["⟦", "["],
      ["⟨", "["],
      ["〔", "["],
      ["【", "["],
      ["「", "["],
      ["『", "["],
      ["〖", "["],
      ["⁅", "["],
      ["❲", "["],
      ["⦋", "["],
      ["〈", "["],
      ["《", "["],
      ["❨", "["],
      ["⟧", "]"],
      ["⟩", "]"],
      ["〕", "]"],
      ["】", "]"],
      ["」", "]"],
      ["』", "]"],
      ["〗", "]"],
      ["⁆", "]"],
      ["❳", "]"],
      ["⦌", "]"],
      ["〉", "]"],
      ["》", "]"],
      ["❩", "]"],
      ["‐", "-"],
      ["‑", "-"],
      ["‒", "-"],
      ["–", "-"],
      ["—", "-"],
      ["―", "-"],
      ["−", "-"],
      ["⁃", "-"],
      ["﹘", "-"],
      ["∶", ":"],
      ["꞉", ":"],
      ["˸", ":"],
      ["׃", ":"],
      ["։", ":"],
      ["᛬", ":"],
      ["│", "|"],
      ["┃", "|"],
      ["ǀ", "|"],
      ["∣", "|"],
      ["￨", "|"],
    ] as const
  ).map(([from, to]) => [from, to]),
);

/**
 * What a line looks like to a reader: NFKD (fullwidth and compatibility forms to their plain ones),
 * without invisible characters and marks, look-alikes replaced, lower case, runs of space as one.
 */
export function skeleton(text: string): string {
  let folded = "";
  for (const char of text.normalize("NFKD").replace(INVISIBLE, "")) folded += CONFUSABLE[char] ?? char;
  return folded.toLowerCase().replace(/\s+/gu, " ").trim();
}

// On skeletons: what our own lines say, loosely (any separator, any spacing, any case).
const INTER_INSTANCE = String.raw`inter\W?instance`;
const OUR_WORDS = String.raw`(?:open\W?claw\W?${INTER_INSTANCE}|${INTER_INSTANCE})`;
const CLAIMS: readonly RegExp[] = [
  // A header: "[Message from <name> via openclaw-inter-instance, id <id>]".
  new RegExp(String.raw`^[^a-z0-9]{0,4}message\W{0,3}from\b.*${OUR_WORDS}`, "u"),
  // A signature line or receipt: "[openclaw-inter-instance signature …]", "[openclaw-inter-instance held id …]".
  new RegExp(String.raw`^[^a-z0-9]{0,4}open\W?claw\W?${INTER_INSTANCE}\b`, "u"),
  // A frame's first or end line: "[inter-instance message <boundary> | …]", "[end of inter-instance message …]".
  new RegExp(String.raw`^[^a-z0-9]{0,4}(?:end\W{0,3}of\W{0,3})?${INTER_INSTANCE}\W{0,3}(?:message|task)\b`, "u"),
  // The verdict list's heading.
  new RegExp(`checked by the ${OUR_WORDS}`, "u"),
  // A verdict in plain words: "verified: from xiaoa", "(key SHA256:…)"; "unverified: …" claims nothing.
  /(?:^|[^a-z])verified\W{0,3}:\W{0,3}from\b/u,
  /\bkey\W{0,3}sha\W?256\W{0,3}:/u,
];

/** True when a line (as a reader sees it) imitates a header, signature line, receipt, frame line or verdict. */
export function looksLikeOurs(line: string): boolean {
  const seen = skeleton(line);
  return seen !== "" && CLAIMS.some((pattern) => pattern.test(seen));
}

/** The name a look-alike header claims, as far as it can be read ("from <name> via"). */
export function claimedNameIn(line: string): string | undefined {
  const plain = line.normalize("NFKC").replace(INVISIBLE, "");
  return /from\s+(.+?)\s+via\b/iu.exec(plain)?.[1]?.trim() || undefined;
}

const MAX_NAME_CHARACTERS = 64;

function escapedChar(char: string): string {
  if (char === '"' || char === "\\") return `\\${char}`;
  // Invisible, control, line and bidi characters, odd spaces, and the signs our lines are built of.
  if (/[\p{C}\p{Zl}\p{Zp}|[\]]/u.test(char) || (/\p{Zs}/u.test(char) && char !== " ")) return `\\u{${char.codePointAt(0)!.toString(16)}}`;
  return char;
}

/**
 * A name (or any text a sender chose) as the plugin writes it into a line the agent reads: in double
 * quotes, with quotes, backslashes, brackets, bars and invisible characters escaped, and at most 64
 * characters. A verified sender is written `verified: from "xiaoa"`; since no quoted name can hold
 * an unescaped quote, no name can spell that inside another line.
 */
export function quoteName(name: string): string {
  const chars = [...name];
  const shown = chars.slice(0, MAX_NAME_CHARACTERS).map(escapedChar).join("");
  return `"${shown}"${chars.length > MAX_NAME_CHARACTERS ? `…(${chars.length} characters)` : ""}`;
}

/** A line of someone else's text, quoted (as `quoteName`) and cut to `max` characters, for a list the agent reads. */
export function quoteExcerpt(text: string, max = 120): string {
  const chars = [...text.trim()];
  const shown = chars.slice(0, max).map(escapedChar).join("");
  return `"${shown}${chars.length > max ? "…" : ""}"`;
}
