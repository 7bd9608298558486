/**
 * Go duration syntax (`time.ParseDuration`), the form Pomerium configs use:
 * `30s`, `5m`, `1h30m`, `500ms`, `1.5h`, `0`. Limen also accepts `d` (24h)
 * for long spans such as `audit_retention: 30d`.
 */

const UNIT_MS: Readonly<Record<string, number>> = {
  ns: 1e-6,
  us: 1e-3,
  'µs': 1e-3, // U+00B5 MICRO SIGN, as Go accepts
  'μs': 1e-3, // U+03BC GREEK SMALL LETTER MU, as Go accepts
  ms: 1,
  s: 1_000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
};

// One `<number><unit>` component; `ms` must be tried before `m`.
const COMPONENT = /(\d*\.?\d*)(ns|us|µs|μs|ms|s|m|h|d)/y;

/**
 * Parses a Go-syntax duration into whole milliseconds (sub-millisecond parts
 * are rounded). Returns undefined for anything malformed; a leading `-` gives
 * a negative result so callers can say "must not be negative".
 */
export function parseDuration(text: string): number | undefined {
  let rest = text;
  let sign = 1;
  if (rest.startsWith('-') || rest.startsWith('+')) {
    if (rest.startsWith('-')) sign = -1;
    rest = rest.slice(1);
  }
  if (rest === '0') return 0;
  if (rest === '') return undefined;
  let total = 0;
  let at = 0;
  while (at < rest.length) {
    COMPONENT.lastIndex = at;
    const match = COMPONENT.exec(rest);
    if (match === null) return undefined;
    const [, digits = '', unit = ''] = match;
    // Go: at least one digit on either side of the dot.
    if (!/\d/.test(digits)) return undefined;
    total += Number(digits) * (UNIT_MS[unit] ?? Number.NaN);
    at = COMPONENT.lastIndex;
  }
  const ms = Math.round(total);
  if (!Number.isSafeInteger(ms)) return undefined;
  return sign * ms;
}

