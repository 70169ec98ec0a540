import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** One chat-completions request as the mock model received it. */
export interface MockModelRequest {
  readonly receivedAt: number;
  readonly body: ChatCompletionRequest;
}

export interface ChatMessage {
  role: string;
  content?: unknown;
}

/** A scripted tool call: OpenClaw 2026.9 exposes plugin tools through its `tool_call` meta-tool. */
export interface MockToolCall {
  readonly tool: string;
  readonly args: Record<string, unknown>;
}

/**
 * The script: a user turn "给<name>发消息：<text>" makes the model call `instance_send` ("委托<name>：<task>",
 * `instance_delegate`); the turn
 * after a tool result answers "ACK tool". Everything else gets `mockReplyFor`.
 */
export function mockToolCallFor(lastUserText: string): MockToolCall | undefined {
  // "委托<name>：<task>" hands the task over (instance_delegate); "DEADLINE:<s>" in it sets the deadline.
  const delegated = /委托(\S+?)[:：]\s*([^\n]+)/u.exec(lastUserText);
  if (delegated) {
    const deadline = /DEADLINE:(\d{1,6})/u.exec(delegated[2]!)?.[1];
    return { tool: "instance_delegate", args: { to: delegated[1], task: delegated[2]!.trim(), ...(deadline ? { deadline: Number(deadline) } : {}) } };
  }
  const match = /给(\S+?)发消息[:：]\s*([^\n]+)/u.exec(lastUserText);
  return match ? { tool: "instance_send", args: { to: match[1], message: match[2]?.trim() } } : undefined;
}

export interface ChatCompletionRequest {
  model?: string;
  stream?: boolean;
  messages?: ChatMessage[];
}

/** What the model was given, asked of a mock in this process or of the run's shared one (over HTTP). */
export interface ModelWitness {
  /** For each text: whether some request carried it inside a user message. */
  seenAsUser(texts: readonly string[]): Promise<boolean[]>;
  /** How many requests had a last real user message (not OpenClaw's internal context) containing `marker`. */
  turnsEndingWith(marker: string): Promise<number>;
}

export interface MockModelServer extends ModelWitness {
  readonly url: string;
  readonly port: number;
  /** The requests it answered. */
  readonly requests: readonly MockModelRequest[];
  /** The requests it refused as larger than its context window. */
  readonly refused: readonly MockModelRequest[];
  /** The text the mock answers for a given last user text (deterministic). */
  replyFor(lastUserText: string): string;
  close(): Promise<void>;
}

function textOf(content: unknown): string {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) {
    return content.map((part) => (part && typeof part === "object" && "text" in part ? String((part as { text: unknown }).text) : "")).join("");
  }
  return "";
}

/** The deterministic reply: echoes the first `REPLY:<tag>` marker of the last user message, else `ACK`. */
export function mockReplyFor(lastUserText: string): string {
  const tag = /REPLY:([A-Za-z0-9_-]{1,64})/u.exec(lastUserText)?.[1];
  return tag ? `ACK ${tag}` : "ACK";
}

/** The newest user turn, past the internal-context messages OpenClaw appends after it. */
function lastUserText(body: ChatCompletionRequest): string {
  const users = (body.messages ?? []).filter((m) => m.role === "user").map((m) => textOf(m.content));
  return users.findLast((text) => !text.startsWith("<<<BEGIN_OPENCLAW_INTERNAL_CONTEXT>>>")) ?? "";
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
}

