/**
 * One meaning per request (CONTRACT §7). Before anything routes, authorizes
 * or forwards a request, its target and Host are reduced here to one
 * canonical form, or the request is refused with a reason. What Limen routes
 * and authorizes is then exactly what the upstream receives: the canonical
 * path replaces the request target, and the canonical Host is the one passed
 * on.
 *
 * The rules are those on which common upstreams disagree with each other or
 * with RFC 3986: an encoded `/` or `\` (Envoy `path_with_escaped_slashes_action`,
 * Tomcat `ALLOW_ENCODED_SLASH`), a raw `\` (IIS, Windows, WHATWG URL treat it
 * as `/`), `;` path parameters (Tomcat, Jetty and Spring drop `;...` from a
 * segment, so `/admin;x/` and `/public/..;/admin` mean something else to
 * them), invalid escapes and invalid UTF-8 (each framework repairs them its
 * own way), an escape of an escape (`%252f`: decoded twice by some stacks),
 * control characters and NUL (C strings, log injection). What is not
 * ambiguous is normalized (RFC 3986 §6.2.2): unreserved escapes decoded,
 * other escapes upper-cased, dot segments removed, runs of `/` merged.
 */

import { isIP } from 'node:net';

/** Envoy's and Pomerium's `path_with_escaped_slashes_action` values. */
export type EscapedSlashesAction = 'reject_request' | 'keep_unchanged' | 'unescape_and_redirect' | 'unescape_and_forward';
/** Envoy's and Pomerium's `headers_with_underscores_action` values. */
export type UnderscoreHeadersAction = 'reject_request' | 'drop_header' | 'allow';

/** Which ambiguities are refused; every field relaxes one rule (docs/security.md). */
export interface RequestRules {
  readonly escapedSlashes: EscapedSlashesAction;
  readonly headersWithUnderscores: UnderscoreHeadersAction;
  readonly allowBackslash: boolean;
  readonly allowPathParameters: boolean;
  readonly allowInvalidEscapes: boolean;
  readonly allowDoubleEncoding: boolean;
  readonly allowEncodedControlCharacters: boolean;
}

/** Every rule at its default: refuse. */
export const STRICT_REQUEST_RULES: RequestRules = Object.freeze({
  escapedSlashes: 'reject_request',
  headersWithUnderscores: 'reject_request',
  allowBackslash: false,
  allowPathParameters: false,
  allowInvalidEscapes: false,
  allowDoubleEncoding: false,
  allowEncodedControlCharacters: false,
});

/** A refusal: a stable reason code and one sentence for the client. */
export interface Refusal {
  readonly ok: false;
  readonly reason: string;
  readonly message: string;
}

/** The canonical path, or that the client must be redirected to it (`unescape_and_redirect`). */
export type CanonicalPath = { readonly ok: true; readonly path: string; readonly redirect: boolean } | Refusal;

const refuse = (reason: string, message: string): Refusal => ({ ok: false, reason, message });

