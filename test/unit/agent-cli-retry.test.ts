import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { TransientError } from "../../src/core/errors.js";
import type { GatewayPool } from "../../src/gateway/connection.js";
import { createEnvelope, createLogger, createMessenger, type Envelope } from "../../src/index.js";
import { AgentCliTransport } from "../../src/transports/agent-cli/transport.js";

/**
 * A stand-in `openclaw` CLI (run by this Node, as a configured `.mjs` bin is) and a stand-in
 * Gateway transcript it writes to: `<state>/transcript.json`, read back through a fake pool as
 * `chat.history` would be. `<state>/mode` says how the run ends:
 * - `ok`: the row and an answer are written, success JSON;
 * - `lost-after-accept`: the row is written, then the CLI fails as it does when it loses the
 *   Gateway after acceptance (`ok:false`, `runId`, `origin:"gateway"`, exit 1);
 * - `accepted-not-yet-there`: the same failure, with nothing in the transcript yet;
 * - `crash`: exit 1 without output, nothing written.
 */
const FAKE_CLI = `
import { appendFileSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
const state = process.env.OPENCLAW_STATE_DIR;
const args = process.argv.slice(2);
const text = readFileSync(args[args.indexOf("--message-file") + 1], "utf8");
appendFileSync(join(state, "runs"), "x");
const mode = readFileSync(join(state, "mode"), "utf8").trim();
const transcriptPath = join(state, "transcript.json");
const transcript = JSON.parse(readFileSync(transcriptPath, "utf8"));
if (mode === "ok" || mode === "lost-after-accept") {
  transcript.push({ role: "user", content: text }, { role: "assistant", content: [{ type: "text", text: "ACK" }] });
  writeFileSync(transcriptPath, JSON.stringify(transcript));
}
if (mode === "ok") {
  process.stdout.write(JSON.stringify({ runId: "run-ok", status: "ok", result: { payloads: [{ text: "ACK" }] } }));
  process.exit(0);
}
if (mode === "crash") process.exit(1);
process.stdout.write(JSON.stringify({ ok: false, runId: "run-accepted", origin: "gateway", error: { type: "cli_error", message: "gateway closed (1006): abnormal closure" } }));
process.exit(1);
`;

let cleanup: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  for (const step of cleanup.reverse()) await step();
  cleanup = [];
});

function setUp() {
  const dir = mkdtempSync(join(tmpdir(), "oii-agent-cli-retry-"));
  const state = join(dir, "state");
  const bin = join(dir, "fake-openclaw.mjs");
  writeFileSync(bin, FAKE_CLI);
  mkdirSync(state);
  writeFileSync(join(state, "transcript.json"), "[]");
  writeFileSync(join(state, "runs"), "");
  let unreadable = false;
  const pool = {
    forInstance: () => ({
      request: async (method: string) => {
        if (unreadable) throw new Error("chat.history: connection refused");
        expect(method).toBe("chat.history");
        return { messages: JSON.parse(readFileSync(join(state, "transcript.json"), "utf8")), pendingInputs: { items: [] } };
      },
    }),
  } as unknown as GatewayPool;
  const link = createMessenger({
    config: {
      self: { name: "xiaoa" },
      stateDir: join(dir, "client"),
      instances: { xiaom: { gateway: { url: "ws://127.0.0.1:9", token: "tok-1234567890" }, transports: ["agent_cli"] } },
    },
    log: { level: "silent" },
  });
  cleanup.push(
    () => link.close(),
    () => rmSync(dir, { recursive: true, force: true }),
  );
  const transport = () => new AgentCliTransport({ pool, bin, stateDir: state, env: process.env });
  const context = () => ({ instance: link.registry.resolve("xiaom"), signal: AbortSignal.timeout(60_000), logger: createLogger({ level: "silent" }) });
  return {
    transport,
    context,
    mode: (mode: string) => writeFileSync(join(state, "mode"), mode),
    runs: () => readFileSync(join(state, "runs"), "utf8").length,
    unreadable: (value: boolean) => (unreadable = value),
    write: (rows: unknown[]) => writeFileSync(join(state, "transcript.json"), JSON.stringify(rows)),
  };
}

const envelope = (): Envelope => createEnvelope({ to: "xiaom", from: "xiaoa", body: "hello there" });

describe("agent_cli: openclaw agent takes no idempotency key, so a retry looks first", () => {
  it("an envelope already in the target session is not run again (another process, no record of the first run)", async () => {
    const fake = setUp();
    fake.mode("ok");
    const message = envelope();
    expect(await fake.transport().deliver(message, fake.context())).toMatchObject({ status: "delivered", detail: { runId: "run-ok" } });
    const again = await fake.transport().deliver(message, fake.context());
    expect(again).toMatchObject({ status: "delivered", detail: { sentBefore: true, gatewayStatus: "in transcript" } });
    expect(fake.runs()).toBe(1);
  }, 60_000);

  it("a CLI that fails after the Gateway accepted the run: found in the session, so delivered, not 'not sent'", async () => {
    const fake = setUp();
    fake.mode("lost-after-accept");
    const message = envelope();
    expect(await fake.transport().deliver(message, fake.context())).toMatchObject({ status: "delivered", detail: { runId: "run-accepted" } });
    expect(fake.runs()).toBe(1);
  }, 60_000);

  it("accepted but not in the session yet: an accepted receipt, followed up through the transcript", async () => {
    const fake = setUp();
    fake.mode("accepted-not-yet-there");
    const message = envelope();
    const transport = fake.transport();
    expect(await transport.deliver(message, fake.context())).toMatchObject({ status: "accepted", detail: { runId: "run-accepted" } });
    expect(await transport.followUp(message, fake.context())).toEqual({ status: "waiting" });
    fake.write([
      { role: "user", content: `[Message from xiaoa via openclaw-inter-instance, id ${message.id}]\nhello there` },
      { role: "assistant", content: [{ type: "text", text: "ACK" }] },
    ]);
    expect(await transport.followUp(message, fake.context())).toEqual({ status: "delivered" });
    // A later retry (another flusher) finds it there and does not run it again.
    expect(await fake.transport().deliver(message, fake.context())).toMatchObject({ status: "delivered", detail: { sentBefore: true } });
    expect(fake.runs()).toBe(1);
  }, 60_000);

  it("when the session cannot be read: a first run goes ahead, a retry after an unclear run does not", async () => {
    const fake = setUp();
    fake.unreadable(true);
    fake.mode("crash");
    const message = envelope();
    const transport = fake.transport();
    await expect(transport.deliver(message, fake.context())).rejects.toMatchObject({ code: "CLI_FAILED" });
    expect(fake.runs()).toBe(1);
    const retry = transport.deliver(message, fake.context());
    await expect(retry).rejects.toBeInstanceOf(TransientError);
    await expect(retry).rejects.toMatchObject({ code: "UNCONFIRMED" });
    expect(fake.runs()).toBe(1);
    // Readable again and not there: it runs.
    fake.unreadable(false);
    fake.mode("ok");
    expect(await transport.deliver(message, fake.context())).toMatchObject({ status: "delivered", detail: { runId: "run-ok" } });
    expect(fake.runs()).toBe(2);
  }, 60_000);
});
