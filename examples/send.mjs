// Send one message to another OpenClaw instance and print the delivery report.
//   XIAOM_URL=ws://127.0.0.1:18789 XIAOM_TOKEN=… XIAOM_WORKSPACE=~/.openclaw/workspace node examples/send.mjs "部署完成"
import { createMessenger } from "openclaw-inter-instance";

const link = createMessenger({
  config: {
    self: { name: "xiaoa" },
    instances: {
      xiaom: {
        aliases: ["小m", "mac-mini"],
        gateway: { url: process.env.XIAOM_URL, tokenEnv: "XIAOM_TOKEN" },
        workspace: process.env.XIAOM_WORKSPACE, // fallback: append to its memory/YYYY-MM-DD.md
        transports: ["sessions_send", "memory_file"],
      },
    },
  },
});

try {
  const report = await link.send({ to: "小m", body: process.argv[2] ?? "hello from xiaoa" });
  console.log(JSON.stringify(report, null, 2));
  process.exitCode = report.ok ? 0 : 1;
} finally {
  await link.close();
}
