import type { Instance, InstanceRegistry } from "./config/registry.js";
import type { TransportId } from "./config/schema.js";
import type { Dispatcher, ProbeResult } from "./dispatcher.js";
import { InterInstanceError } from "./errors.js";
import { PROXY_VARIABLES, type ExecInput, type ExecResult } from "./exec.js";
import type { GatewayPool } from "./gateway/connection.js";
import type { NodeHost } from "./nodes/node-host.js";
import { httpsAlternative } from "./sync.js";

export type CheckStatus = "pass" | "warn" | "fail" | "skip";

/** One line of the checklist: what was checked, what was found, and the fix when it is not right. */
export interface DoctorCheck {
  readonly instance: string;
  /** `transport:<id>`, `rpc-scope`, `node`, `proxy`, `git-remote`, `timeout:<id>`, `symlink`. */
  readonly check: string;
  readonly status: CheckStatus;
  readonly summary: string;
  readonly fix?: string;
}

export interface DoctorReport {
  /** No check failed (warnings allowed), and every instance has at least one working transport. */
  readonly ok: boolean;
  readonly checks: readonly DoctorCheck[];
}

export interface DoctorDependencies {
  readonly registry: InstanceRegistry;
  readonly dispatcher: Dispatcher;
  readonly pool: GatewayPool;
  readonly nodeOf: (instanceName: string) => NodeHost | undefined;
  readonly exec: (input: ExecInput) => Promise<ExecResult>;
}

/** Below these a transport's normal case does not fit (an agent turn through the CLI takes 60–120 s). */
export const MIN_TIMEOUTS_MS: Readonly<Record<TransportId, number>> = {
  sessions_send: 5_000,
  nodes: 10_000,
  agent_cli: 60_000,
  memory_file: 2_000,
  message_tool: 10_000,
  a2a: 30_000,
};

const fixOf = (error: unknown) => (error instanceof InterInstanceError ? error.hint : undefined);
const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

function fromProbe(instance: string, probe: ProbeResult): DoctorCheck {
  const check = `transport:${probe.transport}`;
  if (probe.ok) return { instance, check, status: "pass", summary: probe.detail ?? "works" };
  if (probe.skippedBecause) return { instance, check, status: "skip", summary: probe.skippedBecause };
  return { instance, check, status: "fail", summary: probe.error?.message ?? "failed", ...(probe.error?.hint ? { fix: probe.error.hint } : {}) };
}

function timeoutChecks(instance: Instance): DoctorCheck[] {
  return instance.transports.flatMap((id) => {
    const ms = instance.timeouts[id];
    const minimum = MIN_TIMEOUTS_MS[id];
    return ms >= minimum
      ? []
      : [{ instance: instance.name, check: `timeout:${id}`, status: "fail" as const, summary: `${id} gets ${ms} ms; its normal case needs at least ${minimum} ms`, fix: `Set instances.${instance.name}.timeouts.${id} to ${minimum * 2} or more.` }];
  });
}

async function scopeCheck(deps: DoctorDependencies, instance: Instance): Promise<DoctorCheck | undefined> {
  if (!instance.gateway?.token || !instance.transports.includes("sessions_send")) return undefined;
  try {
    const scopes = await deps.pool.forInstance(instance).grantedScopes(AbortSignal.timeout(10_000));
    if (!scopes) return { instance: instance.name, check: "rpc-scope", status: "skip", summary: "the Gateway did not report the granted scopes" };
    return scopes.includes("operator.write")
      ? { instance: instance.name, check: "rpc-scope", status: "pass", summary: `granted ${scopes.join(", ")}` }
      : {
          instance: instance.name,
          check: "rpc-scope",
          status: "fail",
          summary: `this device has ${scopes.join(", ") || "no scopes"}; sessions.send needs operator.write`,
          fix: "On the target: `openclaw devices list`, then approve this device with operator.write (`openclaw devices approve <requestId>`).",
        };
  } catch {
    return undefined; // the transport probe already says why the Gateway is not reachable
  }
}

