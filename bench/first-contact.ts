// The first message of a new process over a link that drops silently, on loopback: a real Gateway
// behind a TCP proxy that, once blackholed, lets nothing through and closes nothing. Measured until
// the fallback (memory_file) delivered it, for a link never seen (no handshake on record: raced
// against a head start) and for a learned one (the budget from its recent handshakes). Scenario 8 of
// `npm run bench` measures the same across a network namespace with wss://.
//
// Alone: node bench/first-contact.ts [--n <count>] [--dist <dir>]   (--dist: another build of the library, to compare)

import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import type { ConfigInput } from "../dist/index.js";
import { startGateway, type TestGateway } from "../test/harness/gateway.ts";
import { startMockModel } from "../test/harness/mock-model.ts";
import { startTcpProxy } from "../test/harness/tcp-proxy.ts";
import { type Series, summarize, timed } from "./stats.ts";

type Library = Pick<typeof import("../dist/index.js"), "createMessenger">;

export interface FirstContactResult {
  /** A fresh state directory each time: the link was never seen. */
  readonly neverSeen: Series;
  /** The state directory that learned the link (its handshakes on record). */
  readonly learned: Series;
  /** The attempts of the last send of each kind: where the time went. */
  readonly lastAttempts: Record<"neverSeen" | "learned", readonly { transport: string; outcome: string; ms: number; code?: string }[]>;
}

function configFor(url: string, gateway: TestGateway, stateDir: string): ConfigInput {
  return {
    self: { name: "bench-a" },
    stateDir,
    defaults: { circuitCooldownMs: 30_000 },
    instances: { xiaom: { gateway: { url, token: gateway.token }, workspace: gateway.workspace, transports: ["sessions_send", "memory_file"] } },
  };
}

/** `count` first messages each way, interleaved, over a proxy in front of `gateway` that drops silently. */
export async function benchFirstContact(library: Library, gateway: TestGateway, scratch: string, count: number): Promise<FirstContactResult> {
  const proxy = await startTcpProxy(gateway.port);
  try {
    const lastAttempts: FirstContactResult["lastAttempts"] = { neverSeen: [], learned: [] };
    const send = async (stateDir: string, body: string, via: string, kind?: keyof FirstContactResult["lastAttempts"]) => {
      const link = library.createMessenger({ config: configFor(proxy.url, gateway, stateDir), log: { level: "silent" } });
      try {
        const report = await link.send({ to: "xiaom", body });
        if (!report.ok || report.via !== via) throw new Error(`expected delivery via ${via}, got ${JSON.stringify(report.attempts)}`);
        if (kind)
          lastAttempts[kind] = report.attempts.map((a) => ({
            transport: a.transport,
            outcome: a.outcome,
            ms: a.ms,
            ...(a.error ? { code: a.error.code } : {}),
          }));
      } finally {
        await link.close();
      }
    };
    const learnedDir = join(scratch, "learned");
    await send(learnedDir, "learns the link", "sessions_send");
    proxy.blackhole();
    const neverSeen: number[] = [];
    const learned: number[] = [];
    for (let i = 0; i < count; i += 1) {
      neverSeen.push(await timed(() => send(join(scratch, `fresh-${i}`), `first over a silent link, never seen ${i}`, "memory_file", "neverSeen")));
      learned.push(await timed(() => send(learnedDir, `first over a silent link, learned ${i}`, "memory_file", "learned")));
    }
    return {
      neverSeen: summarize("first message over a silently dropping link, never seen (until the fallback delivered)", neverSeen),
      learned: summarize("first message over a silently dropping link, learned budget (until the fallback delivered)", learned),
      lastAttempts,
    };
  } finally {
    proxy.heal();
    await proxy.close();
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const count = args.includes("--n") ? Number(args[args.indexOf("--n") + 1]) : 3;
  const dist = args.includes("--dist") ? String(args[args.indexOf("--dist") + 1]) : join(import.meta.dirname, "..", "dist");
  const library = (await import(pathToFileURL(join(dist, "index.js")).href)) as Library;
  const scratch = await mkdtemp(join(tmpdir(), "oii-bench-first-contact-"));
  const mock = await startMockModel();
  let gateway: TestGateway | undefined;
  try {
    gateway = await startGateway({ modelBaseUrl: mock.url, name: "first-contact" });
    await mkdir(gateway.workspace, { recursive: true });
    const result = await benchFirstContact(library, gateway, scratch, count);
    process.stdout.write(`${JSON.stringify({ date: new Date().toISOString(), dist, ...result }, null, 2)}\n`);
    const p = (series: Series) => `p50 ${Math.round(series.p50)} / p95 ${Math.round(series.p95)} ms`;
    process.stdout.write(
      `| first message, silent link | never seen ${p(result.neverSeen)} | learned ${p(result.learned)} | n=${count} each, until memory_file delivered |\n`,
    );
  } finally {
    await gateway?.dispose();
    await mock.close();
    await rm(scratch, { recursive: true, force: true });
  }
}
