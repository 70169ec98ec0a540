import { randomUUID } from "node:crypto";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test as base, inject } from "vitest";
import type { TestGateway } from "./gateway.ts";
import type { GatewayShape, SharedGatewayInfo } from "./gateway-pool.ts";
import { type ModelWitness, remoteModelWitness } from "./mock-model.ts";
import { gatewayRequest } from "./rpc.ts";
import { watchSecret } from "./secrets-watch.ts";

/** A shared Gateway as a test file sees it: usable everywhere a `TestGateway` is, but not the file's to stop. */
export interface BorrowedGateway extends TestGateway {
  /** The A2A channel's bearer token for the peer `xiaoa`. */
  readonly a2aPeerToken: string;
  /** What its model was given (the shared mock model, asked over HTTP). */
  readonly model: ModelWitness;
  /** A session of its own on the shared Gateway (created there), so files never read each other's turns. */
  newSession(label: string): Promise<string>;
}

/** Borrows the run's shared Gateway of this shape (started on first use by `test/harness/gateway-pool.ts`). */
export async function borrowGateway(shape: GatewayShape): Promise<BorrowedGateway> {
  const response = await fetch(`${inject("gatewayPoolUrl")}/${shape}`);
  if (!response.ok) throw new Error(`The shared "${shape}" Gateway did not start: ${await response.text()}`);
  const info = (await response.json()) as SharedGatewayInfo;
  watchSecret(info.token);
  watchSecret(info.a2aPeerToken);
  const notYours = (what: string) => () => Promise.reject(new Error(`The shared Gateway is not this file's to ${what}: start one with startGateway for that.`));
  const gateway: BorrowedGateway = {
    ...info,
    host: undefined,
    tlsFingerprint: undefined,
    cliEnv: () => ({ ...info.cliEnv }),
    stop: notYours("stop"),
    start: notYours("start"),
    dispose: notYours("dispose"),
    model: remoteModelWitness(info.modelBaseUrl),
    newSession: async (label) => {
      const key = `agent:main:${label}-${randomUUID().slice(0, 8)}`;
      await gatewayRequest(gateway, "sessions.create", { key });
      return key;
    },
  };
  // The Gateway makes its workspace at its first turn; a file may write a memory note before any.
  await mkdir(gateway.workspace, { recursive: true });
  return gateway;
}

export interface FileFixtures {
  /** A temporary directory for this file, removed after its last test. */
  scratch: string;
  /** The run's shared plain Gateway (A2A channel on, 2,000,000-token window), with the mock model behind it. */
  plainGateway: BorrowedGateway;
}

/** `it`/`test` with the fixtures test files share: each built once per file, on first use. */
export const test = base.extend<FileFixtures>({
  scratch: [
    // Vitest reads a fixture's dependencies from its first parameter's pattern: none here.
    // biome-ignore lint/correctness/noEmptyPattern: Vitest requires the destructuring pattern
    async ({}, use) => {
      const dir = await mkdtemp(join(tmpdir(), "oii-test-"));
      await use(dir);
      await rm(dir, { recursive: true, force: true });
    },
    { scope: "file" },
  ],
  plainGateway: [
    // biome-ignore lint/correctness/noEmptyPattern: Vitest requires the destructuring pattern
    async ({}, use) => use(await borrowGateway("plain")),
    { scope: "file" },
  ],
});

export const it = test;
