import { generateKeyPairSync, type KeyObject, sign } from "node:crypto";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { describeInvite } from "../../src/cli/commands/invite.js";
import { ValidationError } from "../../src/core/errors.js";
import { decodeInvite, encodeInvite, type Invite, looksLikeInvite } from "../../src/invite/code.js";
import { checkServing, type PortAnswer } from "../../src/invite/serving.js";
import { runCliCaptured } from "../harness/cli-run.js";

const FINGERPRINT = Array.from({ length: 32 }, (_, i) => (i * 7).toString(16).padStart(2, "0").toUpperCase()).join(":");
const NOW = Date.parse("2026-12-04T05:00:00Z");

function keyPair(): { publicKey: string; privateKey: KeyObject } {
  const { publicKey, privateKey } = generateKeyPairSync("ed25519");
  return { publicKey: publicKey.export({ type: "spki", format: "der" }).subarray(-32).toString("base64url"), privateKey };
}

function setupCode(fields: Record<string, unknown> = {}): string {
  const payload = { url: "wss://10.20.1.2:18789", bootstrapToken: "bootstrap-secret-1234", expiresAtMs: NOW + 10 * 60_000, ...fields };
  return Buffer.from(JSON.stringify(payload)).toString("base64url");
}

const key = keyPair();
const valid: Invite = { name: "xiaom", setupCode: setupCode(), tlsFingerprint: FINGERPRINT, publicKey: key.publicKey };
const at = new Date(NOW);

/** The wire JSON of an invite, to change a field and sign it again as a hostile inviter would. */
function wireOf(invite: string): Record<string, string> {
  return JSON.parse(Buffer.from(invite.slice(5), "base64url").toString("utf8")) as Record<string, string>;
}
function resigned(wire: Record<string, string>, privateKey: KeyObject = key.privateKey): string {
  const bytes = Buffer.from(JSON.stringify(["openclaw-inter-instance/invite/v1", wire.n, wire.c, wire.f, wire.k]), "utf8");
  const s = sign(null, bytes, privateKey).toString("base64url");
  return `oii1.${Buffer.from(JSON.stringify({ ...wire, s })).toString("base64url")}`;
}
function refusal(text: string, now = at): ValidationError {
  try {
    decodeInvite(text, now);
  } catch (error) {
    expect(error).toBeInstanceOf(ValidationError);
    return error as ValidationError;
  }
  throw new Error("the invite was accepted");
}

