// Run by scenario 9 as a child process: the plugin's two services at rest, as a Gateway runs them,
// and nothing else. The inbox watches an empty workspace (file events and its safety-net poll); the
// outbox holds one message for a target that refuses (its retry timer). Prints "ready" when set up.
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { InboxWatcher } from "../dist/inbox/watcher.js";
import { createMessenger } from "../dist/index.js";
import { createOutboxService } from "../dist/plugin/services/outbox.js";

const [scratch = "", refusing = ""] = process.argv.slice(2);
const workspace = join(scratch, "workspace");
await mkdir(workspace, { recursive: true });
const link = createMessenger({
  config: {
    self: { name: "bench-idle" },
    stateDir: join(scratch, "state"),
    instances: { xiaom: { gateway: { url: refusing, token: "not-used" }, transports: ["sessions_send"] } },
  },
  log: { level: "silent" },
});
const logger = { info: () => undefined, warn: () => undefined };
const outbox = createOutboxService({ link: async () => link, retryMs: () => 60_000, mayHoldState: () => true });
const inbox = new InboxWatcher({ workspace, sessionKey: "agent:main:main", pollMs: 30_000, surface: async () => "surfaced" as const });
await inbox.start();
await outbox.start({ logger } as never);
const report = await link.send({ to: "xiaom", body: "waits in the outbox while the bench measures" });
outbox.wake();
process.stdout.write(`ready ${report.status}\n`);
// Inside a Gateway the Gateway keeps the process alive; here an interval that never comes due does.
const alive = setInterval(() => undefined, 2 ** 30);
process.once("SIGTERM", () => {
  clearInterval(alive);
  void Promise.all([inbox.stop(), outbox.stop?.({ logger } as never)]).then(() => link.close());
});
