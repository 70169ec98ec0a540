import { spawn } from "node:child_process";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { type MemoryEntry, parseEntries } from "../../src/transports/memory-file/entry.js";
import { openclawEntry, openclawOnHost, type TestGateway } from "./gateway.js";
import type { ModelWitness } from "./mock-model.js";
import { gatewayRequest } from "./rpc.ts";

export { gatewayRequest, openclawOnHost };

/**
 * Test oracles that read a Gateway back without going through the library's own client: OpenClaw's
 * reference client as the Gateway's local backend helper, the `openclaw` CLI, and the files.
 */

export interface HistoryMessage {
  readonly role: string;
  readonly content: unknown;
  readonly idempotencyKey?: string;
  /** Milliseconds since the epoch, when the Gateway stored it. */
  readonly timestamp?: number;
  readonly __openclaw?: { readonly runId?: string; readonly seq?: number; readonly id?: string; readonly truncated?: boolean };
}

const SIGNATURE_LINE =
  /\n\[openclaw-inter-instance signature to=\S+ created=\S+(?: redelivery=\d+)?(?: conversation=\S+ hop=\d+)?(?: reply-to=\S+)?(?: task)? sig=(?:[0-9a-f]{128}|[A-Za-z0-9_-]{86})\]$/u;

/** A session message as sent before signing: the text without its last line, the sender's signature (checked elsewhere). */
export function withoutSignatureLine(text: string): string {
  return text.replace(SIGNATURE_LINE, "");
}

export function textOf(content: unknown): string {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) return content.map((part) => (part && typeof part === "object" && "text" in part ? String(part.text) : "")).join("");
  return "";
}

export async function readHistory(gateway: TestGateway, sessionKey = "agent:main:main", limit = 200): Promise<HistoryMessage[]> {
  const result = await gatewayRequest<{ messages: HistoryMessage[] }>(gateway, "chat.history", { sessionKey, limit });
  return result.messages;
}

/**
 * The text of every user row, whole: `chat.history` cuts long rows for display (about 8,000
 * characters), `chat.message.get` reads one back whole up to its own cap of 1,000,000.
 */
export async function readUserTexts(gateway: TestGateway, sessionKey = "agent:main:main", limit = 1000): Promise<string[]> {
  const texts: string[] = [];
  for (const row of await readHistory(gateway, sessionKey, limit)) {
    if (row.role !== "user") continue;
    if (!row.__openclaw?.truncated || !row.__openclaw.id) {
      texts.push(textOf(row.content));
      continue;
    }
    // A stored row never changes: polls read each long one whole once (every read costs the Gateway CPU).
    const key = `${gateway.url} ${gateway.stateDir} ${sessionKey} ${row.__openclaw.id}`;
    let whole = wholeRows.get(key);
    if (whole === undefined) {
      const answer = await gatewayRequest<{ message?: HistoryMessage }>(gateway, "chat.message.get", { sessionKey, messageId: row.__openclaw.id }, 60_000);
      whole = textOf(answer.message?.content);
      if (answer.message) wholeRows.set(key, whole);
    }
    texts.push(whole);
  }
  return texts;
}

const wholeRows = new Map<string, string>();

/**
 * The session messages (header line, then body) that did not reach the agent verbatim exactly
 * once: each header must be in the transcript once (a collected turn may hold several messages in
 * one row), the whole text in a stored row as the Gateway keeps it (read back whole), and in what
 * the model was given. Empty when every one arrived.
 */
export async function notVerbatimOnce(gateway: TestGateway, model: ModelWitness, texts: readonly string[], sessionKey?: string): Promise<string[]> {
  // A queue-overflow summary quotes a dropped message's header; the message itself is not there.
  const rows = (await readUserTexts(gateway, sessionKey)).filter((text) => !text.startsWith("[Queue overflow]"));
  const transcript = rows.join("\n");
  const headerCount = (text: string) => transcript.split(text.slice(0, text.indexOf("\n"))).length - 1;
  // chat.message.get reads a row back whole only up to 1,000,000 characters; a longer one is checked in what the model was given.
  const stored = (text: string) => text.length > MESSAGE_GET_CAP || rows.some((row) => row.includes(text));
  const seen = await model.seenAsUser(texts);
  return texts
    .map((text, index) => ({ text, count: headerCount(text), kept: stored(text), seen: seen[index] }))
    .filter(({ count, kept, seen }) => count !== 1 || !kept || !seen)
    .map(
      ({ text, count, kept, seen }) =>
        `${count}x in transcript, ${kept ? "stored whole" : "not stored as sent"}, model ${seen ? "saw it" : "did not see it"}: ${JSON.stringify(text.slice(0, 120))}`,
    );
}

const MESSAGE_GET_CAP = 1_000_000;

/** Waits for a run to end and returns the agent's visible reply, if any. */
export async function waitForRun(gateway: TestGateway, runId: string, timeoutMs = 60_000): Promise<{ status: string; text?: string }> {
  const result = await gatewayRequest<{ status: string; terminalReply?: { text?: string } }>(gateway, "agent.wait", { runId, timeoutMs }, timeoutMs + 10_000);
  return { status: result.status, ...(result.terminalReply?.text === undefined ? {} : { text: result.terminalReply.text }) };
}

/** Every inter-instance entry in the workspace's daily notes. */
export async function readMemoryEntries(workspace: string): Promise<MemoryEntry[]> {
  const dir = join(workspace, "memory");
  const names = await readdir(dir).catch(() => [] as string[]);
  const entries: MemoryEntry[] = [];
  for (const name of names.filter((n) => /^\d{4}-\d{2}-\d{2}\.md$/u.test(n)).sort()) {
    entries.push(...parseEntries(await readFile(join(dir, name))).entries);
  }
  return entries;
}

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the real `openclaw` CLI against the Gateway's state dir (what an operator would type there). */
export function openclawCli(gateway: TestGateway, args: readonly string[], timeoutMs = 90_000): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [openclawEntry, ...args], { env: gateway.cliEnv(), stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
