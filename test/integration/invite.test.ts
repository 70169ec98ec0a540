import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ConfigInput } from "../../src/index.js";
import { decodeInvite } from "../../src/invite/code.js";
import { pairingAwaitingApproval } from "../harness/approval.js";
import { openclawEntry, startGateway, type TestGateway } from "../harness/gateway.js";
import { type MockModelServer, startMockModel } from "../harness/mock-model.js";
import { createHosts, type Host, type Hosts, hostsOrSkip } from "../harness/netns.js";
import { openclawOnHost, readUserTexts } from "../harness/oracle.js";
import { watchOutput } from "../harness/secrets-watch.js";

// One invite, two machines: Xiaom (host b) makes an invite with `invite`, Xiaoa (host a) pastes it
// into `pair`. Both run a real Gateway with TLS; Xiaom's starts on loopback, so the first invite
// meets "the config says LAN, the socket says loopback" before Xiaom restarts it for real.
const run = await hostsOrSkip("invite.test.ts");
const bin = join(fileURLToPath(import.meta.url), "..", "..", "..", "dist", "cli", "bin.js");

let hosts: Hosts;
let a: Host;
let b: Host;
let mocks: MockModelServer[] = [];
let gatewayA: TestGateway;
let gatewayB: TestGateway;
let scratch: string;

/** The CLI on a host, as the person there runs it: that machine's OpenClaw state, its own config. */
function cliOn(host: Host, gateway: TestGateway, who: string) {
  const env = {
    ...gateway.cliEnv(),
    OPENCLAW_INTER_INSTANCE_CONFIG: join(scratch, `${who}.json`),
    OPENCLAW_INTER_INSTANCE_HOME: join(scratch, `${who}-state`),
  };
  return {
    env,
    run: async (args: string[], timeoutMs = 120_000) => {
      const result = await host.exec(process.execPath, [bin, ...args], { env, timeoutMs });
      watchOutput(`${result.stdout}\n${result.stderr}`);
      return result;
    },
  };
}

async function writeConfig(who: string): Promise<void> {
  const config: ConfigInput = { self: { name: who }, instances: {}, openclawCli: { bin: openclawEntry } };
  await writeFile(join(scratch, `${who}.json`), JSON.stringify(config));
}

beforeAll(async () => {
  if (!run) return;
  scratch = await mkdtemp(join(tmpdir(), "oii-invite-"));
  hosts = await createHosts(["a", "b"]);
  [a, b] = [hosts.get("a"), hosts.get("b")];
  mocks = await Promise.all([startMockModel({ address: a.gatewayAddress }), startMockModel({ address: b.gatewayAddress })]);
  [gatewayA, gatewayB] = await Promise.all([
    startGateway({ modelBaseUrl: mocks[0]!.url, name: "xiaoa-invite", host: a, bind: "lan", tls: true }),
    startGateway({ modelBaseUrl: mocks[1]!.url, name: "xiaom-invite", host: b, bind: "loopback", tls: true }),
  ]);
  await Promise.all([writeConfig("xiaoa"), writeConfig("xiaom")]);
}, 240_000);

afterAll(async () => {
  await Promise.all([gatewayA?.dispose(), gatewayB?.dispose()]);
  await Promise.all(mocks.map((mock) => mock.close()));
  await hosts?.dispose();
  if (scratch) await rm(scratch, { recursive: true, force: true });
});

