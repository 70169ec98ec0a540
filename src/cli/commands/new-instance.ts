import { initConfigFile, suggestedSelfName } from "../../config/file.js";
import type { Config } from "../../config/schema.js";
import { ValidationError } from "../../core/errors.js";
import { describeChecks } from "../../present/report-text.js";
import type { CliContext } from "../context.js";

/** A repeatable option (`--alias a --alias b`): its values in order. */
export const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

/** Runs the target's doctor after `add` or `pair`, so the person sees at once whether it can be reached. */
export async function checkInstance(
  context: CliContext,
  name: string,
  lead: string,
  value: Record<string, unknown>,
  trailer: readonly string[] = [],
): Promise<void> {
  const report = await (await context.open()).doctor({ instance: name });
  const failing = report.checks.filter((check) => check.status === "fail").length;
  const tail = report.ok
    ? `${name} passes every check.`
    : failing > 0
      ? `${failing} check${failing === 1 ? "" : "s"} failed; fix ${failing === 1 ? "it" : "them"}, then run \`openclaw-inter-instance doctor ${name}\`.`
      : `No transport reaches ${name} yet (see the skipped ones above); configure one, then run \`openclaw-inter-instance doctor ${name}\`.`;
  context.print({ ...value, doctor: report }, [lead, ...describeChecks(report.checks), tail, ...trailer].join("\n"));
  // Saved, but not usable as it is: a script must not take that for success.
  context.conclude(report.ok ? "ok" : "notDelivered");
}

/**
 * The config, made on first use when there is none yet (named after this host), so that a new
 * machine can go straight to `invite` or `pair`. Any other problem with the config stays an error.
 */
export async function configOrNew(context: CliContext, load: () => Promise<Config> = () => context.loadConfig()): Promise<Config> {
  try {
    return await load();
  } catch (error) {
    if (!(error instanceof ValidationError && error.message.startsWith("No config file"))) throw error;
    const name = suggestedSelfName();
    await initConfigFile(context.configPath(), name);
    context.progress(
      `No config yet: wrote ${context.configPath()} for "${name}" (from the host name; \`openclaw-inter-instance init --force --name <name>\` renames it).`,
    );
    return load();
  }
}