describe("invite: encode and decode", () => {
  it("round-trips: name, URL, expiry and the setup code from inside, pins as given; compact and copy-paste safe", () => {
    const text = encodeInvite(valid, key.privateKey);
    expect(text).toMatch(/^oii1\.[A-Za-z0-9_-]+$/u);
    expect(text.length).toBeLessThan(600);
    expect(looksLikeInvite(text)).toBe(true);
    expect(looksLikeInvite(setupCode())).toBe(false);
    const decoded = decodeInvite(` ${text}\n`, at);
    expect(decoded).toMatchObject({ ...valid, url: "wss://10.20.1.2:18789", expiresAt: new Date(NOW + 10 * 60_000) });
    expect(decoded.setup.bootstrapToken).toBe("bootstrap-secret-1234");
  });

  it("accepts a setup code that carries the same pin in OpenClaw's own spelling", () => {
    const code = setupCode({ tlsFingerprint: FINGERPRINT.replace(/:/gu, "").toLowerCase() });
    expect(decodeInvite(encodeInvite({ ...valid, setupCode: code }, key.privateKey), at).tlsFingerprint).toBe(FINGERPRINT);
  });

  it("a changed field fails the signature, named", () => {
    const wire = wireOf(encodeInvite(valid, key.privateKey));
    for (const change of [{ n: "xiaoq" }, { f: "0".repeat(64) }, { c: setupCode({ url: "wss://10.20.1.66:18789" }) }, { k: keyPair().publicKey }]) {
      const error = refusal(`oii1.${Buffer.from(JSON.stringify({ ...wire, ...change })).toString("base64url")}`);
      expect(error.issues[0]?.path).toBe("invite.signature");
      expect(error.message).toMatch(/changed after it was made/u);
      expect(error.hint).toMatch(/openclaw-inter-instance invite/u);
    }
  });

  it("a cut or wrapped invite is refused as such", () => {
    const text = encodeInvite(valid, key.privateKey);
    expect(refusal(text.slice(0, 80)).message).toMatch(/invite/u);
    expect(refusal(`${text.slice(0, 60)}\n${text.slice(60)}`).message).toMatch(/cut or wrapped/u);
  });

  it("expired: the error names invite.expiresAt and says to ask for a new one", () => {
    const error = refusal(encodeInvite(valid, key.privateKey), new Date(NOW + 11 * 60_000));
    expect(error.issues).toEqual([{ path: "invite.expiresAt", message: expect.stringContaining("2026-12-04T05:10:00.000Z") }]);
    expect(error.hint).toMatch(/Ask xiaom for a new one: there run `openclaw-inter-instance invite`/u);
  });

  it("other versions and bare text are named as the version", () => {
    expect(refusal("oii2.abc").issues[0]).toMatchObject({ path: "invite.version", message: expect.stringContaining("oii2") });
    expect(refusal("hello").issues[0]?.path).toBe("invite.version");
  });

  it("hostile fields, even when signed by their own key, are refused by name", () => {
    const wire = wireOf(encodeInvite(valid, key.privateKey));
    const cases: [Record<string, string>, string][] = [
      [{ n: "../etc" }, "invite.name"],
      [{ n: "xiao\u202em" }, "invite.name"],
      [{ n: "x".repeat(65) }, "invite.name"],
      [{ c: setupCode({ url: "wss://user:pw@10.20.1.2:18789" }) }, "invite.setupCode"],
      [{ c: setupCode({ url: "ws://10.20.1.2:18789" }) }, "invite.setupCode"],
      [{ c: setupCode({ url: "javascript:alert(1)" }) }, "invite.setupCode"],
      [{ c: setupCode({ expiresAtMs: undefined }) }, "invite.setupCode"],
      [{ c: setupCode({ tlsFingerprint: "AA".repeat(32) }) }, "invite.tlsFingerprint"],
      [{ c: "a".repeat(2100) }, "invite.setupCode"],
      [{ f: "zz".repeat(32) }, "invite.tlsFingerprint"],
      [{ k: "short" }, "invite.publicKey"],
    ];
    for (const [change, path] of cases) {
      const error = refusal(resigned({ ...wire, ...change }));
      expect(error.issues[0]?.path, JSON.stringify(change)).toBe(path);
    }
    const extra = `oii1.${Buffer.from(JSON.stringify({ ...wire, x: "1" })).toString("base64url")}`;
    expect(refusal(extra).message).toMatch(/invite\./u);
    expect(refusal(`oii1.${"A".repeat(5000)}`).message).toMatch(/more than an invite has/u);
    expect(refusal(`oii1.${Buffer.from("[1,2]").toString("base64url")}`).message).toMatch(/invite\./u);
  });

  it("an invite's text for a person: what it pins, how long it lasts, the exact command for the other machine, no token", () => {
    const invite = encodeInvite(valid, key.privateKey);
    const text = describeInvite(
      {
        invite,
        name: "xiaom",
        url: "wss://10.20.1.2:18789",
        tlsFingerprint: FINGERPRINT,
        publicKey: key.publicKey,
        keyFingerprint: "SHA256:ab:cd",
        expiresAt: new Date(NOW + 10 * 60_000),
      },
      at,
    ).join("\n");
    expect(text).toContain("Valid until 05:10:00 UTC (in 10 minutes), for one pairing.");
    expect(text).toContain(`  openclaw-inter-instance pair ${invite}`);
    expect(text).toContain(FINGERPRINT);
    expect(text).toContain("openclaw devices approve <requestId>");
    expect(text).not.toContain("bootstrap-secret-1234");
  });
});

