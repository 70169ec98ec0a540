import { Writable } from "node:stream";
import { createLogger, type Logger } from "../../src/index.js";

/** A logger that writes nothing, for unit tests that give the dispatcher or outbox one. */
export function silentLogger(): Logger {
  return createLogger({ level: "silent", destination: new Writable({ write: (_chunk, _encoding, done) => done() }) as never });
}
