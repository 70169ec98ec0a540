/**
 * "Other machines" for tests: one Linux network namespace per host, each joined to the root namespace (the hub)
 * by a veth pair, so host A reaches host B as A -> root -> B over real TCP/IP with its own address.
 *
 * Needs root (CAP_SYS_ADMIN + CAP_NET_ADMIN) and iproute2; check with `namespacesAvailable()` and skip otherwise.
 *
 * Addressing for one `createHosts` run (n = a random free second octet in 200..250, k = 1-based host index):
 *   root side of host k: 10.n.k.1/24 on `vethRoot`, host side: 10.n.k.2/24 on `eth0` inside the namespace,
 *   optional "public" address 198.18.n.k/32 (RFC 2544 benchmarking range: outside RFC 1918/CGNAT, so both this
 *   library's `isPlaintextAllowed` and OpenClaw treat it as a public host).
 * Containment: namespaces get routes only to the other hosts' /24s and public /32s, never a default route. The root
 * namespace gets a "sink" veth (one end up, peer down: packets are dropped) routing 10.n.0.0/16 and 198.18.n.0/24
 * at a high metric, so a host whose link is down (a partition) is a blackhole instead of a leak out of the root's
 * default route. Nothing else in the root namespace is touched, and every route we add hangs off a device we own.
 * Forwarding is enabled per root-side veth (`conf/<veth>/forwarding`), not globally, unless `forwarding: "global"`.
 *
 * Names carry the creating pid so `cleanupStale()` can remove what a crashed run left:
 *   namespaces `oii-<pid>-<rand6>-<name>`, root interfaces `oii<pid base36>-<rand3>-<k|z|y>` (<= 15 chars).
 *
 * With `lan: true` the hosts also share one L2 segment with real multicast (mDNS): a Linux bridge in an extra
 * "switch" namespace `oii-<pid>-<rand6>.switch` (a host name cannot contain ".", so it never clashes), one veth
 * per host from that bridge to the host, where it is the port of a one-port bridge `lan0` with 10.n.0.k/24, multicast on and the multicast route
 * 224.0.0.0/4 on `lan0`, so a socket that names no interface uses the LAN. Nothing new is put in the root
 * namespace. The bridges flood multicast (snooping off). ciao skips veths (see `joinLan`), so OpenClaw's
 * beacon never goes out of `eth0`; a responder that names every interface (bonjour-service's A records list
 * them) may still send link-local multicast (224.0.0.251) there: it reaches the root-side end of our own veth,
 * where nothing forwards multicast.
 */
import { type ChildProcess, execFile, execFileSync, type SpawnOptions, spawn } from "node:child_process";
import { randomBytes, randomInt } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export interface HostsOptions {
  /** Give hosts a "public" /32 (198.18.n.k): `true` for all, or the names of the hosts that get one. */
  readonly publicAddress?: boolean | readonly string[] | undefined;
  /**
   * "interface" (default): forwarding on the root-side veths only. "global": write 1 to
   * /proc/sys/net/ipv4/ip_forward and restore the original value when the last oii- run is gone. Note that any
   * write to ip_forward resets every interface's forwarding flag, so "global" runs and other writers affect
   * concurrent runs; "interface" changes nothing outside our own veths.
   */
  readonly forwarding?: "interface" | "global" | undefined;
  /** Force the second octet (200..250) instead of a random free one. */
  readonly secondOctet?: number | undefined;
  /** Also join every host to one bridged LAN with multicast (see the module comment): `lanAddress` on `lan0`. */
  readonly lan?: boolean | undefined;
}