const utf8 = new TextDecoder('utf-8', { fatal: true });
const LOOKALIKE = /[/\\.;%?#]/;
const MUST_ESCAPE = '"<>^`{|}';

/** One character of the path after decoding escapes once. */
interface Unit {
  /** The character (raw) or byte value (escaped). */
  readonly code: number;
  readonly escaped: boolean;
}

/**
 * The canonical form of an origin-form path (no query), or why it has none.
 * Guarantees: the result starts with `/`; contains no dot segment and no
 * empty segment except a trailing one; every `%` in it starts an upper-case
 * escape of a character that is not unreserved; and canonicalPath(result) is
 * the result itself (idempotent).
 */
export function canonicalPath(raw: string, rules: RequestRules = STRICT_REQUEST_RULES): CanonicalPath {
  if (isPlain(raw)) return { ok: true, path: raw, redirect: false };
  const units: Unit[] = [];
  let slashEscapes = false;
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c === 37 /* % */) {
      const hi = hexValue(raw.charCodeAt(i + 1));
      const lo = hexValue(raw.charCodeAt(i + 2));
      if (hi >= 0 && lo >= 0) {
        units.push({ code: hi * 16 + lo, escaped: true });
        i += 2;
        continue;
      }
      if (!rules.allowInvalidEscapes) return refuse('path-invalid-escape', 'The path contains a % that does not start a valid %-escape.');
      units.push({ code: c, escaped: false });
      continue;
    }
    if (c < 0x20 || c === 0x7f) return refuse('path-control-character', 'The path contains a control character.');
    if (c > 0x7e) return refuse('path-invalid-character', 'The path contains a character that must be %-encoded.');
    if (c === 35 /* # */) return refuse('target-fragment', 'The request target contains a fragment (#), which a client never sends.');
    if (c === 92 /* \ */ && !rules.allowBackslash) return refuse('path-backslash', 'The path contains a backslash.');
    if (c === 59 /* ; */ && !rules.allowPathParameters) return refuse('path-parameter', 'The path contains a ; path parameter.');
    units.push({ code: c, escaped: false });
  }

  // Checks over the once-decoded path.
  for (let i = 0; i < units.length; i++) {
    const u = units[i]!;
    if (u.code === 37 && !rules.allowDoubleEncoding && isHexUnit(units[i + 1]) && isHexUnit(units[i + 2])) {
      // `%252f`, `%25%32%66`, or an invalid `%` followed by escaped hex digits: decoded twice, a separator.
      return refuse('path-double-encoded', 'The path contains an encoded %-escape (double encoding).');
    }
    if (!u.escaped) continue;
    if ((u.code < 0x20 || u.code === 0x7f) && !rules.allowEncodedControlCharacters) {
      return refuse('path-control-character', 'The path contains an encoded control character (such as %00).');
    }
    if (u.code === 59 && !rules.allowPathParameters) return refuse('path-parameter', 'The path contains an encoded ; (%3B).');
    if (u.code === 0x2f || u.code === 0x5c) {
      if (rules.escapedSlashes === 'reject_request') {
        return refuse('path-encoded-slash', 'The path contains an encoded slash or backslash (%2F or %5C).');
      }
      slashEscapes = true;
    }
  }
  if (!rules.allowInvalidEscapes && units.some((u) => u.escaped && u.code >= 0x80)) {
    const text = escapedText(units);
    if (text === undefined) return refuse('path-invalid-utf8', 'The path contains %-escapes that are not valid UTF-8 (such as an overlong encoding).');
    // Look-alikes that Unicode compatibility mapping (NFKC, Windows
    // "best fit") turns into a separator: fullwidth `／`, `＼`, `．`, `；`, `％`.
    if (LOOKALIKE.test(text.normalize('NFKC'))) {
      return refuse('path-confusable-character', 'The path contains a character that some servers read as /, \\, ., ; or %.');
    }
  }

  const unescape = slashEscapes && rules.escapedSlashes !== 'keep_unchanged';
  let out = '';
  for (const u of units) {
    if (!u.escaped) {
      // RFC 3986 §2.1: characters a path may not hold raw (`"`, `<`, `>`, `^`, backquote,
      // `{`, `|`, `}`, space, a stray `%`) are written as the escape a browser would send.
      out += u.code === 37 || u.code === 32 || MUST_ESCAPE.includes(String.fromCharCode(u.code)) ? percentEscape(u.code) : String.fromCharCode(u.code);
      continue;
    }
    // An unescaped `%5C` becomes a separator, as on the servers that read `\` as `/`.
    if (unescape && (u.code === 0x2f || u.code === 0x5c)) out += '/';
    else if (isUnreserved(u.code)) out += String.fromCharCode(u.code);
    else out += percentEscape(u.code);
  }
  const path = removeDotSegments(out);
  return { ok: true, path, redirect: unescape && rules.escapedSlashes === 'unescape_and_redirect' };
}

/**
 * The common case, one scan and no allocation: starts with `/`, only
 * printable ASCII other than `%`, `\`, `;`, `#` and MUST_ESCAPE, no `//` and no
 * segment starting with `.`. Such a path is already canonical.
 */
function isPlain(path: string): boolean {
  if (path.charCodeAt(0) !== 47 /* / */) return false;
  let previous = 47;
  for (let i = 1; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c <= 0x20 || c >= 0x7f || c === 37 /* % */ || c === 92 /* \ */ || c === 59 /* ; */ || c === 35 /* # */) return false;
    if (c === 34 || c === 60 || c === 62 || c === 94 || c === 96 || c === 123 || c === 124 || c === 125) return false; // MUST_ESCAPE
    if (previous === 47 && (c === 47 || c === 46 /* . */)) return false;
    previous = c;
  }
  return true;
}

/** `%XX`, upper-case. */
function percentEscape(code: number): string {
  return `%${code < 16 ? '0' : ''}${code.toString(16).toUpperCase()}`;
}

