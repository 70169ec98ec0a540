// Hand a task to another OpenClaw instance, go on with other work, and read its result later.
//   XIAOM_URL=ws://127.0.0.1:18789 XIAOM_TOKEN=… node examples/delegate.mjs "整理发布说明"
// Inside a Gateway the plugin's instance_delegate tool does the waiting and brings the result into
// the session as a new turn; a script can follow the task itself, as here.
import { createMessenger } from "openclaw-inter-instance";

const link = createMessenger({
  config: {
    self: { name: "xiaoa" },
    instances: {
      xiaom: { aliases: ["小m"], gateway: { url: process.env.XIAOM_URL, tokenEnv: "XIAOM_TOKEN" }, transports: ["sessions_send"] },
    },
  },
});

try {
  const task = await link.delegate({ to: "小m", body: process.argv[2] ?? "整理发布说明", deadline: 10 * 60_000 });
  console.error(`task ${task.id} handed to ${task.to} (${task.report.status})`);
  // …other work…
  const [status] = await link.waitFor(task.id, "answered", { timeoutMs: 120_000 });
  await link.tasks.follow();
  const done = await link.tasks.get(task.id);
  console.log(done?.state === "answered" ? done.result : `no result yet (${status?.state ?? "unknown"})`);
  process.exitCode = done?.state === "answered" ? 0 : 1;
} finally {
  await link.close();
}
