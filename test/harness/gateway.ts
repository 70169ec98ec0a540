import { type ChildProcess, type SpawnOptions, spawn } from "node:child_process";
import { randomBytes, X509Certificate } from "node:crypto";
import { createWriteStream, existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { recordBoot, recordGatewayCpu } from "./boot-ledger.ts";
import { cpuSecondsOfTree } from "./cpu-time.ts";
import type { Host } from "./netns.ts";
import { watchSecret } from "./secrets-watch.ts";

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const openclawEntry = join(repoRoot, "test", "openclaw-host", "node_modules", "openclaw", "openclaw.mjs");
/** The older release installed beside it (test/openclaw-host-legacy), for mixed versions. */
export const legacyOpenclawEntry = join(repoRoot, "test", "openclaw-host-legacy", "node_modules", "openclaw", "openclaw.mjs");
export const LEGACY_OPENCLAW_VERSION = "2026.7.35";

export interface GatewayOptions {
  /** Model provider base URL, e.g. the mock model's `http://127.0.0.1:<port>/v1`. */
  readonly modelBaseUrl: string;
  /** Extra config merged over the generated `openclaw.json` (shallow per top-level key). */
  readonly extraConfig?: Record<string, unknown>;
  readonly readyTimeoutMs?: number;
  readonly name?: string;
  /** The mock model's context window in tokens (32,000 unless set); a turn that does not fit never reaches the transcript. */
  readonly contextWindow?: number;
  /** Run the Gateway inside this test host (a network namespace) instead of on this machine's loopback. */
  readonly host?: Host;
  /** `loopback` (default), `lan` (0.0.0.0) or `custom` (the host's own address); off loopback needs a host. */
  readonly bind?: "loopback" | "lan" | "custom";
  /** Run the older OpenClaw release (`legacyOpenclawEntry`) instead of the pinned one. */
  readonly legacy?: boolean;
  /** Serve wss:// with the self-signed pair OpenClaw generates (`gateway.tls.autoGenerate`). */
  readonly tls?: boolean;
  /** Listen on this port and take this token (chosen ahead, e.g. so two Gateways can each be configured with the other's address). */
  readonly port?: number;
  readonly token?: string;
  /** Runs after the config is written and before the first start, e.g. to install a plugin. */
  readonly beforeStart?: (gateway: { stateDir: string; env: NodeJS.ProcessEnv; token: string; port: number }) => Promise<void>;
}

export interface TestGateway {
  readonly name: string;
  readonly port: number;
  readonly url: string;
  readonly httpUrl: string;
  readonly token: string;
  readonly dir: string;
  readonly stateDir: string;
  readonly homeDir: string;
  readonly workspace: string;
  readonly logFile: string;
  readonly pid: number | undefined;
  /** The address clients use: 127.0.0.1, or the test host's. */
  readonly address: string;
  /** The `openclaw.mjs` it runs (the pinned release or the older one). */
  readonly openclawEntry: string;
  /** The test host it runs in, if any. */
  readonly host: Host | undefined;
  /** Its URL from its own machine (loopback, or the host's address when bound to that alone). */
  readonly loopbackUrl: string;
  /** SHA-256 fingerprint of the Gateway's TLS certificate as Node prints it (colon hex), when TLS is on; read anew after each start. */
  readonly tlsFingerprint: string | undefined;
  /** Environment that points the `openclaw` CLI at this Gateway's state dir. */
  cliEnv(): NodeJS.ProcessEnv;
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stops the Gateway and removes its directory. */
  dispose(): Promise<void>;
}

/** Asks the OS for a free loopback port. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

function assertNode24(): void {
  const [major = 0, minor = 0] = process.versions.node.split(".").map(Number);
  if (major < 24 || (major === 24 && minor < 16)) {
    throw new Error(
      `OpenClaw needs Node >= 24.16 but the tests run on ${process.versions.node}. Run them with \`npm test\`, which puts the Node 24 of the "node" devDependency first on PATH.`,
    );
  }
  if (!existsSync(openclawEntry)) {
    throw new Error(`OpenClaw is not installed at ${openclawEntry}. Run \`npm install\` at the repository root.`);
  }
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the process has exited. */
export async function stopProcess(child: ChildProcess | undefined, graceMs: number): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
  await exited;
  clearTimeout(timer);
}

