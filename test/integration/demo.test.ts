import { join } from "node:path";
import { expect, it } from "vitest";
import { runToExit } from "../harness/run-to-exit.js";

// `npm run demo` = build + this script; the test suite has built already.
it("the demo runs end to end: phrase, send, ask, fallback, doctor, cleanup; then exits by itself with nothing left running", async () => {
  const run = await runToExit([process.execPath, "demo/run.ts"], {
    cwd: join(import.meta.dirname, "..", ".."),
    timeoutMs: 170_000,
    doneWhen: ({ stdout }) => stdout.includes("cleaned up"),
  });
  const { stdout } = run;
  expect(run.code, run.stderr.slice(-3000)).toBe(0);
  expect(run.exitAfterDoneMs!).toBeLessThan(10_000);
  expect(run.leftovers).toEqual([]);
  expect(stdout).toContain('phrase "给小m发消息：你好" -> {"action":"send","target":"xiaom","body":"你好"}');
  expect(stdout).toMatch(/1\. send to 小m:\s+sessions_send\s+accepted\s+=> ok=true status=accepted via=sessions_send/u);
  expect(stdout).toContain('answer "ACK deployed" (via sessions_send)');
  expect(stdout).toMatch(/sessions_send\s+unavailable UNREACHABLE[^\n]*\n\s+memory_file\s+written\n\s+=> ok=true status=written via=memory_file/u);
  expect(stdout).toMatch(/xiaoa\s+sessions_send\s+ok/u);
  expect(stdout).toMatch(/xiaom\s+sessions_send\s+FAIL UNREACHABLE/u);
  expect(stdout).toContain("cleaned up");
}, 180_000);
