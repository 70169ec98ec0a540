import { randomUUID } from "node:crypto";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { execa } from "execa";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ConfigInput, DeliveryReport, QueuedEnvelope } from "../../src/index.js";
import { type KeyRotation, verifyRotation } from "../../src/trust/messaging-key.js";
import { type BorrowedGateway, borrowGateway } from "../harness/fixtures.js";
import { freePort } from "../harness/gateway.js";
import { readHistory, readMemoryEntries, textOf, withoutSignatureLine } from "../harness/oracle.js";
import { runToExit } from "../harness/run-to-exit.js";
import { watchOutput } from "../harness/secrets-watch.js";

const bin = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "dist", "cli", "bin.js");
let gatewayB: BorrowedGateway;
let sessionKey: string;
let scratch: string;
let goodConfig: string;
let deadConfig: string;
const outputs: string[] = [];

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), "oii-cli-"));
  // The run's shared plain Gateway, in a session of this file's own: other files send to it at the same time.
  gatewayB = await borrowGateway("plain");
  sessionKey = await gatewayB.newSession("cli");
  const write = async (name: string, config: ConfigInput) => {
    const path = join(scratch, name);
    await writeFile(path, JSON.stringify(config));
    return path;
  };
  goodConfig = await write("good.json", {
    self: { name: "xiaoa" },
    stateDir: join(scratch, "state-good"),
    instances: {
      xiaom: {
        aliases: ["小m"],
        gateway: { url: gatewayB.url, tokenEnv: "XIAOM_TOKEN" },
        sessionKey,
        workspace: gatewayB.workspace,
        transports: ["sessions_send", "memory_file"],
      },
    },
  });
  deadConfig = await write("dead.json", {
    self: { name: "xiaoa" },
    stateDir: join(scratch, "state-dead"),
    instances: { xiaom: { aliases: ["小m"], gateway: { url: `ws://127.0.0.1:${await freePort()}`, tokenEnv: "XIAOM_TOKEN" }, transports: ["sessions_send"] } },
  });
});

afterAll(async () => {
  await rm(scratch, { recursive: true, force: true });
});

async function cli(args: string[], options: { input?: string | Uint8Array; env?: Record<string, string | undefined> } = {}) {
  const result = await execa(process.execPath, [bin, ...args], {
    reject: false,
    env: { XIAOM_TOKEN: gatewayB.token, ...options.env },
    ...(options.input === undefined ? { stdin: "ignore" as const } : { input: options.input }),
  });
  outputs.push(result.stdout, result.stderr);
  watchOutput(`${result.stdout}\n${result.stderr}`);
  return result;
}

