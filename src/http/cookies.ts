/**
 * Cookie names and values Limen reads or filters beyond the single-value
 * reader in request.ts: all values of a name, and the name a Set-Cookie
 * line would set once browsers strip its prefix.
 */
import { cookiePartValue } from './request.js';

/**
 * Every value of the cookies called `name`, in header order. A browser sends
 * two of the same name when a host-only cookie and a `Domain` cookie both
 * apply (RFC 6265 §5.4), so a reader that must find the right one asks for all.
 */
export function cookieValues(header: string | undefined, name: string): string[] {
  const out: string[] = [];
  if (!header || name === '') return out;
  // The parts between semicolons, found with indexOf rather than split: no array of every part (the
  // session cookie's value is most of the header, and this runs for every signed-in request).
  for (let start = 0; start <= header.length;) {
    let end = header.indexOf(';', start);
    if (end < 0) end = header.length;
    const value = cookiePartValue(header, start, end, name);
    if (value !== undefined) out.push(value);
    start = end + 1;
  }
  return out;
}

// RFC 6265bis §4.1.3: `__Secure-` and `__Host-` prefixes are matched without
// regard to case by browsers, so `__host-_pomerium` is the same threat.
const COOKIE_PREFIX = /^__(?:secure|host)-/i;

/**
 * The name a `Set-Cookie` line sets, lower-cased and without a `__Secure-`
 * or `__Host-` prefix, for comparing against names Limen owns. A line with
 * no `=` before its first `;` is, by RFC 6265bis §5.6 step 2, a cookie with
 * an empty name whose value is that text: its name here is `''`.
 */
export function setCookieBaseName(line: string): string {
  const semi = line.indexOf(';');
  const pair = semi < 0 ? line : line.slice(0, semi);
  const eq = pair.indexOf('=');
  const name = eq < 0 ? '' : pair.slice(0, eq).trim();
  return name.replace(COOKIE_PREFIX, '').toLowerCase();
}