describe("invite: is the Gateway really serving?", () => {
  const answering =
    (answers: Record<string, PortAnswer>) =>
    async (host: string): Promise<PortAnswer> =>
      answers[host] ?? { kind: "refused", code: "ECONNREFUSED" };

  it("serves TLS at the advertised address: its fingerprint", async () => {
    const probe = answering({ "10.20.1.2": { kind: "tls", fingerprint: FINGERPRINT } });
    await expect(checkServing("wss://10.20.1.2:18789", { probe, expectedFingerprint: FINGERPRINT.replace(/:/gu, "") })).resolves.toEqual({
      fingerprint: FINGERPRINT,
    });
  });

  it("config says LAN, socket says loopback: RESTART_NEEDED, with a foreground run, systemd and launchd", async () => {
    const probe = answering({ "127.0.0.1": { kind: "tls", fingerprint: FINGERPRINT } });
    const error = await checkServing("wss://10.20.1.2:18789", { probe, localAddresses: () => ["10.20.1.2", "192.168.1.20"] }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: "RESTART_NEEDED", message: expect.stringMatching(/only loopback \(127\.0\.0\.1:18789\)/u) });
    const { hint } = error as { hint: string };
    expect(hint).toContain("openclaw gateway run");
    expect(hint).toContain("systemctl --user restart openclaw-gateway.service");
    expect(hint).toContain("launchctl kickstart -k gui/$UID/ai.openclaw.gateway");
    expect(hint).toMatch(/`openclaw gateway restart` keep the old socket/u);
  });

  it("an address that does not loop back here (NAT, proxy): the Gateway serving this machine's own LAN address is enough", async () => {
    const probe = answering({ "192.168.1.20": { kind: "tls", fingerprint: FINGERPRINT }, "127.0.0.1": { kind: "tls", fingerprint: FINGERPRINT } });
    await expect(checkServing("wss://vps.example.com:18789", { probe, localAddresses: () => ["192.168.1.20"] })).resolves.toEqual({ fingerprint: FINGERPRINT });
  });

  it("TLS turned on in the config but the process serves plaintext: RESTART_NEEDED", async () => {
    const probe = answering({ "10.20.1.2": { kind: "plaintext" } });
    await expect(checkServing("wss://10.20.1.2:18789", { probe })).rejects.toMatchObject({ code: "RESTART_NEEDED" });
  });

  it("another certificate than the Gateway's own: TLS_CERT_DIFFERS", async () => {
    const probe = answering({ "10.20.1.2": { kind: "tls", fingerprint: "AA:".repeat(31).concat("AA") } });
    await expect(checkServing("wss://10.20.1.2:18789", { probe, expectedFingerprint: FINGERPRINT })).rejects.toMatchObject({ code: "TLS_CERT_DIFFERS" });
  });

  it("nothing answers: GATEWAY_NOT_RUNNING; a loopback URL: GATEWAY_LOOPBACK_ONLY; ws://: TLS_OFF", async () => {
    const probe = answering({});
    await expect(checkServing("wss://10.20.1.2:18789", { probe, localAddresses: () => [] })).rejects.toMatchObject({ code: "GATEWAY_NOT_RUNNING" });
    await expect(checkServing("wss://127.0.0.1:18789", { probe })).rejects.toMatchObject({
      code: "GATEWAY_LOOPBACK_ONLY",
      hint: expect.stringContaining("openclaw config set gateway.bind lan"),
    });
    await expect(checkServing("ws://10.20.1.2:18789", { probe })).rejects.toMatchObject({ code: "TLS_OFF", hint: expect.stringContaining("gateway.tls") });
  });
});

describe("pair <invite>: the CLI's words", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "oii-invite-unit-"));
    await writeFile(join(dir, "config.json"), JSON.stringify({ self: { name: "xiaoa" }, instances: {} }));
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  const cli = (args: string[]) => runCliCaptured(["--config", join(dir, "config.json"), ...args], { OPENCLAW_INTER_INSTANCE_HOME: join(dir, "state") });

  it("an expired invite: exit 2, the field and what to do, nothing written", async () => {
    const expired = encodeInvite({ ...valid, setupCode: setupCode({ expiresAtMs: Date.now() - 1000 }) }, key.privateKey);
    const result = await cli(["pair", expired]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^error: This invite expired at .*\nAsk xiaom for a new one: there run `openclaw-inter-instance invite`/mu);
    expect(result.stderr).not.toContain("bootstrap-secret-1234");
  });

  it("a tampered invite with --json: ok false, the field in the message", async () => {
    const wire = wireOf(encodeInvite({ ...valid, setupCode: setupCode({ expiresAtMs: Date.now() + 600_000 }) }, key.privateKey));
    const result = await cli(["pair", `oii1.${Buffer.from(JSON.stringify({ ...wire, n: "xiaoq" })).toString("base64url")}`, "--json"]);
    expect(result.code).toBe(2);
    expect(JSON.parse(result.stdout)).toMatchObject({ ok: false, error: { code: "INVALID_INPUT", message: expect.stringContaining("invite.signature") } });
  });

  it("a pin given beside an invite that contradicts it is refused", async () => {
    const invite = encodeInvite({ ...valid, setupCode: setupCode({ expiresAtMs: Date.now() + 600_000 }) }, key.privateKey);
    const result = await cli(["pair", invite, "--tls-fingerprint", "AA".repeat(32)]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/differs from the invite's/u);
  });

  it("a bare setup code still needs its name, and says so", async () => {
    const result = await cli(["pair", setupCode({ expiresAtMs: Date.now() + 600_000 })]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/pair <name> <setup-code>/u);
  });
});