function answerToolCall(res: ServerResponse, body: ChatCompletionRequest, call: MockToolCall): void {
  const id = `chatcmpl-mock-${Date.now()}`;
  const created = Math.floor(Date.now() / 1000);
  const model = body.model ?? "mock-1";
  const toolCall = {
    index: 0,
    id: `call_${Date.now()}`,
    type: "function",
    function: { name: "tool_call", arguments: JSON.stringify({ id: call.tool, args: call.args }) },
  };
  if (!body.stream) {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(
      JSON.stringify({
        id,
        object: "chat.completion",
        created,
        model,
        choices: [{ index: 0, message: { role: "assistant", content: null, tool_calls: [toolCall] }, finish_reason: "tool_calls" }],
      }),
    );
    return;
  }
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" });
  const chunk = (delta: object, finish: string | null, extra: object = {}) =>
    `data: ${JSON.stringify({ id, object: "chat.completion.chunk", created, model, choices: [{ index: 0, delta, finish_reason: finish }], ...extra })}\n\n`;
  res.write(chunk({ role: "assistant", tool_calls: [toolCall] }, null));
  res.write(chunk({}, "tool_calls", { usage: { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 } }));
  res.end("data: [DONE]\n\n");
}

function answer(res: ServerResponse, body: ChatCompletionRequest, text: string): void {
  const id = `chatcmpl-mock-${Date.now()}`;
  const created = Math.floor(Date.now() / 1000);
  const model = body.model ?? "mock-1";
  const usage = { prompt_tokens: 1, completion_tokens: 1, total_tokens: 2 };
  if (!body.stream) {
    res.writeHead(200, { "content-type": "application/json" });
    res.end(
      JSON.stringify({
        id,
        object: "chat.completion",
        created,
        model,
        choices: [{ index: 0, message: { role: "assistant", content: text }, finish_reason: "stop" }],
        usage,
      }),
    );
    return;
  }
  res.writeHead(200, { "content-type": "text/event-stream", "cache-control": "no-cache", connection: "keep-alive" });
  const chunk = (delta: object, finish: string | null, extra: object = {}) =>
    `data: ${JSON.stringify({ id, object: "chat.completion.chunk", created, model, choices: [{ index: 0, delta, finish_reason: finish }], ...extra })}\n\n`;
  res.write(chunk({ role: "assistant", content: text }, null));
  res.write(chunk({}, "stop", { usage }));
  res.end("data: [DONE]\n\n");
}

/** The prompt's size in tokens as the mock counts them: a token per three bytes of UTF-8 (CJK is three bytes a character). */
export function promptTokens(messages: readonly ChatMessage[]): number {
  return Math.ceil(messages.reduce((bytes, message) => bytes + Buffer.byteLength(textOf(message.content), "utf8"), 0) / 3);
}

export interface MockModelOptions {
  /** The address to listen on (127.0.0.1 unless set), e.g. the root side of a test host's link, so only that host reaches it. */
  readonly address?: string;
  /** Refuse prompts larger than this many tokens, as a real provider does (HTTP 400 `context_length_exceeded`). */
  readonly contextWindow?: number;
  /** An agent that always answers: a user turn containing PINGPONG makes it `instance_send` PINGPONG to this instance. */
  readonly pingPongTo?: string;
  /** Answer at once even when the text says SLOW:<ms> (that marker is then meant for the agent it is passed on to). */
  readonly ignoreSlow?: boolean;
}

