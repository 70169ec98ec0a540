import { spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createWriteStream, existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { watchSecret } from "./secrets-watch.ts";

const repoRoot = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const openclawEntry = join(repoRoot, "test", "openclaw-host", "node_modules", "openclaw", "openclaw.mjs");

export interface GatewayOptions {
  /** Model provider base URL, e.g. the mock model's `http://127.0.0.1:<port>/v1`. */
  readonly modelBaseUrl: string;
  /** Extra config merged over the generated `openclaw.json` (shallow per top-level key). */
  readonly extraConfig?: Record<string, unknown>;
  readonly readyTimeoutMs?: number;
  readonly name?: string;
  /** The mock model's context window in tokens (32,000 unless set); a turn that does not fit never reaches the transcript. */
  readonly contextWindow?: number;
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

async function waitForReady(httpUrl: string, child: ChildProcess, logFile: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      const log = await readFile(logFile, "utf8").catch(() => "");
      throw new Error(`Gateway exited before it was ready (code ${child.exitCode}, signal ${child.signalCode}). Log tail:\n${log.slice(-3000)}`);
    }
    try {
      const res = await fetch(`${httpUrl}/readyz`, { signal: AbortSignal.timeout(2000) });
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  const log = await readFile(logFile, "utf8").catch(() => "");
  throw new Error(`Gateway at ${httpUrl} not ready after ${timeoutMs} ms. Log tail:\n${log.slice(-3000)}`);
}

function gatewayConfig(port: number, token: string, modelBaseUrl: string, extra: Record<string, unknown>, contextWindow = 32_000): Record<string, unknown> {
  const base: Record<string, unknown> = {
    gateway: { mode: "local", port, bind: "loopback", auth: { mode: "token", token } },
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

/** Starts a real OpenClaw Gateway on a free loopback port with its own state dir, home, token and workspace. */
export async function startGateway(options: GatewayOptions): Promise<TestGateway> {
  assertNode24();
  const name = options.name ?? "gw";
  const dir = await mkdtemp(join(tmpdir(), `oii-${name}-`));
  const stateDir = join(dir, "state");
  const homeDir = join(dir, "home");
  await mkdir(stateDir, { recursive: true });
  await mkdir(homeDir, { recursive: true });
  const port = await freePort();
  const token = `tok-${name}-${randomBytes(12).toString("hex")}`;
  watchSecret(token);
  const config = gatewayConfig(port, token, options.modelBaseUrl, options.extraConfig ?? {}, options.contextWindow);
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

  const start = async (): Promise<void> => {
    const log = createWriteStream(logFile, { flags: "a" });
    const spawned = spawn(process.execPath, [openclawEntry, "gateway", "run"], {
      cwd: dir,
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    spawned.stdout?.pipe(log);
    spawned.stderr?.pipe(log);
    children.add(spawned);
    spawned.once("exit", () => children.delete(spawned));
    child = spawned;
    await waitForReady(`http://127.0.0.1:${port}`, spawned, logFile, options.readyTimeoutMs ?? 90_000);
  };

  const stop = () => stopProcess(child, 10_000);

  await options.beforeStart?.({ stateDir, env, token, port });
  await start();
  return {
    name,
    port,
    url: `ws://127.0.0.1:${port}`,
    httpUrl: `http://127.0.0.1:${port}`,
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
