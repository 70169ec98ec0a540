import { randomBytes, randomUUID } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { APPLIES, type ConfigInput, createMessenger, TRANSPORT_IDS, type Transport, type TransportId, UnavailableError } from "../../src/index.js";
import { NatsFleet } from "../../src/transports/nats/fleet.js";
import { a2aContextId, incomingPath } from "../../src/transports.js";
import { startA2aGateway } from "../harness/a2a-gateway.js";
import { openclawEntry, type TestGateway } from "../harness/gateway.js";
import { type MockModelServer, startMockModel } from "../harness/mock-model.js";
import { natsServerOrSkip, startNatsServer, type TestNatsServer } from "../harness/nats-server.js";
import { allowNodeFileWrites, startNodeHost, type TestNodeHost } from "../harness/node-host.js";
import { readHistory, readMemoryEntries, textOf } from "../harness/oracle.js";
import { testLog } from "../harness/secrets-watch.js";

// One target with every transport configured against the real thing: B's RPC (sessions_send,
// agent_cli), a node host paired to B (nodes), B's workspace (memory_file), B's A2A channel (a2a)
// a channel send on B (message_tool) and a NATS fleet's stream (nats). Each run disables the transports before one of them.
const PEER_TOKEN = `peer-${randomBytes(12).toString("hex")}`;
const LOOP_TOKEN = `loop-${randomBytes(12).toString("hex")}`;
const ORDER = ["sessions_send", "nodes", "agent_cli", "memory_file", "message_tool", "a2a", "nats"] as const satisfies readonly TransportId[];
const withNats = await natsServerOrSkip("walk.test.ts (its nats step)");
let mock: MockModelServer;
let gatewayB: TestGateway;
let node: TestNodeHost;
let scratch: string;
let nats: TestNatsServer | undefined;

beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), "oii-walk-"));
  if (withNats) nats = await startNatsServer();
  mock = await startMockModel();
  gatewayB = await startA2aGateway({
    modelBaseUrl: mock.url,
    name: "xiaom-walk",
    peerToken: PEER_TOKEN,
    loopToken: LOOP_TOKEN,
    beforeStart: ({ stateDir }) => allowNodeFileWrites(stateDir, [`${join(stateDir, "workspace")}/.openclaw-inter-instance/**`]),
  });
  await mkdir(gatewayB.workspace, { recursive: true });
  node = await startNodeHost(gatewayB, { displayName: "xiaom-walk-node" });
}, 240_000);

afterAll(async () => {
  await node?.dispose();
  await gatewayB?.dispose();
  await mock?.close();
  await nats?.dispose();
  await rm(scratch, { recursive: true, force: true });
});

/** Stands in for a transport that is down: it applies, and refuses as unavailable. */
function disabled(id: TransportId): Transport {
  return {
    id,
    applies: () => APPLIES,
    deliver: async () => {
      throw new UnavailableError(`${id} disabled by the test`, { code: "DISABLED" });
    },
  };
}

function config(): ConfigInput {
  const gateway = { url: gatewayB.url, token: gatewayB.token };
  return {
    self: { name: "xiaoa" },
    stateDir: join(scratch, "client-state"),
    openclawCli: { bin: openclawEntry },
    ...(nats ? { nats: { servers: [nats.url], fleet: "walk" } } : {}),
    instances: {
      xiaom: {
        gateway,
        node: { gateway, name: "xiaom-walk-node", workspace: gatewayB.workspace },
        workspace: gatewayB.workspace,
        a2a: { url: gatewayB.httpUrl, token: PEER_TOKEN },
        messageTool: { channel: "a2a", to: "loop" },
        transports: [...ORDER],
      },
    },
  };
}

/** Where each transport's delivery shows on B. */
async function arrived(via: TransportId, marker: string, id: string): Promise<boolean> {
  const inSession = async (sessionKey?: string) =>
    (await readHistory(gatewayB, sessionKey)).some((row) => row.role === "user" && textOf(row.content).includes(marker));
  switch (via) {
    case "sessions_send":
    case "agent_cli":
      return inSession();
    case "nodes":
      return existsSync(incomingPath(gatewayB.workspace, id));
    case "memory_file":
      return (await readMemoryEntries(gatewayB.workspace)).some((entry) => entry.id === id);
    case "message_tool":
      return inSession("agent:main:a2a:default:direct:loop:ctx-oc-loop");
    case "a2a":
      return inSession(`agent:main:a2a:default:direct:xiaoa:${a2aContextId("xiaoa")}`.toLowerCase());
    case "nats": {
      // In the fleet's stream on Xiaom's subject, waiting for Xiaom's consumer (the plugin, not installed here).
      const fleet = new NatsFleet({ servers: [nats!.url], fleet: "walk", duplicateWindowMs: 7_200_000, maxDeliver: 5, presenceTtlMs: 120_000 });
      try {
        const stored = await (await fleet.manager()).streams.getMessage(fleet.names.stream, { last_by_subj: fleet.names.inbox("xiaom") });
        return stored?.json<{ id: string }>().id === id;
      } finally {
        await fleet.close();
      }
    }
  }
}

describe("the dispatcher walks the whole order on real transports", () => {
  it.skipIf(!withNats)("has every transport in the walk", () => {
    expect([...ORDER].sort()).toEqual([...TRANSPORT_IDS].sort());
  });

  for (const [index, expected] of ORDER.entries()) {
    const down = ORDER.slice(0, index);
    it.skipIf(expected === "nats" && !withNats)(
      `${down.length === 0 ? "nothing disabled" : `${down.join(", ")} disabled`}: ${expected} takes over, and the report names every attempt`,
      async () => {
        const client = createMessenger({ config: config(), transports: down.map(disabled), log: testLog() });
        try {
          const marker = randomUUID();
          const report = await client.send({ to: "xiaom", body: `walk ${expected} ${marker}` });
          expect(report.via, JSON.stringify(report.attempts)).toBe(expected);
          expect(report.attempts.map((attempt) => [attempt.transport, attempt.outcome])).toEqual([
            ...down.map((id) => [id, "unavailable"]),
            [expected, report.status],
          ]);
          for (const attempt of report.attempts.slice(0, -1)) expect(attempt.error?.code).toBe("DISABLED");
          await expect.poll(() => arrived(expected, marker, report.id), { timeout: 60_000, interval: 1_000 }).toBe(true);
        } finally {
          await client.close();
        }
      },
      180_000,
    );
  }
});
