import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { expect, it } from "vitest";

// `npm run demo` = build + this script; the test suite has built already.
it("the demo runs end to end: phrase, send, ask, fallback, doctor, cleanup", async () => {
  const { stdout } = await promisify(execFile)(process.execPath, ["demo/run.ts"], { cwd: join(import.meta.dirname, "..", ".."), timeout: 170_000 });
  expect(stdout).toContain('phrase "给小m发消息：你好" -> {"action":"send","target":"xiaom","body":"你好"}');
  expect(stdout).toMatch(/1\. send to 小m:\s+sessions_send\s+accepted\s+=> ok=true status=accepted via=sessions_send/u);
  expect(stdout).toContain('answer "ACK deployed" (via sessions_send)');
  expect(stdout).toMatch(/sessions_send\s+unavailable UNREACHABLE[^\n]*\n\s+memory_file\s+written\n\s+=> ok=true status=written via=memory_file/u);
  expect(stdout).toMatch(/xiaoa\s+sessions_send\s+ok/u);
  expect(stdout).toMatch(/xiaom\s+sessions_send\s+FAIL UNREACHABLE/u);
  expect(stdout).toContain("cleaned up");
}, 180_000);