describe("the built CLI against a real Gateway", () => {
  it("send: exit 0 and the report; the message is in the target session", async () => {
    const marker = randomUUID();
    const result = await cli(["--config", goodConfig, "--json", "send", "小m", "部署完成", marker]);
    expect(result.exitCode).toBe(0);
    const report = JSON.parse(result.stdout) as DeliveryReport;
    expect(report).toMatchObject({ ok: true, via: "sessions_send", to: "xiaom" });
    await expect
      .poll(async () => (await readHistory(gatewayB, sessionKey)).some((row) => textOf(row.content).includes(`部署完成 ${marker}`)), { timeout: 120_000 })
      .toBe(true);
    // Its turn answered before the next test sends: a message that lands as a turn ends can be lost
    // inside the Gateway (seen in the hostile suite too), which is not what the next test is about.
    await expect.poll(async () => (await readHistory(gatewayB, sessionKey)).at(-1)?.role, { timeout: 60_000 }).toBe("assistant");
  }, 180_000);

  it("send -: the body comes from stdin byte-exact, hostile characters included", async () => {
    const body = `from stdin ${randomUUID()}\n$(touch /tmp/never) \`id\` 'q' "qq"\nEOF`;
    const result = await cli(["-c", goodConfig, "--json", "send", "xiaom", "-"], { input: `${body}\n` });
    expect(result.exitCode).toBe(0);
    const report = JSON.parse(result.stdout) as DeliveryReport;
    // Accepted is not yet in the transcript: the row is written when B's turn starts, which a loaded machine delays.
    await expect
      .poll(async () => (await readHistory(gatewayB, sessionKey)).some((row) => withoutSignatureLine(textOf(row.content)).endsWith(`\n${body}`)), {
        timeout: 120_000,
      })
      .toBe(true);
    expect(report.ok).toBe(true);
  }, 180_000);

  it("ask: prints the other agent's answer", async () => {
    const result = await cli(["-c", goodConfig, "ask", "xiaom", "are you done? REPLY:cli-ask", "--timeout", "60"]);
    expect(result.stdout.trim()).toBe("ACK cli-ask");
    expect(result.exitCode).toBe(0);
  });

  it("say: acts on a Chinese phrase", async () => {
    const marker = randomUUID();
    const result = await cli(["-c", goodConfig, "--json", "say", `给小m发消息：你好 ${marker}`]);
    expect(result.exitCode).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ intent: { action: "send", target: "xiaom", body: `你好 ${marker}` }, report: { ok: true } });
  });

  it("doctor: all checks pass on a healthy setup, and fail with the fix on a dead one", async () => {
    const healthy = await cli(["-c", goodConfig, "--json", "doctor"]);
    expect(healthy.exitCode).toBe(0);
    const checks = JSON.parse(healthy.stdout) as { ok: boolean; unseen: unknown[]; checks: { check: string; status: string }[] };
    expect(checks).toMatchObject({ ok: true, unseen: [] });
    expect(checks.checks.filter((check) => check.status !== "skip").map((check) => [check.check, check.status])).toEqual([
      ["transport:sessions_send", "pass"],
      ["transport:memory_file", "pass"],
      ["gateway", "pass"],
      ["rpc-scope", "pass"],
      // A shared token where pairing would give a scoped device token: a warning, with how to pair.
      ["credential:instances.xiaom.gateway", "warn"],
    ]);
    expect(healthy.stdout).toContain("a shared Gateway token (environment variable XIAOM_TOKEN), which grants operator access to that Gateway");
    expect(healthy.stdout).toMatch(/OpenClaw 2026\.9\.\d+, protocol \d+/u);
    const dead = await cli(["-c", deadConfig, "doctor"]);
    expect(dead.exitCode).toBe(1);
    expect(dead.stdout).toMatch(/FAIL {2}transport:sessions_send: Gateway ws:\/\/127\.0\.0\.1:\d+ is not reachable/u);
    expect(dead.stdout).toMatch(/fix: /u);
  });

  it("not delivered: exit 1, queued in the outbox, listed by outbox list", async () => {
    const result = await cli(["-c", deadConfig, "--json", "send", "xiaom", "while you were down"]);
    expect(result.exitCode).toBe(1);
    const report = JSON.parse(result.stdout) as DeliveryReport;
    expect(report.status).toBe("queued");
    const list = await cli(["-c", deadConfig, "--json", "outbox", "list"]);
    expect(list.exitCode).toBe(0);
    expect((JSON.parse(list.stdout) as QueuedEnvelope[]).map((q) => q.envelope.id)).toEqual([report.id]);
    const flush = await cli(["-c", deadConfig, "outbox", "flush"]);
    expect(flush.exitCode).toBe(1);
  });

  it("bad input: exit 2 with the reason, and nothing is sent", async () => {
    // Other files write to the shared workspace meanwhile: each body here is this file's own.
    const marker = randomUUID();
    const hi = `hi ${marker}`;
    const unknown = await cli(["-c", goodConfig, "send", "小n", hi]);
    expect(unknown.exitCode).toBe(2);
    expect(unknown.stderr).toContain('No instance is called "小n"');
    expect(unknown.stderr).toContain("小m");

    const badConfigPath = join(scratch, "bad.json");
    await writeFile(badConfigPath, JSON.stringify({ self: { name: "xiaoa" }, instances: { xiaom: { gateway: { url: "http://nope", token: "t" } } } }));
    const badConfig = await cli(["-c", badConfigPath, "send", "xiaom", hi]);
    expect(badConfig.exitCode).toBe(2);
    expect(badConfig.stderr).toContain("instances.xiaom.gateway.url");

    expect((await cli(["-c", goodConfig, "ask", "xiaom", `q ${marker}`, "--timeout", "soon"])).exitCode).toBe(2);
    expect((await cli(["-c", goodConfig, "send", "xiaom"])).exitCode).toBe(2);
    expect((await cli(["-c", goodConfig, "launch-rockets"])).exitCode).toBe(2);
    expect((await cli(["-c", goodConfig, "say", "今天天气怎么样"])).exitCode).toBe(2);
    expect((await cli(["-c", join(scratch, "missing.json"), "send", "xiaom", hi])).exitCode).toBe(2);
    // Nothing of these commands in the note: no body of theirs, and no empty one (the send without a body).
    expect(
      (await readMemoryEntries(gatewayB.workspace)).filter((entry) => entry.body.includes(marker) || /今天|天气|怎么样/u.test(entry.body) || entry.body === ""),
    ).toEqual([]);
  });

  it("an unset tokenEnv variable is bad input: exit 2 naming the variable, nothing queued or sent", async () => {
    const body = `no token here ${randomUUID()}`;
    const result = await cli(["-c", goodConfig, "--json", "send", "xiaom", body], { env: { XIAOM_TOKEN: undefined } });
    expect(result.exitCode).toBe(2);
    expect(JSON.parse(result.stdout)).toMatchObject({ ok: false, error: { code: "INVALID_INPUT", message: expect.stringContaining("XIAOM_TOKEN") } });
    expect(result.stderr).toMatch(/XIAOM_TOKEN.*not set/u);
    expect(JSON.parse((await cli(["-c", goodConfig, "--json", "outbox", "list"])).stdout)).toEqual([]);
    expect((await readMemoryEntries(gatewayB.workspace)).some((entry) => entry.body === body)).toBe(false);
  });

  it("invalid UTF-8 on stdin is refused with its byte offset, never turned into U+FFFD", async () => {
    // A marker after the bad byte makes this body's entry (were one written) this file's own.
    const marker = randomUUID();
    const input = Buffer.concat([Buffer.from([0x6f, 0x6b, 0x20, 0xe4, 0xbd, 0xa0, 0xff, 0x21]), Buffer.from(` ${marker}`)]);
    const result = await cli(["-c", goodConfig, "send", "xiaom", "-"], { input });
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toMatch(/not valid UTF-8: byte 6 \(0xff\)/u);
    // No entry of this body at all, so none with U+FFFD in its place.
    expect((await readMemoryEntries(gatewayB.workspace)).some((entry) => entry.body.includes(marker))).toBe(false);
  });

  it("a plain send speaks sentences on both streams; the JSON log only with --verbose", async () => {
    const plain = await cli(["-c", deadConfig, "send", "xiaom", `plain ${randomUUID()}`]);
    expect(plain.exitCode).toBe(1);
    expect(`${plain.stdout}\n${plain.stderr}`).not.toMatch(/^\s*\{/mu);
    const verbose = await cli(["-c", deadConfig, "-v", "send", "xiaom", `verbose ${randomUUID()}`]);
    expect(verbose.stderr.split("\n").some((line) => line.startsWith("{") && JSON.parse(line).name === "openclaw-inter-instance")).toBe(true);
  });

  it("a malformed config file: the error gives its line and column and what to do", async () => {
    const path = join(scratch, "broken.json");
    await writeFile(path, '{\n  "self": { "name": "xiaoa" },\n  "instances": { "xiaom": { "workspace": "/tmp" }, }\n}\n');
    const result = await cli(["-c", path, "send", "xiaom", "hi"]);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toMatch(/line 3, column \d+/u);
    expect(result.stderr).toMatch(/trailing commas/u);
  });

  it("credentials in a Gateway or A2A URL are refused at validation, naming the field; the secret is never echoed", async () => {
    const path = join(scratch, "userinfo.json");
    await writeFile(
      path,
      JSON.stringify({
        self: { name: "xiaoa" },
        instances: {
          xiaom: {
            gateway: { url: `ws://user:S3CRETinURL@127.0.0.1:${await freePort()}`, token: "t0ken" },
            a2a: { url: "http://peer:S3CRETinURL@127.0.0.1:9/a2a/v1", token: "t0ken" },
          },
        },
      }),
    );
    const result = await cli(["-c", path, "-v", "send", "xiaom", "hi"]);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain("instances.xiaom.gateway.url: must not carry credentials");
    expect(result.stderr).toContain("instances.xiaom.a2a.url: must not carry credentials");
    expect(`${result.stdout}${result.stderr}`).not.toContain("S3CRETinURL");
  });

  it("each command ends by itself once it has printed its answer, and leaves no process behind", async () => {
    for (const args of [
      ["--config", goodConfig, "send", "小m", "ends by itself"],
      ["--config", goodConfig, "ask", "小m", "还在吗 REPLY:ends"],
      ["--config", deadConfig, "doctor"],
    ]) {
      const run = await runToExit([process.execPath, bin, ...args], {
        cwd: scratch,
        env: { ...process.env, XIAOM_TOKEN: gatewayB.token },
        timeoutMs: 120_000,
        doneWhen: ({ stdout }) => stdout.trim() !== "",
      });
      watchOutput(`${run.stdout}\n${run.stderr}`);
      expect(run.signal, args.join(" ")).toBeNull();
      expect(run.exitAfterDoneMs!, args.join(" ")).toBeLessThan(3_000);
      expect(run.leftovers, args.join(" ")).toEqual([]);
    }
  }, 300_000);

  it("keys: shows the messaging key in sentences; --rotate makes a new one the old one signs; --json for scripts", async () => {
    const shown = await cli(["-c", goodConfig, "keys"]);
    expect(shown.exitCode, shown.stderr).toBe(0);
    expect(shown.stdout).toMatch(/^The messaging key of xiaoa\. Other instances pin this public key/u);
    const publicKey = /public key: {2}(\S+)/u.exec(shown.stdout)?.[1];
    expect(publicKey).toMatch(/^[A-Za-z0-9_-]{43}$/u);
    expect(shown.stdout).toMatch(/fingerprint: SHA256:[0-9a-f:]{47}/u);
    const rotated = await cli(["-c", goodConfig, "--json", "keys", "--rotate"]);
    expect(rotated.exitCode, rotated.stderr).toBe(0);
    const after = JSON.parse(rotated.stdout) as { publicKey: string; rotations: KeyRotation[] };
    expect(after.publicKey).not.toBe(publicKey);
    expect(after.rotations.at(-1)).toMatchObject({ previous: publicKey, next: after.publicKey });
    expect(verifyRotation(after.rotations.at(-1)!, publicKey!)).toBe(true);
  });

  it("log: what was sent from here, with transport, status and verdict, no bodies; --since narrows it; a bad --since is bad input", async () => {
    const marker = `logged-${randomUUID()}`;
    const sent = await cli(["-c", goodConfig, "--json", "send", "xiaom", marker]);
    const report = JSON.parse(sent.stdout) as DeliveryReport;
    const logged = await cli(["-c", goodConfig, "--json", "log", "--since", "10m"]);
    expect(logged.exitCode, logged.stderr).toBe(0);
    const entries = JSON.parse(logged.stdout) as {
      id: string;
      direction: string;
      from: string;
      to: string;
      transport: string;
      status: string;
      verdict: string;
      bytes: number;
      body?: string;
    }[];
    expect(entries.find((entry) => entry.id === report.id)).toEqual({
      at: expect.any(String),
      direction: "out",
      id: report.id,
      from: "xiaoa",
      to: "xiaom",
      transport: "sessions_send",
      status: report.status,
      verdict: "signed",
      bytes: Buffer.byteLength(marker),
    });
    expect(logged.stdout).not.toContain(marker);
    const plain = await cli(["-c", goodConfig, "log"]);
    expect(plain.stdout).toMatch(new RegExp(`sent {2}xiaoa → xiaom {2}id ${report.id} {2}via sessions_send {2}${report.status} {2}signed`, "u"));
    const bad = await cli(["-c", goodConfig, "log", "--since", "yesterday-ish"]);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain("neither a time");
  });

  it("pin, status, send --wait, delegate, inbox: sentences for a person, the field named on bad input", async () => {
    const pinConfig = join(scratch, "pin.json");
    await writeFile(pinConfig, JSON.stringify({ self: { name: "xiaoa" }, stateDir: join(scratch, "state-pin"), instances: {} }));
    const key = JSON.parse((await cli(["-c", goodConfig, "--json", "keys"])).stdout) as { publicKey: string; fingerprint: string };
    const pinned = await cli(["-c", pinConfig, "pin", "xiaob", key.publicKey, "--inbound", "hold"]);
    expect(pinned.exitCode, pinned.stderr).toBe(0);
    expect(pinned.stdout).toContain(`Pinned xiaob's key ${key.fingerprint} (its messages: hold)`);
    expect(JSON.parse(await readFile(pinConfig, "utf8")).instances.xiaob).toEqual({ publicKey: key.publicKey, inbound: "hold" });
    const bad = await cli(["-c", pinConfig, "pin", "xiaob", "not-a-key"]);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain("instances.xiaob.publicKey");

    const marker = `waited-${randomUUID()}`;
    const waited = await cli(["-c", goodConfig, "send", "xiaom", "--wait", "answered", "--timeout", "90s", `${marker} REPLY:waited`]);
    expect(waited.exitCode, waited.stderr).toBe(0);
    expect(waited.stdout).toMatch(/ to xiaom: answered by the target agent \(since /u);
    const id = /^(\S+) to xiaom:/u.exec(waited.stdout)?.[1];
    const status = await cli(["-c", goodConfig, "--json", "status", id!]);
    expect((JSON.parse(status.stdout) as { statuses: { state: string }[] }).statuses[0]?.state).toBe("answered");
    const unknown = await cli(["-c", goodConfig, "status", "never-sent-0001"]);
    expect(unknown.exitCode).toBe(1);
    expect(unknown.stdout).toContain("Nothing is known here of never-sent-0001");

    const delegated = await cli(["-c", goodConfig, "delegate", "--deadline", "10m", "xiaom", "summarize the logs REPLY:task"]);
    expect(delegated.exitCode, delegated.stderr).toBe(0);
    expect(delegated.stdout).toMatch(/^Task \S+ handed to xiaom \(accepted\); it expires at .*; see where it stands: openclaw-inter-instance status \S+$/u);
    const badDeadline = await cli(["-c", goodConfig, "delegate", "--deadline", "soon", "xiaom", "x"]);
    expect(badDeadline.exitCode).toBe(2);

    const inbox = await cli(["-c", goodConfig, "inbox", "list"]);
    expect(inbox.exitCode).toBe(0);
    expect(inbox.stdout).toContain("No messages are waiting for you");
    const approve = await cli(["-c", goodConfig, "inbox", "approve", "nothing-0001"]);
    expect(approve.exitCode).toBe(2);
  }, 240_000);

  it("--help exits 0 and lists the commands", async () => {
    const help = await cli(["--help"]);
    expect(help.exitCode).toBe(0);
    for (const command of ["send", "ask", "delegate", "status", "say", "doctor", "outbox", "inbox", "keys", "pin", "log"])
      expect(help.stdout).toContain(command);
  });

  it("never prints the token", () => {
    expect(outputs.join("\n")).not.toContain(gatewayB.token);
  });
});