const children = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of children) child.kill("SIGKILL");
});

/** One readiness probe from where clients stand: this process, or inside the test host. */
async function probeReady(url: string, host: Host | undefined): Promise<boolean> {
  if (!host) {
    try {
      return (await fetch(url, { signal: AbortSignal.timeout(2000) })).ok;
    } catch {
      return false;
    }
  }
  // Inside the host: its loopback may be the only way in, and https there uses a self-signed pair.
  const script = `const u=new URL(process.argv[1]);(u.protocol==="https:"?require("node:https"):require("node:http")).get(u,{rejectUnauthorized:false,timeout:2000},(r)=>process.exit(r.statusCode===200?0:1)).on("error",()=>process.exit(1))`;
  return (await host.exec(process.execPath, ["-e", script, url], { timeoutMs: 5000 })).exitCode === 0;
}

async function waitForReady(readyUrl: string, host: Host | undefined, child: ChildProcess, logFile: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      const log = await readFile(logFile, "utf8").catch(() => "");
      throw new Error(`Gateway exited before it was ready (code ${child.exitCode}, signal ${child.signalCode}). Log tail:\n${log.slice(-3000)}`);
    }
    if (await probeReady(readyUrl, host)) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  const log = await readFile(logFile, "utf8").catch(() => "");
  throw new Error(`Gateway at ${readyUrl} not ready after ${timeoutMs} ms. Log tail:\n${log.slice(-3000)}`);
}

function gatewayConfig(
  port: number,
  token: string,
  modelBaseUrl: string,
  extra: Record<string, unknown>,
  contextWindow = 32_000,
  network: Record<string, unknown> = { bind: "loopback" },
): Record<string, unknown> {
  const base: Record<string, unknown> = {
    gateway: { mode: "local", port, ...network, auth: { mode: "token", token } },
    agents: { defaults: { model: { primary: "mock/mock-1" } } },
    models: {
      mode: "merge",
      providers: {
        mock: {
          baseUrl: modelBaseUrl,
          apiKey: "mock-key",
          api: "openai-completions",
          models: [
            {
              id: "mock-1",
              name: "Mock",
              reasoning: false,
              input: ["text"],
              cost: { input: 0, output: 0, cacheRead: 0, cacheWrite: 0 },
              contextWindow,
              maxTokens: 1024,
            },
          ],
        },
      },
    },
  };
  return { ...base, ...extra };
}

/** Whether the Gateway's config turns TLS on (`gateway.tls.enabled`), as it will start. */
async function tlsConfigured(stateDir: string): Promise<boolean> {
  const config = JSON.parse(await readFile(join(stateDir, "openclaw.json"), "utf8")) as { gateway?: { tls?: { enabled?: unknown } } };
  return config.gateway?.tls?.enabled === true;
}

