import { Writable } from "node:stream";
import type { DestinationStream } from "pino";

/** A pino destination whose lines are kept in memory for assertions, in `lines` when given. */
export function captureLines(lines: string[] = []): { destination: DestinationStream; lines: string[] } {
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(...chunk.toString("utf8").split("\n").filter(Boolean));
      callback();
    },
  });
  return { destination: destination as unknown as DestinationStream, lines };
}