function isHexUnit(u: Unit | undefined): boolean {
  return u !== undefined && hexValue(u.code) >= 0;
}

/** The value of a hex digit's char code, or -1 (NaN, past the end, included). */
function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 65 && c <= 70) return c - 55;
  if (c >= 97 && c <= 102) return c - 87;
  return -1;
}

/** RFC 3986 §2.3 unreserved: ALPHA / DIGIT / "-" / "." / "_" / "~". */
function isUnreserved(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 45 || c === 46 || c === 95 || c === 126;
}

/**
 * The text of the escaped non-ASCII bytes of the path (runs joined by a
 * space), or undefined when they are not valid UTF-8 (overlong, truncated,
 * surrogates).
 */
function escapedText(units: readonly Unit[]): string | undefined {
  let text = '';
  let run: number[] = [];
  const flush = (): boolean => {
    if (run.length === 0) return true;
    try {
      text += `${utf8.decode(Uint8Array.from(run))} `;
    } catch {
      return false;
    }
    run = [];
    return true;
  };
  for (const u of units) {
    if (u.escaped && u.code >= 0x80) run.push(u.code);
    else if (!flush()) return undefined;
  }
  return flush() ? text : undefined;
}

/**
 * RFC 3986 §5.2.4 dot-segment removal on a path whose dots are already
 * decoded, plus merging runs of `/` (Envoy's `merge_slashes`). A trailing
 * slash is kept; the result starts with `/`.
 */
export function removeDotSegments(path: string): string {
  if (isNormal(path)) return path;
  const out: string[] = [];
  const segments = (path.startsWith('/') ? path : `/${path}`).split('/');
  for (let i = 1; i < segments.length; i++) {
    const segment = segments[i]!;
    const last = i === segments.length - 1;
    if (segment === '..') {
      out.pop();
      if (last) out.push('');
    } else if (segment === '.') {
      if (last) out.push('');
    } else if (segment === '') {
      if (last) out.push(''); // keep a trailing slash, drop empty segments inside
    } else {
      out.push(segment);
    }
  }
  return `/${out.join('/')}`;
}

/** Fast path, one scan: starts with `/`, no `//`, no segment starting with `.`. */
function isNormal(path: string): boolean {
  if (path.charCodeAt(0) !== 47 /* / */) return false;
  for (let i = 1; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if ((c === 47 || c === 46 /* . */) && path.charCodeAt(i - 1) === 47) return false;
  }
  return true;
}

/** A request reduced to its one meaning. */
export interface CanonicalRequest {
  readonly ok: true;
  /** Lower-case host without port or trailing dot. */
  readonly host: string;
  readonly port: number | undefined;
  /** The Host to pass on: `host[:port]`, IPv6 in brackets. */
  readonly hostHeader: string;
  readonly path: string;
  /** The query as sent, with its `?`, or ''. */
  readonly query: string;
  /** The client must be sent to `path + query` (307) before anything else. */
  readonly redirect: boolean;
}

/** What canonicalizeRequest reads from a request. */
export interface RequestHead {
  readonly url?: string | undefined;
  /** [name, value, name, value, ...] as received. */
  readonly rawHeaders: readonly string[];
}

/** Credential headers Limen reads once; two copies are two meanings. */
const SINGLE_CREDENTIALS = new Set(['authorization', 'x-pomerium-authorization', 'x-pomerium-jwt-assertion', 'x-pomerium-jwt-assertion-for']);

/**
 * Reduces a request's target and Host to one meaning, or refuses it.
 * Refuses: a repeated credential header (Authorization, X-Pomerium-*); a missing, repeated or malformed Host (userinfo, bad port,
 * characters outside a DNS name); a target that is neither origin-form nor
 * absolute-form for the same authority (asterisk-form, authority-form,
 * `#`); an absolute-form target naming another host than Host (RFC 9112
 * §3.2.2 would have the target win; Limen refuses the disagreement); a path
 * refused by canonicalPath; a header name with `_` when the rules say so; a
 * Transfer-Encoding other than `chunked` alone.
 */
