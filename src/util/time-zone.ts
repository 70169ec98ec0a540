/** Calendar date and wall-clock time of an instant in an IANA time zone. */
export interface ZonedStamp {
  /** YYYY-MM-DD */
  readonly date: string;
  /** HH:MM, 24-hour */
  readonly time: string;
}

/** One formatter per time zone: building an Intl.DateTimeFormat costs some twenty times formatting with one. */
const formats = new Map<string, Intl.DateTimeFormat>();

export function zonedStamp(instant: Date, timeZone: string): ZonedStamp {
  let format = formats.get(timeZone);
  if (!format) {
    format = new Intl.DateTimeFormat("en-US", {
      timeZone,
      year: "numeric",
      month: "2-digit",
      day: "2-digit",
      hour: "2-digit",
      minute: "2-digit",
      hourCycle: "h23",
    });
    if (formats.size >= 32) formats.clear();
    formats.set(timeZone, format);
  }
  const parts = format.formatToParts(instant);
  const part = (type: Intl.DateTimeFormatPartTypes) => parts.find((p) => p.type === type)?.value ?? "00";
  return { date: `${part("year")}-${part("month")}-${part("day")}`, time: `${part("hour")}:${part("minute")}` };
}
