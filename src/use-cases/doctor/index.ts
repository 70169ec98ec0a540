import { missingCredential } from "../../config/names.js";
import type { GatewayTarget, Instance, InstanceRegistry } from "../../config/registry.js";
import type { Dispatcher, ProbeResult } from "../../core/dispatcher.js";
import { InterInstanceError } from "../../core/errors.js";
import type { GatewayPool } from "../../gateway/connection.js";
import { MIN_TIMEOUTS_MS } from "../../transports/built-in.js";
import type { NodeHost } from "../../transports/nodes/node-host.js";
import { type ExecInput, type ExecResult, PROXY_VARIABLES } from "../exec.js";
import { httpsAlternative } from "../sync.js";
import { credentialChecks } from "./least-privilege.js";
import { plaintextCredentialChecks } from "./plaintext-credentials.js";

export type CheckStatus = "pass" | "warn" | "fail" | "skip";

/** One line of the checklist: what was checked, what was found, and the fix when it is not right. */
export interface DoctorCheck {
  readonly instance: string;
  /** `transport:<id>`, `route`, `gateway`, `rpc-scope`, `node`, `proxy`, `git-remote`, `timeout:<id>`, `symlink`, `credential-storage`, `credential:<config path>` (failing when the credential there is not available). */
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
  /** The Gateway config on this machine, checked for credentials stored as plaintext. */
  readonly openclawConfigPath?: string;
  /** Who is present in the NATS fleet, when there is one. */
  readonly fleetMembers?: () => Promise<readonly { name: string; lastSeen: string }[]>;
}

/** The fleet's presence registry: reachable, and whether each instance reached by `nats` announced itself lately. */
async function fleetChecks(deps: DoctorDependencies, instances: readonly Instance[]): Promise<DoctorCheck[]> {
  if (!deps.fleetMembers) return [];
  let members: readonly { name: string; lastSeen: string }[];
  try {
    members = await deps.fleetMembers();
  } catch (error) {
    const fix = error instanceof InterInstanceError ? error.hint : undefined;
    return [
      {
        instance: deps.registry.self,
        check: "fleet",
        status: "fail",
        summary: `The NATS fleet cannot be read: ${error instanceof Error ? error.message : String(error)}`,
        ...(fix ? { fix } : {}),
      },
    ];
  }
  const ago = (iso: string) => `${Math.round((Date.now() - Date.parse(iso)) / 1000)} s ago`;
  const checks: DoctorCheck[] = [
    {
      instance: deps.registry.self,
      check: "fleet",
      status: "pass",
      summary:
        members.length === 0 ? "the fleet's presence registry is empty" : `present: ${members.map((m) => `${m.name} (seen ${ago(m.lastSeen)})`).join(", ")}`,
    },
  ];
  for (const instance of instances.filter((i) => i.transports.includes("nats"))) {
    const member = members.find((m) => m.name === instance.name);
    checks.push(
      member
        ? { instance: instance.name, check: "fleet-presence", status: "pass", summary: `announced itself ${ago(member.lastSeen)}` }
        : {
            instance: instance.name,
            check: "fleet-presence",
            status: "warn",
            summary: "not in the fleet's presence registry: its plugin is not running, or not on this fleet",
            fix: `Messages to it wait in the stream until it joins; on ${instance.name}'s Gateway set nats (same servers and fleet) in the plugin config.`,
          },
    );
  }
  return checks;
}

/**
 * Credentials the config names but this process does not have (a variable not set, a file not
 * readable, a SecretRef not resolved): each a failing check with what to do, since nothing that
 * needs it can be sent.
 */
function missingSecretChecks(instance: Instance): DoctorCheck[] {
  return instance.missingSecrets.map((missing) => ({
    instance: instance.name,
    check: `credential:${missing.field}`,
    status: "fail" as const,
    summary: `the token for ${instance.name} is not available: ${missing.reason}; the transports that need it cannot send`,
    fix: missing.fix,
  }));
}

export { MIN_TIMEOUTS_MS };

const fixOf = (error: unknown) => (error instanceof InterInstanceError ? error.hint : undefined);
const messageOf = (error: unknown) => (error instanceof Error ? error.message : String(error));

function fromProbe(instance: string, probe: ProbeResult): DoctorCheck {
  const check = `transport:${probe.transport}`;
  if (probe.ok) return { instance, check, status: "pass", summary: probe.detail ?? "works" };
  if (probe.skippedBecause) return { instance, check, status: "skip", summary: probe.skippedBecause };
  return { instance, check, status: "fail", summary: probe.error?.message ?? "failed", ...(probe.error?.hint ? { fix: probe.error.hint } : {}) };
}

/** Codes that say the path itself is not there (no open port, a dead link), not that it is misconfigured. */
const NO_ROUTE = new Set(["UNREACHABLE", "HANDSHAKE_TIMEOUT", "CONNECTION_CLOSED", "TIMEOUT"]);

/**
 * One-way reachability, as with a home machine behind NAT: its Gateway cannot be reached from here
 * but another path (its node, dialling out) works. Says so, and which transport order fits.
 */
function routeCheck(instance: Instance, probes: readonly ProbeResult[]): DoctorCheck | undefined {
  const working = probes.filter((probe) => probe.ok).map((probe) => probe.transport);
  const noRoute = probes.filter((probe) => !probe.ok && probe.error && NO_ROUTE.has(probe.error.code)).map((probe) => probe.transport);
  if (working.length === 0 || noRoute.length === 0) return undefined;
  const fitting = [...working, ...instance.transports.filter((id) => !working.includes(id))];
  const firstIsWorking = working.includes(instance.transports[0]!);
  const summary = `${noRoute.join(", ")} cannot reach ${instance.name} from here (no open port or no route: a machine behind NAT?), but ${working.join(", ")} works`;
  return firstIsWorking
    ? { instance: instance.name, check: "route", status: "pass", summary: `${summary}; messages go by ${instance.transports[0]} first` }
    : {
        instance: instance.name,
        check: "route",
        status: "warn",
        summary: `${summary}; each message waits for ${instance.transports[0]} to fail first`,
        fix: `Put the working paths first: instances.${instance.name}.transports = ${JSON.stringify(fitting)} (or reach its Gateway over a tailnet or an SSH tunnel).`,
      };
}

