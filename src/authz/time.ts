/**
 * Calendar arithmetic for the `date`, `day_of_week` and `time_of_day`
 * criteria. Wall-clock time in an IANA zone comes from Intl (the runtime's
 * tz database), so DST changes are handled the way the zone defines them:
 * a local time that is skipped never occurs, one that repeats occurs twice.
 * Nothing here reads the clock; `now` is always passed in.
 */

const MS_PER_MINUTE = 60_000;
const MS_PER_HOUR = 3_600_000;
const MS_PER_DAY = 86_400_000;

/**
 * Converts instants to wall-clock time in one zone. Intl's formatToParts costs
 * microseconds, so the UTC offset is cached per hour: when the offset at the
 * start and at the end of an hour agree, it holds for the whole hour (zones
 * change offset at most once an hour), and the next call in that hour is a
 * subtraction. Only calls inside an hour with a transition pay for Intl.
 */
export class ZoneClock {
  readonly timeZone: string;
  private readonly format: Intl.DateTimeFormat | undefined;
  private cachedHour = Number.NaN;
  private cachedOffset = 0;

  /** Throws RangeError for a name the runtime's tz database does not know. */
  constructor(timeZone: string) {
    const format = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
      era: 'short',
    });
    this.timeZone = format.resolvedOptions().timeZone;
    this.format = this.timeZone === 'UTC' ? undefined : format;
  }

  /** Offset of local time from UTC in ms at instant `t`. */
  offsetAt(t: number): number {
    if (this.format === undefined) return 0;
    const hour = Math.floor(t / MS_PER_HOUR) * MS_PER_HOUR;
    if (hour === this.cachedHour) return this.cachedOffset;
    const start = this.computeOffset(hour);
    const end = this.computeOffset(hour + MS_PER_HOUR - 1);
    if (start === end) {
      this.cachedHour = hour;
      this.cachedOffset = start;
      return start;
    }
    return this.computeOffset(t);
  }

  /** Milliseconds since 1970-01-01T00:00 of local wall-clock time at `t`. */
  localMs(t: number): number {
    return t + this.offsetAt(t);
  }

  /**
   * The instant at which local wall-clock time reads `local` (ms, as from
   * localMs). A skipped local time resolves past the gap; a repeated one to
   * its first occurrence.
   */
  instantOf(local: number): number {
    // Offsets a day either side bracket any transition near `local` (zones
    // change offset at most once a day); each gives a candidate instant.
    const before = local - this.offsetAt(local - MS_PER_DAY);
    const after = local - this.offsetAt(local + MS_PER_DAY);
    const beforeFits = this.localMs(before) === local;
    const afterFits = this.localMs(after) === local;
    if (beforeFits && afterFits) return Math.min(before, after);
    if (beforeFits) return before;
    if (afterFits) return after;
    // In a gap (spring forward): read with the earlier offset, past the gap.
    return before;
  }

  private computeOffset(t: number): number {
    const seconds = Math.floor(t / 1000) * 1000;
    let year = 0;
    let month = 1;
    let day = 1;
    let hour = 0;
    let minute = 0;
    let second = 0;
    let bc = false;
    for (const part of this.format!.formatToParts(seconds)) {
      switch (part.type) {
        case 'year': year = Number(part.value); break;
        case 'month': month = Number(part.value); break;
        case 'day': day = Number(part.value); break;
        case 'hour': hour = Number(part.value); break;
        case 'minute': minute = Number(part.value); break;
        case 'second': second = Number(part.value); break;
        case 'era': bc = part.value === 'BC' || part.value === 'B'; break;
        default: break;
      }
    }
    const date = new Date(0);
    date.setUTCFullYear(bc ? 1 - year : year, month - 1, day);
    date.setUTCHours(hour, minute, second, 0);
    return date.getTime() - seconds;
  }
}

// Floor division instead of `%`: on epoch-sized doubles `%` is an fmod, an
// order of magnitude slower, and these run on every request.

/** Day of week, 0 = Sunday, of a local-time value from ZoneClock.localMs. */
export function localDayOfWeek(localMs: number): number {
  // 1970-01-01 was a Thursday.
  const days = Math.floor(localMs / MS_PER_DAY) + 4;
  return days - Math.floor(days / 7) * 7;
}

