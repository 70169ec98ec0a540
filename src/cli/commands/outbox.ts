import { Command } from "commander";
import type { DeliveryReport } from "../../core/dispatcher.js";
import type { Messenger } from "../../messenger/create.js";
import { describeReport } from "../../present/report-text.js";
import type { CliContext } from "../context.js";
import { durationOption } from "../duration.js";
import { BadInput } from "../exit.js";

/** The fleet whose dead letters `dead` and `replay` read: there are none without one. */
function fleetOf(link: Messenger): NonNullable<Messenger["fleet"]> {
  if (!link.fleet) throw new BadInput("No NATS fleet is configured: dead letters exist only on a fleet (nats in the config).");
  return link.fleet;
}

/** `outbox list | flush | dead | replay`: what waits because no transport could deliver it. */
export function outboxCommand(context: CliContext): Command {
  const outbox = new Command("outbox").description("the messages waiting because no transport could deliver them");
  outbox
    .command("list")
    .description("list waiting messages, oldest first")
    .action(async () => {
      const queued = await (await context.open()).outbox.list();
      context.print(
        queued,
        queued.length === 0
          ? "The outbox is empty."
          : queued.map((q) => `${q.queuedAt}  ${q.target}  ${q.envelope.id}  tries=${q.attempts}  ${q.lastError ?? ""}`).join("\n"),
      );
    });
  outbox
    .command("flush")
    .description("follow up what targets accepted and retry waiting messages now, in order per target")
    .addOption(
      durationOption("--settle <duration>", "then wait this long for the evidence that what was accepted reached its agent (0: do not wait)", {
        defaultMs: 30_000,
        zeroAllowed: true,
      }),
    )
    .action(async (options: { settle: number }) => {
      const link = await context.open();
      const flushed = await link.outbox.flush({ all: true });
      // Everything accepted and not yet seen run, also what an earlier process left (killed, or never settled).
      const settled = options.settle > 0 ? await link.outbox.settleAll({ timeoutMs: options.settle }) : [];
      const key = (report: DeliveryReport) => `${report.id} ${report.to}`;
      const settledByKey = new Map(settled.map((report) => [key(report), report]));
      const flushedKeys = new Set(flushed.map(key));
      const reports = [...flushed.map((report) => settledByKey.get(key(report)) ?? report), ...settled.filter((report) => !flushedKeys.has(key(report)))];
      context.print(reports, reports.length === 0 ? "Nothing to flush." : reports.map(describeReport).join("\n"));
      context.conclude(reports.every((r) => r.ok) ? "ok" : "notDelivered");
    });
  outbox
    .command("dead")
    .description("messages the fleet's consumer gave up on (NATS dead letters), oldest first")
    .argument("[instance]", "whose dead letters (default: this instance's)")
    .action(async (instance: string | undefined) => {
      const letters = await fleetOf(await context.open()).deadLetters(instance);
      context.print(
        letters,
        letters.length === 0
          ? "No dead letters."
          : letters.map((l) => `${l.seq}  ${l.at}  ${l.envelope ? `${l.envelope.id} from ${l.envelope.from}` : "(not an envelope)"}  ${l.reason}`).join("\n"),
      );
    });
  outbox
    .command("replay")
    .description("send a dead letter to its instance again (by its number from `outbox dead`)")
    .argument("<seq>", "the dead letter's number")
    .argument("[instance]", "whose dead letter (default: this instance's)")
    .action(async (seq: string, instance: string | undefined) => {
      if (!/^\d+$/u.test(seq)) throw new BadInput(`"${seq}" is not a dead letter's number; \`outbox dead\` lists them.`);
      const envelope = await fleetOf(await context.open()).replay(Number(seq), instance);
      context.print({ replayed: Number(seq), id: envelope.id, to: envelope.to }, `Sent ${envelope.id} to ${envelope.to} again.`);
    });
  return outbox;
}