function timeoutChecks(instance: Instance): DoctorCheck[] {
  return instance.transports.flatMap((id) => {
    const ms = instance.timeouts[id];
    const minimum = MIN_TIMEOUTS_MS[id];
    return ms >= minimum
      ? []
      : [
          {
            instance: instance.name,
            check: `timeout:${id}`,
            status: "fail" as const,
            summary: `${id} gets ${ms} ms; its normal case needs at least ${minimum} ms`,
            fix: `Set instances.${instance.name}.timeouts.${id} to ${minimum * 2} or more.`,
          },
        ];
  });
}

/** The instance's Gateway when messages go to it by sessions_send and this side can connect; the Gateway checks need it. */
function sessionGatewayOf(instance: Instance): GatewayTarget | undefined {
  const gateway = instance.gateway;
  return gateway && !missingCredential(gateway) && instance.transports.includes("sessions_send") ? gateway : undefined;
}

/** Releases before this one lack what the library relies on for busy sessions (pending inputs) and the A2A channel. */
const FULLY_SUPPORTED = [2026, 9] as const;

/** Which OpenClaw and protocol the target Gateway runs: machines are not upgraded together. */
async function versionCheck(deps: DoctorDependencies, instance: Instance): Promise<DoctorCheck | undefined> {
  if (!sessionGatewayOf(instance)) return undefined;
  try {
    const { version, protocol } = await deps.pool.forInstance(instance).serverInfo(AbortSignal.timeout(10_000));
    const summary = `OpenClaw ${version ?? "(version not reported)"}, protocol ${protocol ?? "?"}`;
    const [year = 0, month = 0] = (version ?? "").split(".").map(Number);
    const older = version !== undefined && (year < FULLY_SUPPORTED[0] || (year === FULLY_SUPPORTED[0] && month < FULLY_SUPPORTED[1]));
    return older
      ? {
          instance: instance.name,
          check: "gateway",
          status: "warn",
          summary: `${summary}: older than ${FULLY_SUPPORTED.join(".")}; it has no A2A channel, and a message sent while a turn runs there can be lost`,
          fix: `Upgrade OpenClaw on ${instance.name} (\`openclaw update\`); until then send it one message at a time and wait for each answer (\`ask\`).`,
        }
      : { instance: instance.name, check: "gateway", status: "pass", summary };
  } catch {
    return undefined; // the transport probe already says why the Gateway is not reachable
  }
}

async function scopeCheck(deps: DoctorDependencies, instance: Instance): Promise<DoctorCheck | undefined> {
  const gateway = sessionGatewayOf(instance);
  if (!gateway) return undefined;
  try {
    const scopes = await deps.pool.forInstance(instance).grantedScopes(AbortSignal.timeout(10_000));
    if (!scopes) return { instance: instance.name, check: "rpc-scope", status: "skip", summary: "the Gateway did not report the granted scopes" };
    return scopes.includes("operator.write")
      ? {
          instance: instance.name,
          check: "rpc-scope",
          status: "pass",
          summary: `granted ${scopes.join(", ")} (${gateway.credential === "device" ? "the device token from pairing; no shared token" : "shared token"})`,
        }
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
    return wanted
      ? [
          {
            instance: name,
            check: "node",
            status: "fail",
            summary: "repos and links can only be checked through a node on that machine",
            fix: `Configure instances.${name}.node.`,
          },
        ]
      : [];
  }
  try {
    const node = await host.require(["system.run"], AbortSignal.timeout(10_000));
    const checks: DoctorCheck[] = [
      { instance: name, check: "node", status: "pass", summary: `node ${node.displayName ?? node.nodeId.slice(0, 12)} is online and may run commands` },
    ];
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
  if (!result.ok)
    return {
      instance,
      check: "git-remote",
      status: "fail",
      summary: `${repo} is not a git checkout: ${(result.stderr || result.error || "").trim()}`,
      fix: `Clone it there, e.g. openclaw-inter-instance sync repo ${instance} <https url> ${repo}`,
    };
  const ssh = [
    ...new Set(
      result.stdout
        .split("\n")
        .map((line) => line.split(/\s+/u)[1] ?? "")
        .filter((url) => url && !/^https?:\/\//u.test(url)),
    ),
  ];
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
    : {
        instance,
        check: "symlink",
        status: "fail",
        summary: `${link} -> ${points}, which does not exist`,
        fix: `Point it at an existing checkout: ln -sfn <checkout> ${link} (or sync repo … --link ${link}).`,
      };
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
    const route = routeCheck(instance, probes);
    if (route) checks.push(route);
    for (const check of [await versionCheck(deps, instance), await scopeCheck(deps, instance)]) if (check) checks.push(check);
    checks.push(...(await nodeChecks(deps, instance)), ...timeoutChecks(instance), ...missingSecretChecks(instance), ...credentialChecks(instance));
  }
  checks.push(...(await fleetChecks(deps, instances)));
  if (deps.openclawConfigPath) checks.push(...(await plaintextCredentialChecks(deps.openclawConfigPath, options.instance && instances[0]?.name)));
  return { ok: everyInstanceReachable && checks.every((check) => check.status !== "fail"), checks };
}