const STARVED_AT_START = /state lease heartbeat did not become ready \(phase=startup/u;

/** Starts a real OpenClaw Gateway on a free loopback port with its own state dir, home, token and workspace. */
export async function startGateway(options: GatewayOptions): Promise<TestGateway> {
  assertNode24();
  const name = options.name ?? "gw";
  const dir = await mkdtemp(join(tmpdir(), `oii-${name}-`));
  const stateDir = join(dir, "state");
  const homeDir = join(dir, "home");
  await mkdir(stateDir, { recursive: true });
  await mkdir(homeDir, { recursive: true });
  const port = options.port ?? (await freePort());
  const token = options.token ?? `tok-${name}-${randomBytes(12).toString("hex")}`;
  watchSecret(token);
  const entry = options.legacy ? legacyOpenclawEntry : openclawEntry;
  if (!existsSync(entry))
    throw new Error(`OpenClaw is not installed at ${entry}. Run \`npm install\` at the repository root (its prepare script installs both releases).`);
  const bind = options.bind ?? "loopback";
  if (bind !== "loopback" && !options.host) throw new Error("A Gateway off loopback needs a test host (createHosts in test/harness/netns.ts).");
  const address = bind === "loopback" || !options.host ? "127.0.0.1" : options.host.address;
  const network = {
    bind,
    ...(bind === "custom" ? { customBindHost: address } : {}),
    ...(options.tls ? { tls: { enabled: true, autoGenerate: true } } : {}),
  };
  const config = gatewayConfig(port, token, options.modelBaseUrl, options.extraConfig ?? {}, options.contextWindow, network);
  await writeFile(join(stateDir, "openclaw.json"), `${JSON.stringify(config, null, 2)}\n`);
  const logFile = join(dir, "gateway.log");
  const env: NodeJS.ProcessEnv = {
    // OpenClaw silences its console log when it sees it runs under Vitest; the tests read that log.
    ...Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith("VITEST") && key !== "NODE_ENV" && key !== "TEST")),
    OPENCLAW_STATE_DIR: stateDir,
    HOME: homeDir,
    OPENCLAW_GATEWAY_TOKEN: undefined,
    OPENCLAW_GATEWAY_URL: undefined,
  };
  let child: ChildProcess | undefined;
  let tlsFingerprint: string | undefined;
  // TLS as the config says at each start: a test may turn it on with `openclaw config set` and restart.
  let scheme = options.tls ? "s" : "";
  // The test file that started it (the boot ledger's caller), to charge its CPU to at stop.
  let caller = "unknown";

  const start = async (): Promise<void> => {
    try {
      await startOnce();
    } catch (error) {
      // OpenClaw 2026.9 gives its state-lease worker a fixed 5 s to come up and exits when a starved
      // CPU (a hog beside the suite) makes it late: an upstream start-up race, tried once more.
      if (!(error instanceof Error && STARVED_AT_START.test(error.message))) throw error;
      process.stderr.write(`[harness] Gateway ${name} exited at start-up, starved of CPU (state lease heartbeat); starting it again\n`);
      await startOnce();
    }
  };

  const startOnce = async (): Promise<void> => {
    const log = createWriteStream(logFile, { flags: "a" });
    const spawnOptions: SpawnOptions = { cwd: dir, env, stdio: ["ignore", "pipe", "pipe"] };
    const spawned = options.host
      ? options.host.spawn(process.execPath, [entry, "gateway", "run"], spawnOptions)
      : spawn(process.execPath, [entry, "gateway", "run"], spawnOptions);
    spawned.stdout?.pipe(log);
    spawned.stderr?.pipe(log);
    children.add(spawned);
    spawned.once("exit", () => children.delete(spawned));
    child = spawned;
    const spawnedAt = performance.now();
    scheme = (await tlsConfigured(stateDir)) ? "s" : "";
    // Inside a host bound to loopback, only that host can reach it: readiness is asked from there.
    await waitForReady(`http${scheme}://${address}:${port}/readyz`, options.host, spawned, logFile, options.readyTimeoutMs ?? 180_000);
    caller = recordBoot(name, performance.now() - spawnedAt);
    if (scheme) tlsFingerprint = new X509Certificate(await readFile(join(stateDir, "gateway", "tls", "gateway-cert.pem"))).fingerprint256;
  };

  const stop = async () => {
    const running = child && child.exitCode === null && child.signalCode === null ? child.pid : undefined;
    if (running !== undefined) recordGatewayCpu(caller, name, await cpuSecondsOfTree(running));
    await stopProcess(child, 10_000);
  };

  await options.beforeStart?.({ stateDir, env, token, port });
  await start();
  return {
    name,
    port,
    get url() {
      return `ws${scheme}://${address}:${port}`;
    },
    host: options.host,
    openclawEntry: entry,
    get loopbackUrl() {
      return `ws${scheme}://${bind === "custom" ? address : "127.0.0.1"}:${port}`;
    },
    get httpUrl() {
      return `http${scheme}://${address}:${port}`;
    },
    address,
    get tlsFingerprint() {
      return tlsFingerprint;
    },
    token,
    dir,
    stateDir,
    homeDir,
    workspace: join(stateDir, "workspace"),
    logFile,
    get pid() {
      return child?.pid;
    },
    cliEnv: () => ({ ...env }),
    stop,
    start,
    dispose: async () => {
      await stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The `openclaw` CLI on a test host, as the person at that machine runs it, against the Gateway there (its config, its state dir). */
export async function openclawOnHost(
  host: Host,
  gateway: TestGateway,
  args: readonly string[],
  timeoutMs = 90_000,
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const result = await host.exec(process.execPath, [gateway.openclawEntry, ...args], { env: gateway.cliEnv(), timeoutMs });
  return { code: result.exitCode, stdout: result.stdout, stderr: result.stderr };
}
