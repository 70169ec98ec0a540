import { join } from "node:path";
import { defaultStateDir } from "../gateway/device-identity.js";
import type { Config } from "./schema.js";

/** Where a config's outbox database lives: `outbox.path`, else `<stateDir>/outbox.sqlite`. */
export function outboxPath(config: Config, env: NodeJS.ProcessEnv = process.env): string {
  return config.outbox.path ?? join(config.stateDir ?? defaultStateDir(env), "outbox.sqlite");
}

/** Where the audit log of this instance is, next to the outbox by default. */
export function auditPath(config: Config, env: NodeJS.ProcessEnv = process.env): string {
  return config.audit.path ?? join(config.stateDir ?? defaultStateDir(env), "audit.sqlite");
}
