import { normalizeName } from "../config/names.js";
import type { InstanceRegistry } from "../config/registry.js";
import { lazyRequire } from "../util/lazy.js";

// Required by the first phrase: a script that never parses one does not load them.
const levenshtein = lazyRequire<typeof import("fastest-levenshtein")>("fastest-levenshtein");
const shellQuote = lazyRequire<typeof import("shell-quote")>("shell-quote");

/** What a user asked for, in words. Pure: no I/O, nothing is run. */
export type Intent =
  | { readonly action: "send"; readonly target: string; readonly body: string }
  | { readonly action: "exec"; readonly target: string; readonly argv: readonly string[] }
  | { readonly action: "sync"; readonly target: string; readonly paths: readonly string[]; readonly destination?: string }
  | { readonly action: "unknown"; readonly reason: string; readonly suggestions?: readonly string[] };

type Raw =
  | { action: "send"; target: string; body: string }
  | { action: "exec"; target: string; command: string }
  | { action: "sync"; target: string; source: string; destination?: string };

const SEPARATOR = String.raw`\s*[:：,，]?\s*`;

/** Each pattern yields the target as written and the rest; targets may be Chinese (小m) or Latin. */
const PATTERNS: readonly { readonly pattern: RegExp; readonly build: (m: RegExpExecArray) => Raw }[] = [
  // Everyone at once: "通知所有实例：…", "tell all instances …" (the group `all`, or one named so in the config).
  {
    pattern: new RegExp(String.raw`^(?:通知|告诉|提醒)\s*(?:所有|全部)(?:的)?实例${SEPARATOR}([\s\S]+)$`, "u"),
    build: (m) => ({ action: "send", target: "all", body: m[1]! }),
  },
  {
    pattern: /^(?:tell|notify|message)\s+(?:all|every)\s+(?:the\s+)?instances?\s*[:,]?\s+(?:that\s+)?([\s\S]+)$/iu,
    build: (m) => ({ action: "send", target: "all", body: m[1]! }),
  },
  {
    pattern: new RegExp(String.raw`^给\s*(.+?)\s*发(?:个|一条)?(?:消息|信息)${SEPARATOR}([\s\S]+)$`, "u"),
    build: (m) => ({ action: "send", target: m[1]!, body: m[2]! }),
  },
  {
    pattern: new RegExp(String.raw`^(?:通知|告诉|提醒)\s*(\S+?)${SEPARATOR}[:：,，\s]\s*([\s\S]+)$`, "u"),
    build: (m) => ({ action: "send", target: m[1]!, body: m[2]! }),
  },
  {
    pattern: new RegExp(String.raw`^(?:发消息|发送消息)给\s*(\S+?)${SEPARATOR}[:：,，\s]\s*([\s\S]+)$`, "u"),
    build: (m) => ({ action: "send", target: m[1]!, body: m[2]! }),
  },
  {
    pattern: /^(?:tell|message|notify|ping|send(?: a)? message to|send to|msg)\s+(\S+?)\s*[:,]?\s+(?:that\s+)?([\s\S]+)$/iu,
    build: (m) => ({ action: "send", target: m[1]!, body: m[2]! }),
  },
  {
    pattern: new RegExp(String.raw`^在\s*(.+?)\s*上\s*(?:执行|运行|跑)${SEPARATOR}([\s\S]+)$`, "u"),
    build: (m) => ({ action: "exec", target: m[1]!, command: m[2]! }),
  },
  {
    pattern: new RegExp(String.raw`^(?:让|叫)\s*(.+?)\s*(?:执行|运行|跑)${SEPARATOR}([\s\S]+)$`, "u"),
    build: (m) => ({ action: "exec", target: m[1]!, command: m[2]! }),
  },
  { pattern: /^(?:run|exec|execute)\s+([\s\S]+?)\s+on\s+(?:the\s+)?(\S+?)[.!]?$/iu, build: (m) => ({ action: "exec", target: m[2]!, command: m[1]! }) },
  { pattern: /^on\s+(\S+?)\s*[:,]?\s+(?:run|exec|execute)\s+([\s\S]+)$/iu, build: (m) => ({ action: "exec", target: m[1]!, command: m[2]! }) },
  {
    pattern: /^把\s*(.+?)\s*同步到\s*(.+?)(?:\s*(?:的|上的)\s*(\S+))?$/u,
    build: (m) => ({ action: "sync", target: m[2]!, source: m[1]!, ...(m[3] ? { destination: m[3] } : {}) }),
  },
  {
    pattern: /^同步\s*(\S+)\s*到\s*(.+?)(?:\s*(?:的|上的)\s*(\S+))?$/u,
    build: (m) => ({ action: "sync", target: m[2]!, source: m[1]!, ...(m[3] ? { destination: m[3] } : {}) }),
  },
  {
    pattern: /^(?:sync|push|copy)\s+(\S+)\s+to\s+(?:the\s+)?([^\s:]+?)(?::(\S+))?[.!]?$/iu,
    build: (m) => ({ action: "sync", target: m[2]!, source: m[1]!, ...(m[3] ? { destination: m[3] } : {}) }),
  },
];

