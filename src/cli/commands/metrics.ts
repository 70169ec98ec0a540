import { Command } from "commander";
import type { CliContext } from "../context.js";

/** `metrics`: the link's numbers in the Prometheus text format (what the plugin's route serves). */
export function metricsCommand(context: CliContext): Command {
  return new Command("metrics")
    .description(
      "print the numbers a monitoring system reads, in the Prometheus text format: outbox depth and oldest waiting message per instance, messages awaiting evidence, dead letters, open circuits (counters start at zero in this process; the plugin serves the Gateway's at /inter-instance/metrics)",
    )
    .action(async () => {
      const link = await context.open();
      const text = await link.metrics();
      context.print({ format: "prometheus-text-0.0.4", text }, text.trimEnd());
      context.conclude("ok");
    });
}