describe.skipIf(!run)("invite on one machine, pair on the other", () => {
  it("config says LAN, socket says loopback: invite says a full process restart is needed, and how", async () => {
    const config = join(gatewayB.stateDir, "openclaw.json");
    const current = JSON.parse(await readFile(config, "utf8")) as { gateway: Record<string, unknown> };
    await writeFile(config, JSON.stringify({ ...current, gateway: { ...current.gateway, bind: "lan" } }, null, 2));
    const xiaom = cliOn(b, gatewayB, "xiaom");
    // The Gateway may reload its config in-process meanwhile; that keeps the old socket, which is the point.
    let result = await xiaom.run(["invite", "--json"]);
    for (let tries = 0; result.stdout.includes("GATEWAY_NOT_RUNNING") && tries < 5; tries += 1) {
      await new Promise((resolve) => setTimeout(resolve, 2000));
      result = await xiaom.run(["invite", "--json"]);
    }
    expect(result.exitCode, result.stderr).toBe(1);
    const { error } = JSON.parse(result.stdout) as { error: { code: string; message: string; hint: string } };
    expect(error.code).toBe("RESTART_NEEDED");
    expect(error.message).toMatch(/only loopback/u);
    expect(error.hint).toMatch(/systemctl --user restart openclaw-gateway\.service/u);
    expect(error.hint).toMatch(/launchctl kickstart -k/u);
    expect(error.hint).toMatch(/openclaw gateway run/u);
    expect(result.stderr).not.toMatch(/oii1\./u);
    // What the hint says: stop the process and start it again.
    await gatewayB.stop();
    await gatewayB.start();
  }, 150_000);

  it("invite on Xiaom, pair <invite> on Xiaoa: paired and pinned with one approval, a message delivered, the way back printed", async () => {
    const started = performance.now();
    const xiaom = cliOn(b, gatewayB, "xiaom");
    const made = await xiaom.run(["invite"]);
    expect(made.exitCode, made.stderr).toBe(0);
    expect(made.stdout).toMatch(/Valid until \d\d:\d\d:\d\d UTC \(in 10 minutes\)/u);
    expect(made.stdout).not.toContain(gatewayB.token);
    const command = /openclaw-inter-instance pair (oii1\.\S+)/u.exec(made.stdout)?.[1];
    expect(command, made.stdout).toBeTruthy();
    const invite = decodeInvite(command!);
    expect(invite).toMatchObject({ name: "xiaom", url: `wss://${b.address}:${gatewayB.port}`, tlsFingerprint: gatewayB.tlsFingerprint });
    const keys = await xiaom.run(["keys", "--json"]);
    expect(invite.publicKey).toBe((JSON.parse(keys.stdout) as { publicKey: string }).publicKey);

    const xiaoa = cliOn(a, gatewayA, "xiaoa");
    const pairing = a.spawn(process.execPath, [bin, "pair", command!, "--alias", "小m", "--timeout", "120"], {
      env: xiaoa.env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    const { requestId, finished } = await pairingAwaitingApproval(pairing);
    expect((await openclawOnHost(b, gatewayB, ["devices", "approve", requestId, "--json"])).code).toBe(0);
    const { code: exitCode, stdout, stderr } = await finished;
    watchOutput(`${stdout}\n${stderr}`);
    expect(exitCode, `${stdout}\n${stderr}`).toBe(0);
    expect(stdout).toMatch(/Paired with xiaom .*Pinned its messaging key SHA256:/u);
    expect(stdout).toMatch(/rpc-scope: granted .*operator\.write/u);

    const saved = JSON.parse(await readFile(join(scratch, "xiaoa.json"), "utf8")) as ConfigInput;
    expect(saved.instances.xiaom).toEqual({
      gateway: { url: invite.url, tlsFingerprint: gatewayB.tlsFingerprint },
      aliases: ["小m"],
      publicKey: invite.publicKey,
    });

    // The way back: an invite to Xiaoa's own Gateway, and the command to run on Xiaom.
    const back = /So that xiaom can answer, run this on xiaom[^\n]*\n\n\s+openclaw-inter-instance pair (oii1\.\S+)/u.exec(stdout)?.[1];
    expect(back, stdout).toBeTruthy();
    expect(decodeInvite(back!)).toMatchObject({ name: "xiaoa", url: `wss://${a.address}:${gatewayA.port}`, tlsFingerprint: gatewayA.tlsFingerprint });

    const marker = `paired by invite ${Date.now()}`;
    const sent = await xiaoa.run(["send", "小m", marker]);
    expect(sent.exitCode, sent.stderr).toBe(0);
    expect(sent.stdout).toMatch(/xiaom via sessions_send/u);
    await expect.poll(async () => (await readUserTexts(gatewayB)).filter((text) => text.includes(marker)).length, { timeout: 30_000 }).toBe(1);
    process.stderr.write(`[invite] invite → pair → approve → delivered in ${Math.round(performance.now() - started)} ms\n`);
    // The words a person sees, for whoever writes the README around them.
    if (process.env.OII_SHOW_WALK) process.stderr.write(`[invite] invite:\n${made.stdout}\n[invite] pair (stderr):\n${stderr}\n[invite] pair:\n${stdout}\n`);
  }, 200_000);
});
