import type { z } from "zod";
import { toValidationError } from "../config/parse.js";
import type { InstanceRegistry } from "../config/registry.js";
import { InterInstanceError } from "../core/errors.js";
import type { NodeHost, RunOutput } from "../transports/nodes/node-host.js";
import { once } from "../util/lazy.js";
import { type ZodApi, zod } from "../util/zod.js";

/** Proxy variables the seed's checklist says to drop for commands on the other machine (git over HTTPS behind a dead proxy hangs). */
export const PROXY_VARIABLES = ["HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"] as const;

const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/u;
function buildExecSchemas(z: ZodApi) {
  const noNul = (what: string) => z.string().refine((value) => !value.includes("\0"), `${what} cannot contain NUL bytes`);

  /** What a single command and a list of steps share: where, with what environment, how long. */
  const runFields = {
    /** Instance name or alias. */
    to: z.string().trim().min(1),
    /** Absolute working directory on the target machine. */
    cwd: noNul("cwd")
      .refine((value) => value.startsWith("/"), "cwd must be an absolute path on the target")
      .optional(),
    env: z.record(z.string().regex(ENV_NAME, "environment variable names use letters, digits and _"), noNul("an environment value")).optional(),
    timeoutMs: z.number().int().positive().max(3_600_000).optional(),
    /** Keep HTTP(S)_PROXY / ALL_PROXY as the node host has them (default: unset for the command). */
    keepProxy: z.boolean().default(false),
  };

  /** The program and its arguments, each one argv element: nothing is parsed by a shell. */
  const argvSchema = z
    .array(noNul("an argument"))
    .min(1, "give at least the program to run")
    .max(4096)
    .refine((argv) => argv[0]?.length, { message: "the program name cannot be empty", path: [0] });

  const execInputSchema = z.object({ ...runFields, argv: argvSchema }).strict();

  const stepsInputSchema = z
    .object({
      ...runFields,
      /** Each step one argv; the seed's advice to split a complex command into simple ones. */
      steps: z.array(argvSchema).min(1).max(100),
    })
    .strict();

  return { execInputSchema, stepsInputSchema };
}

/** Built on first use (see `zod()`). */
const execSchemas = once(() => buildExecSchemas(zod()));
type ExecSchemas = ReturnType<typeof buildExecSchemas>;

export type ExecInput = z.input<ExecSchemas["execInputSchema"]>;

export interface ExecResult extends RunOutput {
  /** Exit code 0, not timed out. */
  readonly ok: boolean;
  readonly to: string;
  readonly argv: readonly string[];
  readonly ms: number;
}

export interface ExecDependencies {
  readonly registry: InstanceRegistry;
  readonly nodeOf: (instanceName: string) => NodeHost | undefined;
}

/** Proxy variables removed with `env -u`: the node's env parameter can only add variables, not remove them. */
export function withoutProxy(argv: readonly string[]): string[] {
  return ["env", ...PROXY_VARIABLES.flatMap((name) => ["-u", name]), "--", ...argv];
}

/**
 * Runs one argv on the target machine through its paired node. The command is never a shell
 * string: quotes, `$(…)` and backticks in arguments reach the program as written.
 */
export async function exec({ registry, nodeOf }: ExecDependencies, input: ExecInput, options: { signal?: AbortSignal } = {}): Promise<ExecResult> {
  const parsed = execSchemas().execInputSchema.safeParse(input);
  if (!parsed.success) throw toValidationError("exec", parsed.error);
  const { to, argv, cwd, env, timeoutMs, keepProxy } = parsed.data;
  const instance = registry.resolve(to);
  const host = nodeOf(instance.name);
  if (!host) {
    throw new InterInstanceError(`${instance.name} has no node configured: remote exec needs a node host on that machine.`, {
      code: "NO_NODE",
      hint: `Add instances.${instance.name}.node = { gateway: { url, token }, name: "<node display name>" }.`,
    });
  }
  const started = performance.now();
  const output = await host.run(keepProxy ? argv : withoutProxy(argv), {
    // The instance's nodes timeout: the seed's 30 s unless configured.
    timeoutMs: timeoutMs ?? instance.timeouts.nodes,
    ...(cwd ? { cwd } : {}),
    ...(env ? { env } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  });
  return { ...output, ok: output.exitCode === 0 && !output.timedOut, to: instance.name, argv, ms: Math.round(performance.now() - started) };
}

export type ExecStepsInput = z.input<ExecSchemas["stepsInputSchema"]>;

export interface ExecStepsResult {
  readonly ok: boolean;
  readonly to: string;
  /** The steps that ran, in order; the last one is the failure when `ok` is false. */
  readonly steps: readonly ExecResult[];
  /** Index of the step that failed; the steps after it did not run. */
  readonly failedStep?: number;
}

/** Runs argv steps one after another on the target, stopping at the first that fails. */
export async function execSteps(deps: ExecDependencies, input: ExecStepsInput, options: { signal?: AbortSignal } = {}): Promise<ExecStepsResult> {
  const parsed = execSchemas().stepsInputSchema.safeParse(input);
  if (!parsed.success) throw toValidationError("exec steps", parsed.error);
  const { steps, ...shared } = parsed.data;
  const results: ExecResult[] = [];
  for (const [index, argv] of steps.entries()) {
    const result = await exec(deps, { ...shared, argv }, options);
    results.push(result);
    if (!result.ok) return { ok: false, to: result.to, steps: results, failedStep: index };
  }
  return { ok: true, to: results[0]?.to ?? shared.to, steps: results };
}
