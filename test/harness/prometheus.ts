import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import which from "which";
import { freePort, stopProcess } from "./gateway.ts";

/** Whether Debian's prometheus (with promtool) is installed; outside CI a test without it is skipped, in CI it fails. */
export async function prometheusOrSkip(file: string): Promise<boolean> {
  if ((await which("prometheus", { nothrow: true })) && (await which("promtool", { nothrow: true }))) return true;
  const line = `${file}: needs prometheus and promtool (Debian package prometheus: apt-get install -y prometheus)`;
  if (process.env.CI) throw new Error(`${line}; .ci/run installs it when missing.`);
  console.warn(`skipped ${line}`);
  return false;
}

export interface TestPrometheus {
  readonly url: string;
  /** An instant PromQL query over the HTTP API: each series' labels and value. */
  query(promql: string): Promise<{ metric: Record<string, string>; value: number }[]>;
  /** The scrape target's health as Prometheus sees it ("up", "down", "unknown") and its last error. */
  target(): Promise<{ health: string; lastError: string } | undefined>;
  dispose(): Promise<void>;
}

/**
 * A real Prometheus on a free loopback port, scraping one target every second with a bearer token
 * (read from a file, so it is in no command line), its storage in a temporary directory.
 */
export async function startPrometheus(scrape: { target: string; path: string; bearerToken: string }): Promise<TestPrometheus> {
  const dir = await mkdtemp(join(tmpdir(), "oii-prometheus-"));
  const port = await freePort();
  const tokenFile = join(dir, "token");
  await writeFile(tokenFile, scrape.bearerToken, { mode: 0o600 });
  const config = {
    global: { scrape_interval: "1s", scrape_timeout: "1s", evaluation_interval: "1s" },
    scrape_configs: [
      {
        job_name: "inter-instance",
        metrics_path: scrape.path,
        authorization: { type: "Bearer", credentials_file: tokenFile },
        static_configs: [{ targets: [scrape.target] }],
      },
    ],
  };
  // JSON is YAML: no YAML library needed for a config this small.
  await writeFile(join(dir, "prometheus.yml"), JSON.stringify(config, null, 2));
  const child: ChildProcess = spawn(
    await which("prometheus"),
    [`--config.file=${join(dir, "prometheus.yml")}`, `--storage.tsdb.path=${join(dir, "data")}`, `--web.listen-address=127.0.0.1:${port}`],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  let stderr = "";
  child.stderr?.on("data", (chunk: Buffer) => (stderr = `${stderr}${chunk.toString()}`.slice(-4000)));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    const ready = await fetch(`${url}/-/ready`, { signal: AbortSignal.timeout(2000) }).then(
      (response) => response.ok,
      () => false,
    );
    if (ready) break;
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`Prometheus did not become ready on ${url}:\n${stderr}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return {
    url,
    async query(promql) {
      const response = await fetch(`${url}/api/v1/query?${new URLSearchParams({ query: promql })}`);
      const body = (await response.json()) as {
        status: string;
        error?: string;
        data?: { result: { metric: Record<string, string>; value: [number, string] }[] };
      };
      if (body.status !== "success") throw new Error(`PromQL ${promql}: ${body.error}`);
      return (body.data?.result ?? []).map((series) => ({ metric: series.metric, value: Number(series.value[1]) }));
    },
    async target() {
      const body = (await (await fetch(`${url}/api/v1/targets`)).json()) as { data: { activeTargets: { health: string; lastError: string }[] } };
      return body.data.activeTargets[0];
    },
    async dispose() {
      await stopProcess(child, 5000);
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** `promtool check metrics` (Prometheus' own linter) over a scrape's text, which it reads on its standard input. */
export async function promtoolCheck(text: string): Promise<{ code: number | null; output: string }> {
  const promtool = await which("promtool");
  return new Promise((resolve, reject) => {
    const child = spawn(promtool, ["check", "metrics"], { stdio: ["pipe", "pipe", "pipe"] });
    let output = "";
    child.stdout?.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr?.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, output }));
    child.stdin?.end(text);
  });
}