const EVERYONE = new Set(["所有实例", "全部实例", "所有的实例", "所有人", "all instances", "every instance"]);

function trimTarget(target: string): string {
  if (EVERYONE.has(target.trim().toLowerCase())) return "all";
  return target.replace(/^(?:the|instance|实例)\s*/iu, "").trim();
}

/**
 * Splits a command the way a user typed it into argv, without ever handing it to a shell. Shell
 * operators (`;`, `&&`, `|`, `>`), substitutions and globs are refused: each step is its own argv.
 */
export function splitCommand(command: string): { argv: string[] } | { error: string } {
  const tokens = shellQuote().parse(command, (name) => `$${name}`);
  const argv: string[] = [];
  for (const token of tokens) {
    if (typeof token === "string") argv.push(token);
    else if ("op" in token && token.op === "glob") argv.push(token.pattern);
    else return { error: `"${"op" in token ? token.op : "comment"}" is shell syntax; give one command per step, without a shell` };
  }
  if (command.includes("$(") || command.includes("`")) return { error: "command substitution is shell syntax; give the command itself" };
  return argv.length > 0 ? { argv } : { error: "no command given" };
}

/** Finds the intent in a phrase; with a registry, the target must name a configured instance. */
export function parsePhrase(phrase: string, registry?: InstanceRegistry): Intent {
  const text = phrase.trim();
  for (const { pattern, build } of PATTERNS) {
    const match = pattern.exec(text);
    if (!match) continue;
    const raw = build(match);
    const target = trimTarget(raw.target);
    if (registry && !registry.find(target) && !registry.group(target)) {
      const labels = registry.labels();
      const folded = normalizeName(target);
      const near = labels
        .map((label) => ({ label, d: levenshtein().distance(normalizeName(label), folded) }))
        .filter((x) => x.d <= Math.max(2, Math.floor(folded.length / 2)))
        .sort((a, b) => a.d - b.d)
        .map((x) => x.label);
      const suggestions = near.length > 0 ? near.slice(0, 3) : labels.length > 0 ? [levenshtein().closest(folded, labels)] : [];
      return { action: "unknown", reason: `no instance is called "${target}"`, suggestions };
    }
    const name = registry?.find(target)?.name ?? target;
    if (raw.action === "send") return { action: "send", target: name, body: raw.body.trim() };
    if (raw.action === "sync") {
      return { action: "sync", target: name, paths: [raw.source], ...(raw.destination ? { destination: raw.destination } : {}) };
    }
    const split = splitCommand(raw.command.trim());
    if ("error" in split) return { action: "unknown", reason: split.error };
    return { action: "exec", target: name, argv: split.argv };
  }
  return { action: "unknown", reason: "not a message, command or sync request this skill understands" };
}
