import { describeChecks } from "../../present/report-text.js";
import type { CliContext } from "../context.js";

/** A repeatable option (`--alias a --alias b`): its values in order. */
export const collect = (value: string, previous: string[] = []): string[] => [...previous, value];

/** Runs the target's doctor after `add` or `pair`, so the person sees at once whether it can be reached. */
export async function checkInstance(context: CliContext, name: string, lead: string, value: Record<string, unknown>): Promise<void> {
  const report = await (await context.open()).doctor({ instance: name });
  const failing = report.checks.filter((check) => check.status === "fail").length;
  const tail = report.ok
    ? `${name} passes every check.`
    : failing > 0
      ? `${failing} check${failing === 1 ? "" : "s"} failed; fix ${failing === 1 ? "it" : "them"}, then run \`openclaw-inter-instance doctor ${name}\`.`
      : `No transport reaches ${name} yet (see the skipped ones above); configure one, then run \`openclaw-inter-instance doctor ${name}\`.`;
  context.print({ ...value, doctor: report }, [lead, ...describeChecks(report.checks), tail].join("\n"));
  // Saved, but not usable as it is: a script must not take that for success.
  context.conclude(report.ok ? "ok" : "notDelivered");
}
