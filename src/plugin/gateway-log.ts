import type { DestinationStream } from "pino";

/** The Gateway's logger as a plugin gets it (`api.logger`): one string per line, `debug` optional. */
export interface GatewayLogger {
  debug?: (message: string) => void;
  info: (message: string) => void;
  warn: (message: string) => void;
  error: (message: string) => void;
}

const OWN_FIELDS = new Set(["level", "time", "pid", "hostname", "name", "msg"]);

function fieldText(value: unknown): string {
  if (typeof value === "string") return value;
  // An error (pino's err serializer): its message, not its stack.
  const message = (value as { message?: unknown } | null)?.message;
  return typeof message === "string" ? message : JSON.stringify(value);
}

/**
 * A pino destination that hands each line to the Gateway's logger, so the plugin's lines carry the
 * Gateway's format, levels and redaction. pino has already redacted and scrubbed the record; this
 * only turns it into "inter-instance: <msg> (key=value, …)".
 */
export function gatewayLogDestination(logger: GatewayLogger): DestinationStream {
  return {
    write(line: string): void {
      let record: Record<string, unknown>;
      try {
        record = JSON.parse(line) as Record<string, unknown>;
      } catch {
        logger.info(`inter-instance: ${line.trimEnd()}`);
        return;
      }
      const fields = Object.entries(record).filter(([key]) => !OWN_FIELDS.has(key));
      const text = `inter-instance: ${fieldText(record.msg ?? "")}${fields.length > 0 ? ` (${fields.map(([key, value]) => `${key}=${fieldText(value)}`).join(", ")})` : ""}`;
      const level = typeof record.level === "number" ? record.level : 30;
      if (level >= 50) logger.error(text);
      else if (level >= 40) logger.warn(text);
      else if (level >= 30) logger.info(text);
      else logger.debug?.(text);
    },
  };
}
