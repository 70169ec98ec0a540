// Ask another OpenClaw instance and print its agent's answer.
//   XIAOM_URL=ws://127.0.0.1:18789 XIAOM_TOKEN=… node examples/ask.mjs "部署完成了吗？"
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
  const result = await link.ask({ to: "小m", body: process.argv[2] ?? "部署完成了吗？" }, { timeoutMs: 120_000 });
  console.log(result.ok ? result.reply : `no answer (${result.status}): ${result.error?.message ?? result.report.status}`);
  process.exitCode = result.ok ? 0 : 1;
} finally {
  await link.close();
}