/** The node's own checks: online and approved, then what its environment and files look like. */
async function nodeChecks(deps: DoctorDependencies, instance: Instance): Promise<DoctorCheck[]> {
  const host = deps.nodeOf(instance.name);
  const name = instance.name;
  if (!host) {
    const wanted = instance.doctor.repos.length + instance.doctor.links.length > 0;
    return wanted ? [{ instance: name, check: "node", status: "fail", summary: "repos and links can only be checked through a node on that machine", fix: `Configure instances.${name}.node.` }] : [];
  }
  try {
    const node = await host.require(["system.run"], AbortSignal.timeout(10_000));
    const checks: DoctorCheck[] = [{ instance: name, check: "node", status: "pass", summary: `node ${node.displayName ?? node.nodeId.slice(0, 12)} is online and may run commands` }];
    const env = await deps.exec({ to: name, argv: ["env"], keepProxy: true, timeoutMs: 10_000 });
    const set = env.stdout.split("\n").filter((line) => PROXY_VARIABLES.some((variable) => line.startsWith(`${variable}=`)));
    checks.push(
      set.length === 0
        ? { instance: name, check: "proxy", status: "pass", summary: "no proxy variables on the node host" }
        : {
            instance: name,
            check: "proxy",
            status: "warn",
            summary: `the node host has ${set.map((line) => line.split("=")[0]).join(", ")}; exec and sync unset them, other tools there still use them`,
            fix: "If that proxy is not reachable from there, remove it from the node host's service environment (or add NO_PROXY for your git host).",
          },
    );
    for (const repo of instance.doctor.repos) checks.push(await remoteCheck(deps, name, repo));
    for (const link of instance.doctor.links) checks.push(await linkCheck(deps, name, link));
    return checks;
  } catch (error) {
    const fix = fixOf(error);
    return [{ instance: name, check: "node", status: "fail", summary: messageOf(error), ...(fix ? { fix } : {}) }];
  }
}

async function remoteCheck(deps: DoctorDependencies, instance: string, repo: string): Promise<DoctorCheck> {
  const result = await deps.exec({ to: instance, argv: ["git", "-C", repo, "remote", "-v"], timeoutMs: 10_000 });
  if (!result.ok) return { instance, check: "git-remote", status: "fail", summary: `${repo} is not a git checkout: ${(result.stderr || result.error || "").trim()}`, fix: `Clone it there, e.g. openclaw-inter-instance sync repo ${instance} <https url> ${repo}` };
  const ssh = [...new Set(result.stdout.split("\n").map((line) => line.split(/\s+/u)[1] ?? "").filter((url) => url && !/^https?:\/\//u.test(url)))];
  if (ssh.length === 0) return { instance, check: "git-remote", status: "pass", summary: `${repo}: remotes use HTTPS` };
  const https = httpsAlternative(ssh[0] ?? "");
  return {
    instance,
    check: "git-remote",
    status: "fail",
    summary: `${repo} fetches over SSH (${ssh.join(", ")}); a node host rarely has your key`,
    fix: `git -C ${repo} remote set-url origin ${https ?? "<the https URL>"}`,
  };
}

async function linkCheck(deps: DoctorDependencies, instance: string, link: string): Promise<DoctorCheck> {
  const target = await deps.exec({ to: instance, argv: ["readlink", "--", link], timeoutMs: 10_000 });
  if (!target.ok) return { instance, check: "symlink", status: "fail", summary: `${link} is not a symlink`, fix: `ln -sfn <checkout> ${link}` };
  const points = target.stdout.replace(/\n$/u, "");
  const resolves = await deps.exec({ to: instance, argv: ["test", "-e", link], timeoutMs: 10_000 });
  return resolves.ok
    ? { instance, check: "symlink", status: "pass", summary: `${link} -> ${points}` }
    : { instance, check: "symlink", status: "fail", summary: `${link} -> ${points}, which does not exist`, fix: `Point it at an existing checkout: ln -sfn <checkout> ${link} (or sync repo … --link ${link}).` };
}

/**
 * The seed's troubleshooting checklist, run for each instance (or one): every transport's probe
 * (Gateway reachable and token accepted, A2A peer token, CLI present, memory dir writable, node
 * online), the RPC scope sessions_send needs, proxy variables on the node host, SSH remotes,
 * timeouts too short for their transport, and symlinks that do not resolve.
 */
export async function doctor(deps: DoctorDependencies, options: { instance?: string } = {}): Promise<DoctorReport> {
  const instances = options.instance ? [deps.registry.resolve(options.instance)] : deps.registry.list();
  const checks: DoctorCheck[] = [];
  let everyInstanceReachable = true;
  for (const instance of instances) {
    const probes = await deps.dispatcher.probe(instance.name);
    everyInstanceReachable &&= probes.some((probe) => probe.ok);
    checks.push(...probes.map((probe) => fromProbe(instance.name, probe)));
    const scope = await scopeCheck(deps, instance);
    if (scope) checks.push(scope);
    checks.push(...(await nodeChecks(deps, instance)), ...timeoutChecks(instance));
  }
  return { ok: everyInstanceReachable && checks.every((check) => check.status !== "fail"), checks };
}
