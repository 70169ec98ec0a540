import { randomBytes } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { startGateway, type TestGateway } from "./gateway.ts";
import { type MockModelServer, startMockModel } from "./mock-model.ts";
import { INSTALLED_PLUGIN_URL, installPluginOnce } from "./plugin-install.ts";

/**
 * The run's shared Gateways (Vitest `globalSetup`): one real Gateway per configuration shape, started
 * the first time a test file asks for it and stopped when the run ends. A file that only needs a target
 * to talk to borrows one (`test/harness/fixtures.ts`) and works in its own session keys; a file that
 * kills, restarts, partitions or reconfigures its Gateway starts its own with `startGateway`.
 */
export type GatewayShape = "plain";

/** What a test file gets: everything about the Gateway but the right to stop it (plain data, sent as JSON). */
export type SharedGatewayInfo = Omit<TestGateway, "stop" | "start" | "dispose" | "host" | "tlsFingerprint" | "cliEnv"> & {
  readonly cliEnv: NodeJS.ProcessEnv;
  /** Its mock model's base URL (the model witness answers there too). */
  readonly modelBaseUrl: string;
  /** The bearer token its A2A channel takes from the peer `xiaoa`. */
  readonly a2aPeerToken: string;
};

declare module "vitest" {
  export interface ProvidedContext {
    gatewayPoolUrl: string;
  }
}

interface Started {
  readonly gateway: TestGateway;
  readonly mock: MockModelServer;
  readonly info: SharedGatewayInfo;
}

const A2A_PEER_TOKEN = `peer-${randomBytes(12).toString("hex")}`;

async function startShape(shape: GatewayShape): Promise<Started> {
  const mock = await startMockModel();
  const gateway = await startGateway({
    modelBaseUrl: mock.url,
    name: `shared-${shape}`,
    // Holds a 1 MiB body: a turn that does not fit the model never reaches the transcript.
    contextWindow: 2_000_000,
    extraConfig: { channels: { a2a: { enabled: true, peers: { xiaoa: { token: A2A_PEER_TOKEN } } } } },
  });
  const { stop: _stop, start: _start, dispose: _dispose, host: _host, tlsFingerprint: _tls, cliEnv, ...rest } = gateway;
  return { gateway, mock, info: { ...rest, pid: gateway.pid, cliEnv: cliEnv(), modelBaseUrl: mock.url, a2aPeerToken: A2A_PEER_TOKEN } };
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const shapes = new Map<GatewayShape, Promise<Started>>();
  // The plugin, installed by OpenClaw once for the run when a file first asks (see loadInstalledPlugin).
  const installRoot = await mkdtemp(join(tmpdir(), "oii-plugin-"));
  let installed: Promise<string> | undefined;
  const server: Server = createServer((request, response) => {
    if (request.url === "/installed-plugin") {
      installed ??= installPluginOnce(installRoot);
      installed.then(
        (dir) => response.writeHead(200, { "content-type": "text/plain" }).end(dir),
        (error: unknown) => response.writeHead(500).end(error instanceof Error ? error.message : String(error)),
      );
      return;
    }
    const shape = request.url?.slice(1) as GatewayShape;
    if (shape !== "plain") {
      response.writeHead(404).end(`no such Gateway shape: ${shape}`);
      return;
    }
    let started = shapes.get(shape);
    if (!started) shapes.set(shape, (started = startShape(shape)));
    started.then(
      ({ info }) => response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(info)),
      (error: unknown) => response.writeHead(500).end(error instanceof Error ? error.message : String(error)),
    );
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const poolUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  project.provide("gatewayPoolUrl", poolUrl);
  // In the environment rather than provided: the benchmarks the suite runs as child processes use it too.
  process.env[INSTALLED_PLUGIN_URL] = `${poolUrl}/installed-plugin`;
  return async () => {
    server.close();
    await Promise.all(
      [...shapes.values()].map(async (started) => {
        const { gateway, mock } = await started.catch(() => ({ gateway: undefined, mock: undefined }));
        await gateway?.dispose();
        await mock?.close();
      }),
    );
    await installed?.catch(() => undefined);
    await rm(installRoot, { recursive: true, force: true });
  };
}
