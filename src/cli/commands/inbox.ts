import { existsSync } from "node:fs";
import { Command } from "commander";
import { defaultStateDir } from "../../gateway/device-identity.js";
import { describeSender, HeldInbox, type HeldMessage, heldPath } from "../../inbox/held.js";
import type { CliContext } from "../context.js";

function describeHeld(message: HeldMessage): string {
  const preview = message.body.length > 120 ? `${message.body.slice(0, 120)}…` : message.body;
  const state = message.decision ? ` [${message.decision}${message.settledAt ? "" : ", waiting for the plugin"}]` : "";
  return `${message.id}  ${message.receivedAt}  ${describeSender(message)} via ${message.transport}${state}\n    why held: ${message.reason}\n    ${JSON.stringify(preview)}`;
}

/** Runs `work` on the held messages, or `empty` when nothing was ever held here. */
async function withInbox(context: CliContext, work: (held: HeldInbox) => Promise<void> | void, empty: () => void): Promise<void> {
  const config = await context.loadConfig();
  const path = heldPath(config.stateDir ?? defaultStateDir(context.env));
  if (!existsSync(path)) return empty();
  const held = await HeldInbox.open(path);
  try {
    await work(held);
  } finally {
    held.close();
  }
}

/** A decision that could not be made: printed, and the run fails as bad input. */
function refused(context: CliContext, value: unknown, text: string): void {
  context.print(value, text);
  context.conclude("badInput");
}

/**
 * `inbox list | approve <id> | refuse <id>`: the owner's side of the inbound policy, on the machine
 * whose plugin held the messages (same state dir: `stateDir` in the config, or
 * $OPENCLAW_INTER_INSTANCE_HOME). Approving delivers a message once; the plugin does it at once.
 */
export function inboxCommand(context: CliContext): Command {
  const inbox = new Command("inbox").description("messages from other instances that this instance's policy held for you");
  inbox
    .command("list")
    .description("held messages (--all: also those already approved or refused)")
    .option("--all", "include decided messages")
    .action((options: { all?: boolean }) =>
      withInbox(
        context,
        (held) => {
          const messages = held.list({ pending: !options.all });
          const text =
            messages.length === 0
              ? "No messages are waiting for you."
              : [
                  `${messages.length} message(s):`,
                  ...messages.map(describeHeld),
                  "",
                  "Approve one: openclaw-inter-instance inbox approve <id>; refuse: inbox refuse <id>.",
                ].join("\n");
          context.print(messages, text);
        },
        () => context.print([], "No messages are waiting for you (nothing was ever held here)."),
      ),
    );
  for (const [verb, decision] of [
    ["approve", "approved"],
    ["refuse", "refused"],
  ] as const) {
    inbox
      .command(`${verb} <id>`)
      .description(verb === "approve" ? "deliver a held message to the agent (once)" : "drop a held message; its sender's receipt says refused")
      .action((id: string) =>
        withInbox(
          context,
          async (held) => {
            const result = await held.decide(id, decision);
            if (result.ok) {
              const next =
                decision === "approved"
                  ? "The plugin puts it into the agent's next turn now (if the Gateway is down, when it starts)."
                  : "Its sender's receipt says refused.";
              return context.print({ id, decision }, `${decision === "approved" ? "Approved" : "Refused"} ${id} ${describeSender(result.message)}. ${next}`);
            }
            if (result.reason === "decided")
              return refused(context, { id, decision: result.message?.decision }, `${id} was already ${result.message?.decision}; nothing changed.`);
            refused(context, { id }, `No held message has the id ${id}. See the held ones: openclaw-inter-instance inbox list`);
          },
          () =>
            refused(
              context,
              { id },
              `No held message has the id ${id} (nothing was ever held here). Is this the machine whose plugin held it, with the same state dir?`,
            ),
        ),
      );
  }
  return inbox;
}