export interface ExecResult {
  readonly stdout: string;
  readonly stderr: string;
  /** null when the process was ended by a signal (see `signal`), e.g. after `timeoutMs`. */
  readonly exitCode: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface HostExecOptions {
  readonly env?: NodeJS.ProcessEnv | undefined;
  readonly cwd?: string | undefined;
  /** SIGKILL after this long (default 60 s). */
  readonly timeoutMs?: number | undefined;
  readonly input?: string | undefined;
}

export interface Host {
  readonly name: string;
  /** 1-based index, the third octet of this host's addresses. */
  readonly index: number;
  readonly netns: string;
  /** 10.n.k.2, on `eth0` inside the namespace. */
  readonly address: string;
  /** 10.n.k.1, the root (hub) side; this host's next hop to the other hosts. */
  readonly gatewayAddress: string;
  readonly publicAddress?: string | undefined;
  /** Root-side interface name (<= 15 chars). */
  readonly vethRoot: string;
  /** Interface name inside the namespace. */
  readonly vethHost: string;
  /** With `lan`: 10.n.0.k on `lanInterface`, the shared L2 segment. */
  readonly lanAddress?: string | undefined;
  readonly lanInterface?: string | undefined;
  /** `ip netns exec <netns> <command> ...args`; the child's pid is the command's (ip execs it). Tracked for dispose. */
  spawn(command: string, args?: readonly string[], options?: SpawnOptions): ChildProcess;
  /** Runs to completion inside the namespace; never rejects on a non-zero exit. */
  exec(command: string, args?: readonly string[], options?: HostExecOptions): Promise<ExecResult>;
  /** Tries a TCP connect from inside this namespace. */
  tcpReachable(address: string, port: number, timeoutMs?: number): Promise<boolean>;
  /** `ip link set <vethRoot> down`: this host is cut off from every other host (packets are dropped). */
  linkDown(): Promise<void>;
  /** Heals `linkDown`, restoring the routes the kernel dropped with the link. */
  linkUp(): Promise<void>;
}

export interface Hosts {
  readonly hosts: Host[];
  /** The host with this name; throws when there is none. */
  get(name: string): Host;
  /** Second octet of this run's 10.n.0.0/16. */
  readonly secondOctet: number;
  /** Kills every process spawned through the hosts (SIGTERM, SIGKILL after 5 s), then removes namespaces and links. Idempotent. */
  dispose(): Promise<void>;
}

export type Availability = { readonly ok: true } | { readonly ok: false; readonly reason: string };

const IP = "ip";
const NS_PREFIX = "oii-";
const IF_PATTERN = /^oii([0-9a-z]{1,5})-[0-9a-f]{3}-[0-9a-z]{1,2}$/u;
const NS_PATTERN = /^oii-(\d+)-/u;
const SINK_METRIC = "4000";
const IP_FORWARD = "/proc/sys/net/ipv4/ip_forward";
const IP_FORWARD_SAVED = "/run/oii-netns.ip_forward.orig";
const KILL_GRACE_MS = 5_000;

interface RunResult {
  readonly stdout: string;
  readonly stderr: string;
  readonly code: number | null;
}

function run(file: string, args: readonly string[], timeoutMs = 30_000): Promise<RunResult> {
  return new Promise((resolve) => {
    execFile(file, [...args], { timeout: timeoutMs, maxBuffer: 16 * 1024 * 1024, encoding: "utf8" }, (error, stdout, stderr) => {
      const err = error as (NodeJS.ErrnoException & { code?: unknown }) | null;
      let code: number | null = 0;
      if (err) code = typeof err.code === "number" ? err.code : null;
      const extra = err && typeof err.code === "string" ? `${err.code}: ${err.message}` : "";
      resolve({ stdout, stderr: stderr || extra, code });
    });
  });
}

/** Runs `ip ...args`, throwing with the command line and ip's own message on failure. */
async function ip(...args: string[]): Promise<string> {
  const result = await run(IP, args);
  if (result.code !== 0) throw new Error(`ip ${args.join(" ")} failed: ${result.stderr.trim() || `exit ${result.code}`}`);
  return result.stdout;
}

function ipSync(...args: string[]): void {
  try {
    execFileSync(IP, args, { stdio: "ignore", timeout: 10_000 });
  } catch {
    // best effort
  }
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

function firstLine(text: string): string {
  return text.trim().split("\n")[0] ?? "";
}

async function listNamespaces(): Promise<string[]> {
  const out = await ip("netns", "list");
  return out
    .split("\n")
    .map((line) => line.trim().split(/\s+/u)[0] ?? "")
    .filter((name) => name.length > 0);
}

async function listRootLinks(): Promise<string[]> {
  const out = await ip("-o", "link", "show");
  // "12: name@peer: <...>" or "12: name@if3: <...>"
  return out
    .split("\n")
    .map((line) => /^\d+:\s+([^:@\s]+)/u.exec(line)?.[1] ?? "")
    .filter((name) => name.length > 0);
}

async function namespacePids(netns: string): Promise<number[]> {
  const result = await run(IP, ["netns", "pids", netns]);
  if (result.code !== 0) return [];
  return result.stdout
    .split(/\s+/u)
    .map(Number)
    .filter((pid) => Number.isInteger(pid) && pid > 0);
}

/** SIGKILLs whatever still runs inside the namespace (grandchildren, daemons) and waits up to 3 s for it to go. */
async function killNamespacePids(netns: string): Promise<void> {
  const deadline = Date.now() + 3_000;
  for (;;) {
    const pids = (await namespacePids(netns)).filter((pid) => pid !== process.pid);
    if (pids.length === 0 || Date.now() > deadline) return;
    for (const pid of pids) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // gone already
      }
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

function writeProc(path: string, value: string): void {
  writeFileSync(path, `${value}\n`);
}

function readProc(path: string): string {
  return readFileSync(path, "utf8").trim();
}

function enableGlobalForwarding(): void {
  const current = readProc(IP_FORWARD);
  try {
    writeFileSync(IP_FORWARD_SAVED, `${current}\n`, { flag: "wx" });
  } catch {
    // an earlier or concurrent run saved the original already
  }
  if (current !== "1") writeProc(IP_FORWARD, "1");
}

/** Restores ip_forward once no oii- namespace is left (writing it would reset the forwarding of live runs). */
function restoreGlobalForwardingIfLast(remainingNamespaces: readonly string[]): void {
  if (!existsSync(IP_FORWARD_SAVED)) return;
  if (remainingNamespaces.some((name) => name.startsWith(NS_PREFIX))) return;
  const saved = readFileSync(IP_FORWARD_SAVED, "utf8").trim();
  if (saved === "0" || saved === "1") {
    if (readProc(IP_FORWARD) !== saved) writeProc(IP_FORWARD, saved);
  }
  unlinkSync(IP_FORWARD_SAVED);
}

function listNamespacesSync(): string[] {
  try {
    return execFileSync(IP, ["netns", "list"], { encoding: "utf8", timeout: 10_000 })
      .split("\n")
      .map((line) => line.trim().split(/\s+/u)[0] ?? "")
      .filter((name) => name.length > 0);
  } catch {
    return [];
  }
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the process has exited. */
async function stopChild(child: ChildProcess, graceMs: number): Promise<void> {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
  await exited;
  clearTimeout(timer);
}

interface Run {
  readonly children: Set<ChildProcess>;
  readonly namespaces: string[];
  readonly links: string[];
}

const liveRuns = new Set<Run>();
let exitHookInstalled = false;

/** Synchronous best-effort teardown on process exit (async work cannot run there). */
function exitCleanup(): void {
  for (const entry of liveRuns) {
    for (const child of entry.children) {
      try {
        child.kill("SIGKILL");
      } catch {
        // ignore
      }
    }
    for (const netns of entry.namespaces) {
      try {
        const pids = execFileSync(IP, ["netns", "pids", netns], { encoding: "utf8", timeout: 10_000 });
        for (const pid of pids.split(/\s+/u).map(Number)) if (pid > 0 && pid !== process.pid) process.kill(pid, "SIGKILL");
      } catch {
        // ignore
      }
    }
    for (const link of entry.links) ipSync("link", "del", link);
    for (const netns of entry.namespaces) ipSync("netns", "del", netns);
  }
  liveRuns.clear();
  try {
    restoreGlobalForwardingIfLast(listNamespacesSync());
  } catch {
    // ignore
  }
}

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.once("exit", exitCleanup);
}

async function pickSecondOctet(forced: number | undefined): Promise<number> {
  const addrs = await ip("-4", "-o", "addr", "show");
  const routes = await ip("-4", "route", "show", "table", "all");
  const taken = (n: number) => addrs.includes(`10.${n}.`) || routes.includes(`10.${n}.`) || routes.includes(`198.18.${n}.`) || addrs.includes(`198.18.${n}.`);
  if (forced !== undefined) {
    if (!Number.isInteger(forced) || forced < 200 || forced > 250) throw new Error(`secondOctet must be 200..250, got ${forced}`);
    if (taken(forced)) throw new Error(`10.${forced}.0.0/16 or 198.18.${forced}.0/24 is already in use in the root namespace`);
    return forced;
  }
  const candidates = Array.from({ length: 51 }, (_, i) => 200 + i).filter((n) => !taken(n));
  // Two test files start at once in parallel workers: a range counts as ours only once claimed.
  while (candidates.length > 0) {
    const [n] = candidates.splice(randomInt(candidates.length), 1) as [number];
    if (claimOctet(n)) return n;
  }
  throw new Error("no free 10.n.0.0/16 with n in 200..250 (stale runs? call cleanupStale())");
}

const CLAIMS_DIR = "/run/oii-netns-claims";

/** Claims 10.n/16 for this process with an atomic mkdir; a claim left by a dead process is taken over. */
function claimOctet(n: number): boolean {
  mkdirSync(CLAIMS_DIR, { recursive: true });
  const claim = join(CLAIMS_DIR, String(n));
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      mkdirSync(claim);
      writeFileSync(join(claim, "pid"), String(process.pid));
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      const owner = Number(readFileSync(join(claim, "pid"), { encoding: "utf8", flag: "a+" }) || "0");
      // No pid yet: its owner is between mkdir and write; leave it.
      if (owner === 0 || pidAlive(owner)) return false;
      rmSync(claim, { recursive: true, force: true });
    }
  }
  return false;
}

function releaseOctet(n: number): void {
  const claim = join(CLAIMS_DIR, String(n));
  try {
    if (Number(readFileSync(join(claim, "pid"), "utf8")) === process.pid) rmSync(claim, { recursive: true, force: true });
  } catch {
    // not claimed, or already gone
  }
}

function wantsPublic(option: HostsOptions["publicAddress"], name: string): boolean {
  if (option === true) return true;
  if (Array.isArray(option)) return option.includes(name);
  return false;
}

const TCP_PROBE = `
const [host, port, ms] = process.argv.slice(1);
const s = require("node:net").connect({ host, port: Number(port) });
const t = setTimeout(() => { s.destroy(); process.exit(2); }, Number(ms));
s.on("connect", () => { clearTimeout(t); s.destroy(); process.exit(0); });
s.on("error", () => { clearTimeout(t); process.exit(1); });
`;

/** Creates one network namespace per name, joined through the root namespace; see the module comment. */
export async function createHosts(names: readonly string[], options: HostsOptions = {}): Promise<Hosts> {
  if (names.length === 0 || names.length > 99) throw new Error(`createHosts needs 1..99 names, got ${names.length}`);
  for (const name of names) {
    if (!/^[A-Za-z0-9_-]{1,32}$/u.test(name)) throw new Error(`host name ${JSON.stringify(name)} must match [A-Za-z0-9_-]{1,32}`);
  }
  if (new Set(names).size !== names.length) throw new Error(`host names must be unique: ${names.join(", ")}`);
  if (Array.isArray(options.publicAddress)) {
    for (const name of options.publicAddress) if (!names.includes(name)) throw new Error(`publicAddress names unknown host ${name}`);
  }

  const n = await pickSecondOctet(options.secondOctet);
  const existingNs = new Set(await listNamespaces());
  const existingLinks = new Set(await listRootLinks());
  let rand = "";
  let ifPrefix = "";
  for (let attempt = 0; ; attempt++) {
    rand = randomBytes(3).toString("hex");
    ifPrefix = `oii${process.pid.toString(36)}-${rand.slice(0, 3)}-`;
    const clash = existingLinks.has(`${ifPrefix}z`) || names.some((name) => existingNs.has(`${NS_PREFIX}${process.pid}-${rand}-${name}`));
    if (!clash) break;
    if (attempt > 10) throw new Error("could not pick unused interface names");
  }

  const globalForwarding = options.forwarding === "global";
  const entry: Run = { children: new Set(), namespaces: [], links: [] };
  liveRuns.add(entry);
  installExitHook();

  const hosts: Host[] = [];
  const publicRoutes = new Map<string, { address: string; via: string; dev: string }>();

  const addRootPublicRoute = async (hostName: string): Promise<void> => {
    const route = publicRoutes.get(hostName);
    if (route) await ip("route", "replace", `${route.address}/32`, "via", route.via, "dev", route.dev);
  };

  let disposing: Promise<void> | undefined;
  const dispose = (): Promise<void> => {
    disposing ??= (async () => {
      const errors: unknown[] = [];
      await Promise.all([...entry.children].map((child) => stopChild(child, KILL_GRACE_MS).catch((error: unknown) => errors.push(error))));
      for (const netns of entry.namespaces) await killNamespacePids(netns).catch((error: unknown) => errors.push(error));
      const links = new Set(await listRootLinks().catch(() => [] as string[]));
      // Deleting the root end destroys the pair at once; `ip netns del` alone frees the veth only when the
      // namespace's last reference (a process, a mount) is gone.
      for (const link of entry.links) {
        if (links.has(link)) await ip("link", "del", link).catch((error: unknown) => errors.push(error));
      }
      const namespaces = new Set(await listNamespaces().catch(() => [] as string[]));
      for (const netns of entry.namespaces) {
        if (namespaces.has(netns)) await ip("netns", "del", netns).catch((error: unknown) => errors.push(error));
      }
      liveRuns.delete(entry);
      releaseOctet(n);
      // Any run may be the last one out after a "global" run, so every run tries the restore.
      try {
        restoreGlobalForwardingIfLast(await listNamespaces());
      } catch (error) {
        errors.push(error);
      }
      const leftNs = (await listNamespaces().catch(() => [] as string[])).filter((name) => entry.namespaces.includes(name));
      const leftLinks = (await listRootLinks().catch(() => [] as string[])).filter((name) => entry.links.includes(name));
      if (leftNs.length > 0 || leftLinks.length > 0) errors.push(new Error(`left behind: ${[...leftNs, ...leftLinks].join(", ")}`));
      if (errors.length > 0) throw new AggregateError(errors, `netns dispose: ${errors.map((e) => (e instanceof Error ? e.message : String(e))).join("; ")}`);
    })();
    return disposing;
  };

  try {
    // The sink: routes for our whole range at a high metric, so a downed host link drops packets instead of
    // sending them out of the root's default route.
    const sink = `${ifPrefix}z`;
    const sinkPeer = `${ifPrefix}y`;
    await ip("link", "add", sink, "type", "veth", "peer", "name", sinkPeer);
    entry.links.push(sink);
    await ip("link", "set", sink, "up");
    await ip("route", "add", `10.${n}.0.0/16`, "dev", sink, "metric", SINK_METRIC);
    await ip("route", "add", `198.18.${n}.0/24`, "dev", sink, "metric", SINK_METRIC);

    if (globalForwarding) enableGlobalForwarding();

    for (const [i, name] of names.entries()) {
      const k = i + 1;
      const netns = `${NS_PREFIX}${process.pid}-${rand}-${name}`;
      const vethRoot = `${ifPrefix}${k}`;
      const vethHost = "eth0";
      const address = `10.${n}.${k}.2`;
      const gatewayAddress = `10.${n}.${k}.1`;
      const publicAddress = wantsPublic(options.publicAddress, name) ? `198.18.${n}.${k}` : undefined;
      const lanAddress = options.lan ? `10.${n}.0.${k}` : undefined;

      await ip("netns", "add", netns);
      entry.namespaces.push(netns);
      await ip("link", "add", vethRoot, "type", "veth", "peer", "name", vethHost, "netns", netns);
      entry.links.push(vethRoot);
      await ip("addr", "add", `${gatewayAddress}/24`, "dev", vethRoot);
      if (!globalForwarding) writeProc(`/proc/sys/net/ipv4/conf/${vethRoot}/forwarding`, "1");
      await ip("-n", netns, "link", "set", "lo", "up");
      await ip("-n", netns, "addr", "add", `${address}/24`, "dev", vethHost);
      if (publicAddress) await ip("-n", netns, "addr", "add", `${publicAddress}/32`, "dev", vethHost);
      await ip("-n", netns, "link", "set", vethHost, "up");
      await ip("link", "set", vethRoot, "up");
      if (publicAddress) {
        publicRoutes.set(name, { address: publicAddress, via: address, dev: vethRoot });
        await addRootPublicRoute(name);
      }

      const host: Host = {
        name,
        index: k,
        netns,
        address,
        gatewayAddress,
        publicAddress,
        vethRoot,
        vethHost,
        lanAddress,
        lanInterface: lanAddress ? LAN_IF : undefined,
        spawn(command, args = [], spawnOptions = {}) {
          const child = spawn(IP, ["netns", "exec", netns, command, ...args], { env: process.env, ...spawnOptions });
          entry.children.add(child);
          child.once("exit", () => entry.children.delete(child));
          return child;
        },
        exec(command, args = [], execOptions = {}) {
          return new Promise<ExecResult>((resolve, reject) => {
            const child = host.spawn(command, args, {
              env: execOptions.env ?? process.env,
              cwd: execOptions.cwd,
              stdio: [execOptions.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
            });
            let stdout = "";
            let stderr = "";
            child.stdout?.setEncoding("utf8").on("data", (chunk: string) => (stdout += chunk));
            child.stderr?.setEncoding("utf8").on("data", (chunk: string) => (stderr += chunk));
            if (execOptions.input !== undefined) child.stdin?.end(execOptions.input);
            const timer = setTimeout(() => child.kill("SIGKILL"), execOptions.timeoutMs ?? 60_000);
            child.once("error", (error) => {
              clearTimeout(timer);
              reject(error);
            });
            child.once("close", (exitCode, signal) => {
              clearTimeout(timer);
              resolve({ stdout, stderr, exitCode, signal });
            });
          });
        },
        async tcpReachable(targetAddress, port, timeoutMs = 2_000) {
          const result = await host.exec(process.execPath, ["-e", TCP_PROBE, targetAddress, String(port), String(timeoutMs)], {
            timeoutMs: timeoutMs + 10_000,
          });
          return result.exitCode === 0;
        },
        async linkDown() {
          await ip("link", "set", vethRoot, "down");
        },
        async linkUp() {
          await ip("link", "set", vethRoot, "up");
          // Admin-down deletes routes through the device; the connected /24 comes back by itself, ours does not.
          await addRootPublicRoute(name);
        },
      };
      hosts.push(host);
    }

    if (options.lan) await joinLan(`${NS_PREFIX}${process.pid}-${rand}.switch`, hosts, entry);

    // Each host reaches the others' /24 and public /32 through its root-side address, and nothing else.
    for (const host of hosts) {
      for (const other of hosts) {
        if (other === host) continue;
        await ip("-n", host.netns, "route", "add", `10.${n}.${other.index}.0/24`, "via", host.gatewayAddress);
        if (other.publicAddress) await ip("-n", host.netns, "route", "add", `${other.publicAddress}/32`, "via", host.gatewayAddress);
      }
    }
  } catch (error) {
    await dispose().catch(() => undefined);
    throw error;
  }

  return {
    hosts,
    secondOctet: n,
    get(name: string): Host {
      const host = hosts.find((h) => h.name === name);
      if (!host) throw new Error(`no host ${name}; hosts: ${hosts.map((h) => h.name).join(", ")}`);
      return host;
    },
    dispose,
  };
}

const LAN_IF = "lan0";
const LAN_PORT = "lan0-port";

/**
 * The `lan` option: a bridge in its own switch namespace, each host's `lan0` a port of it, multicast on.
 * The switch namespace is recorded in `entry` first, so dispose (and `cleanupStale`) remove it.
 */
async function joinLan(switchNs: string, hosts: readonly Host[], entry: Run): Promise<void> {
  await ip("netns", "add", switchNs);
  entry.namespaces.push(switchNs);
  await ip("-n", switchNs, "link", "set", "lo", "up");
  await ip("-n", switchNs, "link", "add", "br0", "type", "bridge", "mcast_snooping", "0");
  await ip("-n", switchNs, "link", "set", "br0", "up");
  for (const host of hosts) {
    const port = `p${host.index}`;
    await ip("-n", switchNs, "link", "add", port, "type", "veth", "peer", "name", LAN_PORT, "netns", host.netns);
    await ip("-n", switchNs, "link", "set", port, "master", "br0");
    await ip("-n", switchNs, "link", "set", port, "up");
    // The host's end is a port of a bridge of its own, which carries the address: ciao (OpenClaw's bonjour
    // plugin) reads interface names from `ip -o link show`, where a veth is `name@ifN`, matches none of
    // os.networkInterfaces() and is never announced on. A bridge is listed by its plain name.
    await ip("-n", host.netns, "link", "add", LAN_IF, "type", "bridge", "mcast_snooping", "0");
    await ip("-n", host.netns, "link", "set", LAN_PORT, "master", LAN_IF);
    await ip("-n", host.netns, "link", "set", LAN_PORT, "up");
    await ip("-n", host.netns, "addr", "add", `${host.lanAddress}/24`, "dev", LAN_IF);
    await ip("-n", host.netns, "link", "set", "dev", LAN_IF, "multicast", "on");
    await ip("-n", host.netns, "link", "set", "dev", LAN_IF, "up");
    await ip("-n", host.netns, "route", "add", "224.0.0.0/4", "dev", LAN_IF);
  }
}

/**
 * Removes oii- namespaces and oii root interfaces whose creating pid is no longer alive (the routes we add hang off
 * those interfaces and go with them). Returns what it removed.
 */
export async function cleanupStale(): Promise<string[]> {
  const removed: string[] = [];
  for (const netns of await listNamespaces()) {
    const pid = Number(NS_PATTERN.exec(netns)?.[1] ?? Number.NaN);
    if (!netns.startsWith(NS_PREFIX) || !Number.isInteger(pid) || pidAlive(pid)) continue;
    await killNamespacePids(netns);
    await ip("netns", "del", netns);
    removed.push(netns);
  }
  for (const link of await listRootLinks()) {
    const match = IF_PATTERN.exec(link);
    if (!match?.[1]) continue;
    const pid = Number.parseInt(match[1], 36);
    if (pidAlive(pid)) continue;
    const result = await run(IP, ["link", "del", link]);
    // The peer of a deleted veth is gone too; "Cannot find device" for it is fine.
    if (result.code === 0) removed.push(link);
  }
  restoreGlobalForwardingIfLast(await listNamespaces());
  return removed;
}

/** Whether `ip netns` works here: adds a probe namespace with a veth pair inside it, runs `true` in it, deletes it. */
export async function namespacesAvailable(): Promise<Availability> {
  if (process.platform !== "linux") return { ok: false, reason: `network namespaces need Linux, this is ${process.platform}` };
  const uid = process.getuid?.() ?? -1;
  const version = await run(IP, ["-V"]);
  if (version.code !== 0) return { ok: false, reason: `iproute2 \`ip\` not usable: ${firstLine(version.stderr) || `exit ${version.code}`}` };
  const probe = `${NS_PREFIX}${process.pid}-probe${randomBytes(2).toString("hex")}`;
  const add = await run(IP, ["netns", "add", probe]);
  if (add.code !== 0) {
    return { ok: false, reason: `\`ip netns add\` failed (uid ${uid}${uid === 0 ? "" : ", not root"}): ${firstLine(add.stderr) || `exit ${add.code}`}` };
  }
  try {
    const steps: string[][] = [
      ["-n", probe, "link", "add", "p0", "type", "veth", "peer", "name", "p1"],
      ["-n", probe, "link", "set", "lo", "up"],
      ["netns", "exec", probe, "true"],
    ];
    for (const step of steps) {
      const result = await run(IP, step);
      if (result.code !== 0) return { ok: false, reason: `\`ip ${step.join(" ")}\` failed: ${firstLine(result.stderr) || `exit ${result.code}`}` };
    }
    return { ok: true };
  } finally {
    await run(IP, ["netns", "del", probe]);
  }
}

/** Whether an unprivileged-style user + network namespace can be made (`unshare --user --map-root-user --net true`). */
export async function userNamespacesAvailable(): Promise<Availability> {
  const result = await run("unshare", ["--user", "--map-root-user", "--net", "true"]);
  return result.code === 0 ? { ok: true } : { ok: false, reason: `unshare failed: ${firstLine(result.stderr) || `exit ${result.code}`}` };
}

/**
 * For a test file that needs hosts: whether to run it. Without namespaces the file is skipped with
 * one line saying what is missing, and under CI (where they must work) the run fails instead.
 */
export async function hostsOrSkip(file: string): Promise<boolean> {
  const available = await namespacesAvailable();
  if (available.ok) {
    await cleanupStale();
    return true;
  }
  const line = `${file}: needs network namespaces (root and iproute2's ip netns): ${available.reason}`;
  if (process.env.CI) throw new Error(`${line}. CI runs as root and must be able to make them.`);
  console.warn(`skipped ${line}`);
  return false;
}
