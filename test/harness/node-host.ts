import { type ChildProcess, type SpawnOptions, spawn } from "node:child_process";
import { createWriteStream } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openclawEntry, openclawOnHost, stopProcess, type TestGateway } from "./gateway.ts";
import type { Host } from "./netns.ts";
import { gatewayRequest } from "./rpc.ts";

export interface TestNodeHost {
  readonly displayName: string;
  readonly nodeId: string;
  readonly logFile: string;
  /** HOME of the node host (its git config, for one). */
  readonly homeDir: string;
  stop(): Promise<void>;
  /** Starts the node host again; it reconnects with the same identity (no new approval). */
  start(): Promise<void>;
  dispose(): Promise<void>;
}

const children = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of children) child.kill("SIGKILL");
});

interface ListedNode {
  nodeId: string;
  displayName?: string;
  connected?: boolean;
  pendingRequestId?: string;
  commands?: string[];
}

/**
 * Node policy a Gateway needs before a node host first connects, so one approval covers
 * `system.run` and `file.write`: `gateway.nodes.commands.allow` and the file-transfer write policy.
 * The generated config is merged shallowly, so the `gateway` block is patched in place.
 */
export async function allowNodeFileWrites(stateDir: string, allowWritePaths: readonly string[]): Promise<void> {
  const path = join(stateDir, "openclaw.json");
  const config = JSON.parse(await readFile(path, "utf8")) as { gateway: Record<string, unknown>; plugins?: { entries?: Record<string, unknown> } };
  config.gateway.nodes = { commands: { allow: ["file.write"] } };
  config.plugins = {
    ...config.plugins,
    entries: { ...config.plugins?.entries, "file-transfer": { config: { policyVersion: 2, nodes: { "*": { ask: "off", allowWritePaths } } } } },
  };
  await writeFile(path, JSON.stringify(config, null, 2));
}

async function waitForLog(logFile: string, pattern: RegExp, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = pattern.exec(await readFile(logFile, "utf8").catch(() => ""))?.[1];
    if (found) return found;
    if (Date.now() > deadline) throw new Error(`${logFile} never showed ${pattern}`);
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
}

async function waitForNode(gateway: TestGateway, displayName: string, accept: (node: ListedNode) => boolean, timeoutMs: number): Promise<ListedNode> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { nodes } = await gatewayRequest<{ nodes: ListedNode[] }>(gateway, "node.list", {});
    const node = nodes.find((candidate) => candidate.displayName === displayName);
    if (node && accept(node)) return node;
    if (Date.now() > deadline) throw new Error(`node ${displayName} did not reach the expected state: ${JSON.stringify(node)}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/**
 * Runs a real headless `openclaw node run` paired to `gateway` (on loopback, or from another test
 * host across the link), with its own state dir and home, and approves its command surface once
 * (what `openclaw nodes approve` does).
 */
export async function startNodeHost(gateway: TestGateway, options: { displayName: string; env?: NodeJS.ProcessEnv; host?: Host }): Promise<TestNodeHost> {
  const dir = await mkdtemp(join(tmpdir(), `oii-node-${options.displayName}-`));
  await mkdir(join(dir, "state"));
  await mkdir(join(dir, "home"));
  const logFile = join(dir, "node.log");
  let child: ChildProcess | undefined;
  let devicePaired = false;
  const start = async (): Promise<void> => {
    const log = createWriteStream(logFile, { flags: "a" });
    // On another test host it dials out to the Gateway's address, over TLS pinned to its certificate when it serves one.
    const args = [openclawEntry, "node", "run", "--host", gateway.address, "--port", String(gateway.port), "--display-name", options.displayName];
    if (gateway.tlsFingerprint) args.push("--tls", "--tls-fingerprint", gateway.tlsFingerprint);
    const spawnOptions: SpawnOptions = {
      cwd: dir,
      env: {
        ...Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith("VITEST"))),
        ...options.env,
        OPENCLAW_STATE_DIR: join(dir, "state"),
        HOME: join(dir, "home"),
        OPENCLAW_GATEWAY_TOKEN: gateway.token,
      },
      stdio: ["ignore", "pipe", "pipe"],
    };
    child = options.host ? options.host.spawn(process.execPath, args, spawnOptions) : spawn(process.execPath, args, spawnOptions);
    child.stdout?.pipe(log);
    child.stderr?.pipe(log);
    const spawned = child;
    children.add(spawned);
    spawned.once("exit", () => children.delete(spawned));
    if (gateway.host && !devicePaired) {
      // From another machine the node host's device must be approved first, as a person does on the Gateway's machine.
      const requestId = await waitForLog(logFile, /device pairing required \(requestId: ([0-9a-f-]+)\)/u, 90_000);
      const approved = await openclawOnHost(gateway.host, gateway, ["devices", "approve", requestId, "--json"]);
      if (approved.code !== 0) throw new Error(`approving the node host's device failed: ${approved.stderr}`);
      devicePaired = true;
      // It paused its reconnects until an operator acted; start it again.
      await stopProcess(spawned, 5_000);
      return start();
    }
    await waitForNode(gateway, options.displayName, (node) => node.connected === true, 90_000);
  };
  const stop = async () => {
    await stopProcess(child, 5_000);
    await waitForNode(gateway, options.displayName, (node) => node.connected !== true, 30_000);
  };
  await start();
  const pending = await waitForNode(
    gateway,
    options.displayName,
    (node) => Boolean(node.pendingRequestId) || (node.commands ?? []).includes("system.run"),
    90_000,
  );
  if (pending.pendingRequestId) await gatewayRequest(gateway, "node.pair.approve", { requestId: pending.pendingRequestId });
  const approved = await waitForNode(gateway, options.displayName, (node) => (node.commands ?? []).includes("system.run"), 30_000);
  return {
    displayName: options.displayName,
    nodeId: approved.nodeId,
    logFile,
    homeDir: join(dir, "home"),
    stop,
    start,
    dispose: async () => {
      await stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
