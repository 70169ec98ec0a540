import { mkdtempSync, rmSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { createMessenger } from "../../src/index.js";

/**
 * A stand-in for the A2A channel that behaves as 2026.9.x does with one conversation: it records
 * when each task arrives, keeps every task open (in `openState`: SUBMITTED before its turn starts,
 * WORKING after) until the test finishes it, and answers the first `GetTask` with the channel's
 * rate-limit error.
 */
async function fakeChannel(openState: string) {
  const sentAt: { id: string; whileWorking: number }[] = [];
  const working = new Set<string>();
  let getTasks = 0;
  const server: Server = createServer((req, res) => {
    let raw = "";
    req.on("data", (chunk: Buffer) => (raw += chunk.toString()));
    req.on("end", () => {
      const call = JSON.parse(raw) as { id: string; method: string; params: { id?: string; message?: { messageId: string } } };
      const answer = (result: unknown) => res.end(JSON.stringify({ jsonrpc: "2.0", id: call.id, result }));
      if (call.method === "SendMessage") {
        const id = `task-${sentAt.length}`;
        sentAt.push({ id, whileWorking: working.size });
        working.add(id);
        answer({ task: { id, contextId: "c", status: { state: openState } } });
        return;
      }
      getTasks += 1;
      if (getTasks === 1) {
        res.end(JSON.stringify({ jsonrpc: "2.0", id: call.id, error: { code: -32000, message: "Rate limit exceeded" } }));
        return;
      }
      const id = String(call.params.id);
      answer({ id, status: { state: working.has(id) ? openState : "TASK_STATE_COMPLETED" } });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    sentAt,
    finish: (id: string) => working.delete(id),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

let cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const step of cleanup) await step();
  cleanup = [];
});

describe("a2a: one task at a time per conversation", () => {
  it.each(["TASK_STATE_WORKING", "TASK_STATE_SUBMITTED"])(
    "holds the next send until the previous task (%s) has finished, through a rate-limited look",
    async (openState) => {
      const channel = await fakeChannel(openState);
      const stateDir = mkdtempSync(join(tmpdir(), "oii-a2a-pacing-"));
      const link = createMessenger({
        config: { self: { name: "xiaoa" }, stateDir, instances: { xiaom: { a2a: { url: channel.url, token: "peer-token-1234" }, transports: ["a2a"] } } },
        log: { level: "silent" },
      });
      cleanup.push(
        () => link.close(),
        channel.close,
        async () => rmSync(stateDir, { recursive: true, force: true }),
      );

      expect((await link.send({ to: "xiaom", body: "first" })).via).toBe("a2a");
      const second = link.send({ to: "xiaom", body: "second" });
      await new Promise((resolve) => setTimeout(resolve, 3_000));
      expect(channel.sentAt).toHaveLength(1);
      channel.finish("task-0");
      expect((await second).via).toBe("a2a");
      expect(channel.sentAt).toEqual([
        { id: "task-0", whileWorking: 0 },
        { id: "task-1", whileWorking: 0 },
      ]);
    },
    20_000,
  );
});
