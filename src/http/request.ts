import type { IncomingMessage } from 'node:http';
import { isIP } from 'node:net';

/**
 * RFC 6265 §4.2: the value of the first cookie called `name` in a Cookie
 * header (surrounding quotes removed), or undefined. Scans for the one name
 * instead of building a map of every cookie: it runs on every request.
 */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header || name === '') return undefined;
  for (let start = 0; start < header.length;) {
    let end = header.indexOf(';', start);
    if (end < 0) end = header.length;
    const value = cookiePartValue(header, start, end, name);
    if (value !== undefined) return value;
    start = end + 1;
  }
  return undefined;
}

/**
 * The value of the part of a Cookie header from `start` to `end` (a
 * semicolon or the end) when that cookie is called `name`, quotes
 * removed; otherwise undefined. Cookie readers walk the parts with
 * indexOf and ask this of each, rather than splitting the header.
 */
export function cookiePartValue(header: string, start: number, end: number, name: string): string | undefined {
  const eq = header.indexOf('=', start);
  if (eq <= start || eq >= end || header.slice(start, eq).trim() !== name) return undefined;
  const value = header.slice(eq + 1, end).trim();
  return value.length >= 2 && value.startsWith('"') && value.endsWith('"') ? value.slice(1, -1) : value;
}

/** The Cookie header with the named cookies removed; undefined when none remain. */
export function removeCookies(header: string | undefined, names: ReadonlySet<string>): string | undefined {
  if (!header) return undefined;
  // The parts between semicolons, found with indexOf (see cookieValues): most requests carry only the session cookie.
  let kept: string | undefined;
  for (let start = 0; start <= header.length;) {
    let end = header.indexOf(';', start);
    if (end < 0) end = header.length;
    const part = header.slice(start, end).trim();
    start = end + 1;
    if (part === '') continue;
    const eq = part.indexOf('=');
    if (names.has((eq < 0 ? part : part.slice(0, eq)).trim())) continue;
    kept = kept === undefined ? part : `${kept}; ${part}`;
  }
  return kept;
}

export interface CookieOptions {
  readonly maxAgeS?: number;
  readonly domain?: string | undefined;
  readonly path?: string;
  readonly secure: boolean;
  readonly httpOnly: boolean;
  readonly sameSite: 'strict' | 'lax' | 'none';
}

/** Serialises a Set-Cookie value. */
export function serializeCookie(name: string, value: string, o: CookieOptions): string {
  let s = `${name}=${value}; Path=${o.path ?? '/'}`;
  if (o.maxAgeS !== undefined) s += `; Max-Age=${Math.max(0, Math.floor(o.maxAgeS))}`;
  if (o.maxAgeS === 0) s += '; Expires=Thu, 01 Jan 1970 00:00:00 GMT';
  if (o.domain) s += `; Domain=${o.domain}`;
  if (o.secure) s += '; Secure';
  if (o.httpOnly) s += '; HttpOnly';
  s += `; SameSite=${o.sameSite === 'strict' ? 'Strict' : o.sameSite === 'none' ? 'None' : 'Lax'}`;
  return s;
}

/** Strips the IPv4-mapped IPv6 prefix so `::ffff:1.2.3.4` reads `1.2.3.4`. */
export function normalizeIp(ip: string): string {
  return ip.startsWith('::ffff:') && isIP(ip.slice(7)) === 4 ? ip.slice(7) : ip;
}

/** The X-Forwarded-For list with one more received field; an empty field adds nothing. */
export function addForwardedFor(list: string | undefined, field: string): string | undefined {
  if (field.trim() === '') return list;
  return list === undefined ? field : `${list}, ${field}`;
}

/**
 * X-Forwarded-For as Limen passes it on (and the access log's
 * `forwarded-for` shows it): the received list with the connection's peer
 * appended, as Envoy does under Pomerium. `xff_num_trusted_hops` only picks
 * the client among them (clientIp); appending that client instead would
 * repeat it and lose the hop it came through.
 */
export function forwardedForWithPeer(list: string | undefined, peerAddress: string | undefined): string {
  const peer = normalizeIp(peerAddress ?? '');
  return list === undefined ? peer : `${list}, ${peer}`;
}

/**
 * The client address, trusting `hops` proxies in front of Limen (Envoy's
 * `xff_num_trusted_hops`): with 0, the socket peer; with N, the Nth address
 * from the right of X-Forwarded-For. Malformed entries fall back to the peer.
 */
export function clientIp(req: IncomingMessage, hops: number, peerAddress: string | undefined = req.socket?.remoteAddress): string {
  const peer = normalizeIp(peerAddress ?? '');
  if (hops <= 0) return peer;
  const xff = req.headers['x-forwarded-for'];
  const raw = Array.isArray(xff) ? xff.join(',') : xff;
  if (!raw) return peer;
  const list = raw.split(',').map((s) => s.trim()).filter(Boolean);
  const candidate = list[list.length - hops];
  if (candidate === undefined) return peer;
  const ip = normalizeIp(candidate);
  return isIP(ip) ? ip : peer;
}

// Host parsing belongs to the canonical request; kept importable from here.
export { parseHostHeader } from './canonical.js';
