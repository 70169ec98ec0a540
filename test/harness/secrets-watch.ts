import type { DestinationStream } from "pino";
import { captureLines } from "./capture.ts";

/**
 * The suite-wide secrets check: every credential the harness hands out is registered here, every
 * log line the library writes in a test (through `testLog()`) and every CLI output a test reads is
 * kept, and `test/harness/no-secret-leaks.ts` fails the test file if one holds a credential.
 */
const secrets = new Set<string>();
const outputs: string[] = [];

export function watchSecret(value: string): void {
  secrets.add(value);
}

export function watchOutput(text: string): void {
  outputs.push(text);
}

/** The library's logger for a test: every level, every line kept for the check. */
export function testLog(): { level: "trace"; destination: DestinationStream } {
  return { level: "trace", destination: captureLines(outputs).destination };
}

/** Every place one of `secrets` shows up in `outputs`, with a little context and the secret itself blanked. */
export function findLeaks(outputs: Iterable<string>, secrets: Iterable<string>): string[] {
  const leaks: string[] = [];
  const known = [...secrets];
  for (const output of outputs) {
    for (const secret of known) {
      const at = output.indexOf(secret);
      if (at >= 0) leaks.push(`…${output.slice(Math.max(0, at - 80), at)}[a credential]${output.slice(at + secret.length, at + secret.length + 40)}…`);
    }
  }
  return leaks;
}

/** The leaks in what this test file produced so far. */
export function secretLeaks(): string[] {
  return findLeaks(outputs, secrets);
}