/** Seconds since local midnight of a local-time value from ZoneClock.localMs. */
export function localSecondOfDay(localMs: number): number {
  const seconds = Math.floor(localMs / 1000);
  return seconds - Math.floor(seconds / 86_400) * 86_400;
}

const TIME_OF_DAY = /^([01]?\d|2[0-4]):([0-5]\d)(?::([0-5]\d))?$/;

/** Parses `9:00`, `09:00` or `09:00:30` to seconds since midnight (`24:00` allowed); undefined if malformed. */
export function parseTimeOfDay(text: string): number | undefined {
  const m = TIME_OF_DAY.exec(text);
  if (m === null) return undefined;
  const seconds = Number(m[1]) * 3600 + Number(m[2]) * 60 + Number(m[3] ?? 0);
  return seconds > 86_400 ? undefined : seconds;
}

const DAY_NAMES: Readonly<Record<string, number>> = {
  sun: 0, sunday: 0,
  mon: 1, monday: 1,
  tue: 2, tues: 2, tuesday: 2,
  wed: 3, wednesday: 3,
  thu: 4, thur: 4, thurs: 4, thursday: 4,
  fri: 5, friday: 5,
  sat: 6, saturday: 6,
};

/**
 * Parses a day-of-week spec into a 7-bit mask (bit 0 = Sunday): `mon,wed`,
 * `mon-fri`, `fri-mon` (wraps over the weekend), `*`, full names, any case.
 * Returns an error message for a bad token.
 */
export function parseDaysOfWeek(spec: string): number | string {
  const tokens = spec.split(',').map((t) => t.trim()).filter((t) => t !== '');
  if (tokens.length === 0) return 'expected at least one day (mon, tue, ..., ranges like mon-fri, or *)';
  let mask = 0;
  for (const token of tokens) {
    if (token === '*') {
      mask = 0x7f;
      continue;
    }
    const range = token.split('-').map((t) => t.trim().toLowerCase());
    if (range.length > 2) return `"${token}" is not a day or a range of days`;
    const from = DAY_NAMES[range[0]!];
    const to = range.length === 2 ? DAY_NAMES[range[1]!] : from;
    if (from === undefined || to === undefined) {
      return `"${token}" is not a day (expected sun, mon, tue, wed, thu, fri, sat, full names, a range like mon-fri, or *)`;
    }
    for (let d = from; ; d = (d + 1) % 7) {
      mask |= 1 << d;
      if (d === to) break;
    }
  }
  return mask;
}

const ISO_DATE =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?)?(Z|[+-]\d{2}:?\d{2})?$/i;

/**
 * Parses an ISO-8601 date (`2026-01-31`) or date-time
 * (`2026-01-31T09:30:00Z`, `...+02:00`) to an instant. A value without an
 * offset is wall-clock time in `clock`'s zone (UTC unless the criterion sets
 * `timezone`); a date alone means its midnight. Returns an error message for
 * anything else, including impossible dates like 2026-02-30.
 */
export function parseIsoInstant(text: string, clock: ZoneClock): number | string {
  const m = ISO_DATE.exec(text.trim());
  if (m === null) return `"${text}" is not an ISO-8601 date or date-time (e.g. 2026-01-31 or 2026-01-31T09:00:00Z)`;
  const [, y, mo, d, h, mi, s, frac, zone] = m;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const hour = Number(h ?? 0);
  const minute = Number(mi ?? 0);
  const second = Number(s ?? 0);
  const ms = frac === undefined ? 0 : Math.floor(Number(`0.${frac}`) * 1000);
  const local = Date.UTC(year, month - 1, day, hour, minute, second, ms);
  const check = new Date(local);
  if (
    check.getUTCFullYear() !== year ||
    check.getUTCMonth() !== month - 1 ||
    check.getUTCDate() !== day ||
    hour > 23
  ) {
    return `"${text}" is not a valid date`;
  }
  if (zone === undefined) return clock.instantOf(local);
  if (zone.toUpperCase() === 'Z') return local;
  const sign = zone.startsWith('-') ? -1 : 1;
  const digits = zone.slice(1).replace(':', '');
  const offset = sign * (Number(digits.slice(0, 2)) * MS_PER_HOUR + Number(digits.slice(2)) * MS_PER_MINUTE);
  return local - offset;
}
