import type { InstanceRegistry } from "../config/registry.js";
import type { Dispatcher } from "../core/dispatcher.js";
import type { Outbox } from "../core/outbox.js";
import { fileReceipts } from "../inbox/receipts.js";
import type { Messenger } from "./api.js";

/** `messenger.outbox`: the durable queue and the follow-up of accepted messages. */
export function outboxView(dispatcher: Dispatcher, registry: InstanceRegistry, openOutbox: (() => Promise<Outbox>) | undefined): Messenger["outbox"] {
  return {
    list: async () => (openOutbox ? (await openOutbox()).list() : []),
    waiting: () => dispatcher.waiting(),
    flush: (options) => dispatcher.flush(options),
    followUp: (options) => dispatcher.followUp(options),
    settle: (reports, options) => dispatcher.settle(reports, options),
    settleAll: (options) => dispatcher.settleAll(options),
    drop: async (id) => (openOutbox ? (await openOutbox()).remove(id) : false),
    unseen: async () => {
      if (!openOutbox) return [];
      const byTarget = Map.groupBy((await openOutbox()).written(), (row) => row.target);
      const receipts = await Promise.all(
        [...byTarget].flatMap(([target, rows]) => {
          const instance = registry.find(target);
          return instance
            ? [
                fileReceipts(
                  instance,
                  rows.map((row) => row.id),
                ),
              ]
            : [];
        }),
      );
      return receipts.flat().filter((receipt) => receipt.state !== "seen");
    },
  };
}
