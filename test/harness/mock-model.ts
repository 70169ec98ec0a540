import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/** One chat-completions request as the mock model received it. */
export interface MockModelRequest {
  readonly receivedAt: number;
  readonly body: ChatCompletionRequest;
}

interface ChatMessage {
  role: string;
  content?: unknown;
}

interface ChatCompletionRequest {
  model?: string;
  stream?: boolean;
  messages?: ChatMessage[];
}

export interface MockModelServer {
  readonly url: string;
  readonly port: number;
  readonly requests: readonly MockModelRequest[];
  /** The text the mock answers for a given last user text (deterministic). */
  replyFor(lastUserText: string): string;
  close(): Promise<void>;
}

function textOf(content: unknown): string {
  if (typeof content === "string") return content;
  if (Array.isArray(content)) {
    return content
      .map((part) => (part && typeof part === "object" && "text" in part ? String((part as { text: unknown }).text) : ""))
      .join("");
  }
  return "";
}

/** The deterministic reply: echoes the first `REPLY:<tag>` marker of the last user message, else `ACK`. */
export function mockReplyFor(lastUserText: string): string {
  const tag = /REPLY:([A-Za-z0-9_-]{1,64})/u.exec(lastUserText)?.[1];
  return tag ? `ACK ${tag}` : "ACK";
}

/** The newest user message that carries a reply tag; OpenClaw may append context after the real turn text. */
function lastUserText(body: ChatCompletionRequest): string {
  const users = (body.messages ?? []).filter((m) => m.role === "user").map((m) => textOf(m.content));
  return users.findLast((text) => text.includes("REPLY:")) ?? users.at(-1) ?? "";
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
    req.on("error", reject);
  });
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

/** Starts an OpenAI-compatible chat-completions server on 127.0.0.1 with deterministic replies. */
export async function startMockModel(): Promise<MockModelServer> {
  const requests: MockModelRequest[] = [];
  const server: Server = createServer((req, res) => {
    void (async () => {
      if (req.method === "GET" && req.url?.startsWith("/v1/models")) {
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ object: "list", data: [{ id: "mock-1", object: "model" }] }));
        return;
      }
      if (req.method !== "POST" || !req.url?.startsWith("/v1/chat/completions")) {
        res.writeHead(404).end();
        return;
      }
      const body = JSON.parse(await readBody(req)) as ChatCompletionRequest;
      requests.push({ receivedAt: Date.now(), body });
      answer(res, body, mockReplyFor(lastUserText(body)));
    })().catch((error: unknown) => {
      res.writeHead(500, { "content-type": "application/json" });
      res.end(JSON.stringify({ error: { message: String(error) } }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/v1`,
    port,
    requests,
    replyFor: mockReplyFor,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
