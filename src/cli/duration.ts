import { InvalidArgumentError, Option } from "commander";

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
type Unit = keyof typeof UNIT_MS;

/** Node's timers take at most 2^31 - 1 ms (about 24.8 days); a longer one would fire at once. */
const MAX_TIMER_MS = 24 * UNIT_MS.d;

const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)?$/u;

/**
 * The CLI's one reading of a length of time, in milliseconds: `500ms`, `30s`, `2m`, `1h`, `1d`, or a
 * plain number, which counts as seconds (as `ask --timeout 120` and `exec -t 60` always did).
 * Anything else, zero (unless `zeroAllowed`) or more than `maxMs` (default 24 days, what a timer can wait) throws
 * commander's `InvalidArgumentError` naming `option` and the forms it takes.
 */
export function parseDuration(value: string, option: string, maxMs = MAX_TIMER_MS, zeroAllowed = false): number {
  const match = DURATION.exec(value.trim());
  const ms = match ? Math.round(Number(match[1]) * UNIT_MS[(match[2] ?? "s") as Unit]) : Number.NaN;
  if (!((ms > 0 || (zeroAllowed && ms === 0)) && ms <= maxMs)) {
    const least = zeroAllowed ? "0 or more" : "more than 0";
    throw new InvalidArgumentError(
      `${option} takes a duration such as 500ms, 30s, 2m or 1h (a plain number counts as seconds), ${least} and at most ${formatDuration(maxMs)}; "${value}" is not one.`,
    );
  }
  return ms;
}

/**
 * `--since`: an ISO time, or a duration back from now with its unit (`30m`, `2h`, `7d`, as
 * `parseDuration` reads it). Throws `InvalidArgumentError` with both forms otherwise.
 */
export function parseSince(value: string, now = Date.now()): Date {
  if (DURATION.exec(value.trim())?.[2]) return new Date(now - parseDuration(value, "--since", 100 * 365 * UNIT_MS.d));
  const time = new Date(value);
  if (Number.isNaN(time.getTime()))
    throw new InvalidArgumentError(`--since "${value}" is neither a time (2026-12-01T10:00:00Z) nor how long ago (30m, 2h, 7d).`);
  return time;
}

/** `120000` → `2m`: how a default is shown in the help. */
function formatDuration(ms: number): string {
  const unit = (["d", "h", "m", "s"] as const).find((candidate) => ms % UNIT_MS[candidate] === 0);
  return unit ? `${ms / UNIT_MS[unit]}${unit}` : `${ms}ms`;
}

export interface DurationOptionSettings {
  /** The value when the option is not given, in milliseconds (shown in the help as `2m`). */
  readonly defaultMs?: number;
  /** A point in time instead: an ISO time or how long ago (see `parseSince`); the value is a `Date`. */
  readonly ago?: boolean;
  /** 0 is a value of its own ("do not wait"), not a mistake. */
  readonly zeroAllowed?: boolean;
}

/**
 * An option that takes a time: a duration (see `parseDuration`) whose value is milliseconds, or with
 * `ago` a point in time. Every CLI command with a time option builds it here, so they all accept the
 * same forms and fail alike.
 */
export function durationOption(flags: string, description: string, settings: DurationOptionSettings = {}): Option {
  if (settings.ago) return new Option(flags, description).argParser((value: string) => parseSince(value));
  const option = new Option(flags, `${description} (500ms, 30s, 2m, 1h; a plain number is seconds)`);
  const name = option.long ?? option.short ?? flags;
  option.argParser((value: string) => parseDuration(value, name, MAX_TIMER_MS, settings.zeroAllowed === true));
  return settings.defaultMs === undefined ? option : option.default(settings.defaultMs, formatDuration(settings.defaultMs));
}