/** Starts an OpenAI-compatible chat-completions server on 127.0.0.1 with deterministic replies. */
export async function startMockModel(options: MockModelOptions = {}): Promise<MockModelServer> {
  const requests: MockModelRequest[] = [];
  const refused: MockModelRequest[] = [];
  const server: Server = createServer((req, res) => {
    void (async () => {
      if (req.method === "GET" && req.url?.startsWith("/v1/models")) {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ object: "list", data: [{ id: "mock-1", object: "model" }] }));
        return;
      }
      if (req.method === "POST" && req.url?.startsWith("/__witness/")) {
        const asked = JSON.parse(await readBody(req)) as { texts?: string[]; marker?: string };
        const answer = req.url === "/__witness/seen" ? seenAsUser(requests, asked.texts ?? []) : turnsEndingWith(requests, asked.marker ?? "");
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify(answer));
        return;
      }
      if (req.method !== "POST" || !req.url?.startsWith("/v1/chat/completions")) {
        res.writeHead(404).end();
        return;
      }
      const body = JSON.parse(await readBody(req)) as ChatCompletionRequest;
      const messages = body.messages ?? [];
      const tokens = promptTokens(messages);
      if (options.contextWindow !== undefined && tokens > options.contextWindow) {
        refused.push({ receivedAt: Date.now(), body });
        res.writeHead(400, { "content-type": "application/json" });
        res.end(
          JSON.stringify({
            error: {
              message: `This model's maximum context length is ${options.contextWindow} tokens. However, your messages resulted in ${tokens} tokens. Please reduce the length of the messages.`,
              type: "invalid_request_error",
              param: "messages",
              code: "context_length_exceeded",
            },
          }),
        );
        return;
      }
      requests.push({ receivedAt: Date.now(), body });
      const lastRealUser = messages.findLastIndex((m) => m.role === "user" && !textOf(m.content).startsWith("<<<BEGIN_OPENCLAW_INTERNAL_CONTEXT>>>"));
      if (messages.slice(lastRealUser + 1).some((m) => m.role === "tool")) {
        answer(res, body, "ACK tool");
        return;
      }
      // "SLOW:<ms>" holds the answer back, for timeout tests; a client that gives up closes the socket.
      const slowMs = options.ignoreSlow ? 0 : Number(/SLOW:(\d{1,6})/u.exec(lastUserText(body))?.[1] ?? 0);
      if (slowMs > 0) await new Promise((resolve) => setTimeout(resolve, slowMs));
      if (res.destroyed) return;
      const pingPong =
        options.pingPongTo && lastUserText(body).includes("PINGPONG")
          ? { tool: "instance_send", args: { to: options.pingPongTo, message: "PINGPONG" } }
          : undefined;
      const call = pingPong ?? mockToolCallFor(lastUserText(body));
      if (call) answerToolCall(res, body, call);
      else answer(res, body, mockReplyFor(lastUserText(body)));
    })().catch((error: unknown) => {
      res.writeHead(500, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: { message: String(error) } }));
    });
  });
  const address = options.address ?? "127.0.0.1";
  await new Promise<void>((resolve) => server.listen(0, address, resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${address}:${port}/v1`,
    port,
    requests,
    refused,
    replyFor: mockReplyFor,
    seenAsUser: async (texts) => seenAsUser(requests, texts),
    turnsEndingWith: async (marker) => turnsEndingWith(requests, marker),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

function seenAsUser(requests: readonly MockModelRequest[], texts: readonly string[]): boolean[] {
  return texts.map((text) =>
    requests.some((request) => (request.body.messages ?? []).some((message) => message.role === "user" && textOf(message.content).includes(text))),
  );
}

function turnsEndingWith(requests: readonly MockModelRequest[], marker: string): number {
  return requests.filter((request) => {
    const users = (request.body.messages ?? []).filter((message) => message.role === "user").map((message) => textOf(message.content));
    return users.findLast((text) => !text.startsWith("<<<BEGIN_OPENCLAW_INTERNAL_CONTEXT>>>"))?.includes(marker);
  }).length;
}

/** The witness of a mock model started elsewhere (the run's shared one), asked over HTTP. */
export function remoteModelWitness(modelBaseUrl: string): ModelWitness {
  const ask = async <T>(path: string, body: unknown): Promise<T> => {
    const response = await fetch(new URL(path, modelBaseUrl), { method: "POST", body: JSON.stringify(body), headers: { "content-type": "application/json" } });
    if (!response.ok) throw new Error(`mock model witness ${path}: HTTP ${response.status}`);
    return (await response.json()) as T;
  };
  return {
    seenAsUser: (texts) => ask<boolean[]>("/__witness/seen", { texts }),
    turnsEndingWith: (marker) => ask<number>("/__witness/turns", { marker }),
  };
}
