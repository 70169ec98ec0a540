import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ConfigInput, createMessenger, type TransportId } from "../../src/index.js";
import { type BorrowedGateway, borrowGateway } from "../harness/fixtures.js";
import { openclawEntry } from "../harness/gateway.js";
import { testLog } from "../harness/secrets-watch.js";

let gatewayB: BorrowedGateway;
let sessionKey: string;
let scratch: string;

// The run's shared plain Gateway (A2A channel on), in a session of this file's own.
beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), "oii-ask-"));
  gatewayB = await borrowGateway("plain");
  sessionKey = await gatewayB.newSession("ask");
});

afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

function client(transports: TransportId[]) {
  const config: ConfigInput = {
    self: { name: "xiaoa" },
    stateDir: join(scratch, "client-state"),
    openclawCli: { bin: openclawEntry },
    instances: {
      xiaom: {
        aliases: ["小m"],
        gateway: { url: gatewayB.url, token: gatewayB.token },
        sessionKey,
        a2a: { url: gatewayB.httpUrl, token: gatewayB.a2aPeerToken },
        workspace: gatewayB.workspace,
        transports,
      },
    },
  };
  return createMessenger({ config, log: testLog() });
}

describe("ask: send and wait for the target agent's answer", () => {
  it("over sessions_send, the mock model's deterministic reply comes back to the caller", async () => {
    const messenger = client(["sessions_send"]);
    try {
      const result = await messenger.ask({ to: "小m", body: "what is the status? REPLY:status-ok" }, { timeoutMs: 60_000 });
      expect(result).toMatchObject({ ok: true, status: "answered", reply: "ACK status-ok", report: { via: "sessions_send" } });
    } finally {
      await messenger.close();
    }
  });

  it("three concurrent asks to the same session each get their own answer", async () => {
    const messenger = client(["sessions_send"]);
    try {
      const tags = ["one", "two", "three"].map((word) => `${word}-${randomUUID().slice(0, 8)}`);
      const results = await Promise.all(tags.map((tag) => messenger.ask({ to: "xiaom", body: `concurrent question REPLY:${tag}` }, { timeoutMs: 90_000 })));
      expect(results.map((r) => r.reply)).toEqual(tags.map((tag) => `ACK ${tag}`));
    } finally {
      await messenger.close();
    }
  });

  it("over a2a, the answer is polled from the task", async () => {
    const messenger = client(["a2a"]);
    try {
      const result = await messenger.ask({ to: "xiaom", body: "a2a question REPLY:via-a2a" }, { timeoutMs: 60_000 });
      expect(result).toMatchObject({ ok: true, status: "answered", reply: "ACK via-a2a", report: { via: "a2a" } });
    } finally {
      await messenger.close();
    }
  });

  it("over agent_cli, the answer comes with the finished turn", async () => {
    const messenger = client(["agent_cli"]);
    try {
      const result = await messenger.ask({ to: "xiaom", body: "cli question REPLY:via-cli" }, { timeoutMs: 60_000 });
      expect(result).toMatchObject({ ok: true, status: "answered", reply: "ACK via-cli", report: { via: "agent_cli" } });
    } finally {
      await messenger.close();
    }
  });

  it("a target that does not answer in time gives 'no reply', with the delivery report", async () => {
    const messenger = client(["sessions_send"]);
    try {
      const result = await messenger.ask({ to: "xiaom", body: "slow question SLOW:20000" }, { timeoutMs: 3_000 });
      expect(result).toMatchObject({
        ok: false,
        status: "no reply",
        report: { ok: true, via: "sessions_send" },
        error: { class: "timeout", code: "NO_REPLY" },
      });
    } finally {
      await messenger.close();
    }
  });

  it("examples/ask.mjs runs as written and prints the answer", async () => {
    const { execFile } = await import("node:child_process");
    const { promisify } = await import("node:util");
    const { stdout } = await promisify(execFile)(process.execPath, ["examples/ask.mjs", "部署完成了吗？ REPLY:example"], {
      env: { ...process.env, XIAOM_URL: gatewayB.url, XIAOM_TOKEN: gatewayB.token, OPENCLAW_INTER_INSTANCE_HOME: join(scratch, "example-client") },
    });
    expect(stdout.trim()).toBe("ACK example");
  });

  it("refuses when no configured transport can bring an answer back", async () => {
    const messenger = client(["memory_file"]);
    try {
      await expect(messenger.ask({ to: "xiaom", body: "one-way only" })).rejects.toMatchObject({ code: "NO_REPLY_TRANSPORT" });
    } finally {
      await messenger.close();
    }
  });
});
