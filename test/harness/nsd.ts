import { type ChildProcess, spawn } from "node:child_process";
import { Resolver } from "node:dns/promises";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import which from "which";
import { stopProcess } from "./gateway.ts";
import type { Host } from "./netns.ts";

/**
 * For a test that needs programs from a Debian package: whether to run it. Outside CI a missing
 * program skips the test with one line saying what to install; under CI=true it fails the run.
 */
export async function binariesOrSkip(file: string, binaries: readonly string[], debianPackage: string): Promise<boolean> {
  const missing: string[] = [];
  for (const binary of binaries) if (!(await which(binary, { nothrow: true }))) missing.push(binary);
  if (missing.length === 0) return true;
  const line = `${file}: needs ${missing.join(" and ")} (Debian package ${debianPackage}: apt-get install -y ${debianPackage})`;
  if (process.env.CI) throw new Error(`${line}; .ci/run installs it when missing.`);
  console.warn(`skipped ${line}`);
  return false;
}

/** NLnet Labs' NSD, an authoritative DNS server that serves zone files as they are (what OpenClaw writes for CoreDNS). */
export const nsdOrSkip = (file: string): Promise<boolean> => binariesOrSkip(file, ["nsd", "nsd-checkzone"], "nsd");

export interface TestNsd {
  /** `address` or `address:port`, as `--dns-server` and `dns.Resolver#setServers` take it. */
  readonly server: string;
  readonly log: () => string;
  dispose(): Promise<void>;
}

/**
 * NSD in the foreground on one address and port (inside `host`'s namespace when given, else
 * here: give a loopback address then), serving `zones` from their files, with every path of its
 * own in a temporary directory and no remote control. Ready once it answers the first zone's SOA.
 */
export async function startNsd(options: {
  readonly address: string;
  readonly port: number;
  readonly zones: readonly { readonly name: string; readonly file: string }[];
  readonly host?: Host | undefined;
}): Promise<TestNsd> {
  const dir = await mkdtemp(join(tmpdir(), "oii-nsd-"));
  const quoted = (path: string) => JSON.stringify(path);
  const config = [
    "server:",
    `  ip-address: ${options.address}@${options.port}`,
    `  do-ip6: ${options.address.includes(":") ? "yes" : "no"}`,
    `  do-ip4: ${options.address.includes(":") ? "no" : "yes"}`,
    '  username: ""',
    '  chroot: ""',
    '  database: ""',
    `  zonesdir: ${quoted(dir)}`,
    `  zonelistfile: ${quoted(join(dir, "zone.list"))}`,
    `  xfrdfile: ${quoted(join(dir, "xfrd.state"))}`,
    `  xfrdir: ${quoted(dir)}`,
    `  pidfile: ${quoted(join(dir, "nsd.pid"))}`,
    "  server-count: 1",
    "  hide-version: yes",
    '  identity: ""',
    "remote-control:",
    "  control-enable: no",
    ...options.zones.flatMap((zone) => ["zone:", `  name: ${quoted(zone.name)}`, `  zonefile: ${quoted(zone.file)}`]),
  ].join("\n");
  const configFile = join(dir, "nsd.conf");
  await writeFile(configFile, `${config}\n`);
  const nsd = await which("nsd");
  const args = ["-d", "-c", configFile];
  const child: ChildProcess = options.host
    ? options.host.spawn(nsd, args, { stdio: ["ignore", "pipe", "pipe"] })
    : spawn(nsd, args, { stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  const keep = (chunk: Buffer) => (output = `${output}${chunk.toString()}`.slice(-8000));
  child.stdout?.on("data", keep);
  child.stderr?.on("data", keep);
  const server = options.port === 53 ? options.address : `${options.address.includes(":") ? `[${options.address}]` : options.address}:${options.port}`;
  const dispose = async () => {
    await stopProcess(child, 5000);
    await rm(dir, { recursive: true, force: true });
  };
  const resolver = new Resolver({ timeout: 300, tries: 1 });
  resolver.setServers([server]);
  const deadline = Date.now() + 20_000;
  for (;;) {
    const answered = await resolver.resolveSoa(options.zones[0]!.name).then(
      () => true,
      () => false,
    );
    if (answered) break;
    if (child.exitCode !== null || Date.now() > deadline) {
      await dispose();
      throw new Error(`nsd did not answer on ${server}:\n${output}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 150));
  }
  return { server, log: () => output, dispose };
}