export function canonicalizeRequest(head: RequestHead, rules: RequestRules = STRICT_REQUEST_RULES): CanonicalRequest | Refusal {
  let hostValue: string | undefined;
  let credentials: Set<string> | undefined;
  for (let i = 0; i < head.rawHeaders.length; i += 2) {
    const name = head.rawHeaders[i]!;
    // Only names as long as one of interest are lower-cased: this runs on every request.
    const lower = name.length === 4 || name.length === 13 || name.length === 17 || name.length >= 24 ? name.toLowerCase() : '';
    if (lower === 'host') {
      if (hostValue !== undefined) return refuse('host-duplicate', 'The request has more than one Host header.');
      hostValue = head.rawHeaders[i + 1]!;
    } else if (rules.headersWithUnderscores === 'reject_request' && name.includes('_')) {
      return refuse('header-name-underscore', 'A header name contains an underscore (_), which some servers read as a dash.');
    } else if (lower === 'transfer-encoding') {
      // Limen re-frames the body it forwards: a coding besides chunked (gzip, chunked) would reach the upstream as
      // plain bytes, with nothing saying they are coded (RFC 9112 §6.1). Only chunked, alone, has one meaning.
      if (head.rawHeaders[i + 1]!.trim().toLowerCase() !== 'chunked') return refuse('transfer-coding-unsupported', 'The request uses a transfer coding other than chunked, which Limen does not decode.');
    } else if (SINGLE_CREDENTIALS.has(lower)) {
      // Limen reads the first copy; an upstream might read the last.
      if (credentials?.has(lower)) return refuse('header-duplicate', `The request has more than one ${name} header.`);
      (credentials ??= new Set()).add(lower);
    }
  }
  if (hostValue === undefined || hostValue === '') return refuse('host-missing', 'The request has no Host header.');
  const parsed = parseHostHeader(hostValue);
  if (!parsed) return refuse('host-invalid', 'The Host header is malformed.');

  let target = head.url ?? '';
  if (target.includes('#')) return refuse('target-fragment', 'The request target contains a fragment (#), which a client never sends.');
  if (target === '*') return refuse('target-asterisk-form', 'The request target * (asterisk-form) is not served.');
  if (!target.startsWith('/')) {
    const m = /^https?:\/\/([^/?]*)(.*)$/i.exec(target);
    if (!m) return refuse('target-invalid', 'The request target must be a path or an absolute http(s) URL.');
    const authority = parseHostHeader(m[1]);
    if (!authority) return refuse('host-invalid', 'The host in the request target is malformed.');
    if (authority.host !== parsed.host || authority.port !== parsed.port) {
      return refuse('host-mismatch', 'The host in the request target differs from the Host header.');
    }
    target = m[2]!.startsWith('/') ? m[2]! : `/${m[2]!}`;
  }
  const q = target.indexOf('?');
  const path = canonicalPath(q < 0 ? target : target.slice(0, q), rules);
  if (!path.ok) return path;
  return {
    ok: true,
    host: parsed.host,
    port: parsed.port,
    hostHeader: (parsed.host.includes(':') ? `[${parsed.host}]` : parsed.host) + (parsed.port === undefined ? '' : `:${parsed.port}`),
    path: path.path,
    query: q < 0 ? '' : target.slice(q),
    redirect: path.redirect,
  };
}

// RFC 3986 reg-name (letters, digits, -, ., _ and ~) or an IPv6 literal, with an optional port.
const HOST_RE = /^(?:\[[0-9a-fA-F:.]+\]|[a-zA-Z0-9](?:[a-zA-Z0-9._~-]{0,251}[a-zA-Z0-9])?)(?::\d{1,5})?$/;

/**
 * Splits and validates a Host header: lower-case host and port; undefined
 * if malformed (userinfo, empty port, a trailing dot or an empty label,
 * characters outside a DNS name), so one host has one spelling.
 */
export function parseHostHeader(value: string | undefined): { host: string; port: number | undefined } | undefined {
  if (!value || value.length > 260 || !HOST_RE.test(value)) return undefined;
  let host: string;
  let portText: string | undefined;
  if (value.startsWith('[')) {
    const end = value.indexOf(']');
    host = value.slice(1, end);
    if (isIP(host) !== 6) return undefined;
    portText = value.length > end + 1 ? value.slice(end + 2) : undefined;
  } else {
    const colon = value.lastIndexOf(':');
    host = colon >= 0 ? value.slice(0, colon) : value;
    portText = colon >= 0 ? value.slice(colon + 1) : undefined;
  }
  let port: number | undefined;
  if (portText !== undefined) {
    port = Number(portText);
    if (!Number.isInteger(port) || port < 1 || port > 65535) return undefined;
  }
  if (host.includes('..')) return undefined;
  return { host: host.toLowerCase(), port };
}
