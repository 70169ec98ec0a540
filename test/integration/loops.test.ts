import { randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createMessenger, type Messenger } from "../../src/index.js";
import { MessagingKeyStore } from "../../src/trust/messaging-key.js";
import { freePort, startGateway, type TestGateway } from "../harness/gateway.js";
import { type MockModelServer, startMockModel } from "../harness/mock-model.js";
import { readHistory, textOf } from "../harness/oracle.js";
import { loadInstalledPlugin } from "../harness/plugin-install.js";
import { testLog } from "../harness/secrets-watch.js";

// Two agents scripted to always answer each other: any turn that holds PINGPONG makes the agent
// call instance_send with PINGPONG to the other instance. Both Gateways run the plugin with the
// default loop budget (8 hops per conversation per hour) and each pinned the other's key.
const NAMES = ["xiaoa", "xiaom"] as const;
type Name = (typeof NAMES)[number];
const other = (name: Name): Name => (name === "xiaoa" ? "xiaom" : "xiaoa");
const BUDGET_LINE = /inter-instance: the conversation (\S+) with (\S+) reached its budget of 8 hops in 60 minutes/gu;

let scratch: string;
const mocks = {} as Record<Name, MockModelServer>;
const gateways = {} as Record<Name, TestGateway>;
let starter: Messenger;

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), "oii-loops-"));
  const plan = Object.fromEntries(
    await Promise.all(
      NAMES.map(
        async (name) =>
          [
            name,
            {
              port: await freePort(),
              token: `tok-${name}-${randomBytes(12).toString("hex")}`,
              stateDir: join(scratch, `${name}-plugin`),
              key: new MessagingKeyStore(join(scratch, `${name}-plugin`)).key(),
            },
          ] as const,
      ),
    ),
  ) as unknown as Record<Name, { port: number; token: string; stateDir: string; key: { publicKey: string } }>;
  for (const name of NAMES) mocks[name] = await startMockModel({ pingPongTo: other(name) });
  await Promise.all(
    NAMES.map(async (name) => {
      const peer = plan[other(name)];
      gateways[name] = await startGateway({
        modelBaseUrl: mocks[name].url,
        name: `${name}-loop`,
        port: plan[name].port,
        token: plan[name].token,
        beforeStart: (gateway) =>
          loadInstalledPlugin(gateway, {
            hooks: { allowConversationAccess: true },
            config: {
              self: { name },
              stateDir: plan[name].stateDir,
              instances: {
                [other(name)]: {
                  publicKey: peer.key.publicKey,
                  gateway: { url: `ws://127.0.0.1:${peer.port}`, token: peer.token },
                  transports: ["sessions_send"],
                },
              },
            },
          }),
      });
    }),
  );
  // The first message comes from Xiaoa's side (its plugin's key, from the same state dir), as its owner would send it.
  starter = createMessenger({
    config: {
      self: { name: "xiaoa" },
      stateDir: plan.xiaoa.stateDir,
      instances: { xiaom: { gateway: { url: gateways.xiaom.url, token: plan.xiaom.token }, transports: ["sessions_send"] } },
    },
    log: testLog(),
  });
}, 420_000);

afterAll(async () => {
  await starter?.close();
  await Promise.all(NAMES.map((name) => gateways[name]?.dispose()));
  for (const name of NAMES) await mocks[name]?.close();
  await rm(scratch, { recursive: true, force: true });
});

/** The inter-instance messages that reached a Gateway's main session, in order. */
async function arrived(name: Name): Promise<string[]> {
  const rows = await readHistory(gateways[name], "agent:main:main", 1000);
  return rows
    .filter((row) => row.role === "user")
    .flatMap((row) => [...textOf(row.content).matchAll(/^\[Message from (\S+) via openclaw-inter-instance, id (\S+)\]$/gmu)].map((match) => match[2]!));
}

const budgetLines = async (name: Name) => [...(await readFile(gateways[name].logFile, "utf8")).matchAll(BUDGET_LINE)];

describe("loop limits between two agents that always answer", () => {
  it("the conversation ends at its budget of 8 hops; each owner is told once; the 9th send is not made", async () => {
    const first = await starter.send({ to: "xiaom", body: "PINGPONG" });
    expect(first).toMatchObject({ ok: true, via: "sessions_send" });
    await expect
      .poll(async () => (await budgetLines("xiaoa")).length > 0 && (await budgetLines("xiaom")).length > 0, { timeout: 300_000, interval: 2000 })
      .toBe(true);
    // Time for a runaway loop to show itself: nothing more may move.
    await delay(20_000);
    const atXiaom = await arrived("xiaom");
    const atXiaoa = await arrived("xiaoa");
    // Hops 1, 3, 5, 7 reached Xiaom; 2, 4, 6, 8 reached Xiaoa.
    expect(atXiaom).toHaveLength(4);
    expect(atXiaoa).toHaveLength(4);
    expect(atXiaom[0]).toBe(first.id);
    for (const name of NAMES) {
      const lines = await budgetLines(name);
      expect(lines, name).toHaveLength(1);
      expect(lines[0]![1]).toBe(first.id);
      expect(lines[0]![2]).toBe(other(name));
    }
    // Xiaoa's agent tried the 9th hop and was told it was not sent.
    const toolResults = mocks.xiaoa.requests.flatMap((request) =>
      (request.body.messages ?? []).filter((message) => message.role === "tool").map((message) => textOf(message.content)),
    );
    expect(toolResults.some((text) => text.includes("Not sent: this conversation with xiaom"))).toBe(true);
  }, 420_000);
});
