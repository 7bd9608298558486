/**
 * Cross-site request forgery defence for every state-changing request that a
 * browser cookie authenticates: the admin API, the `/.pomerium/` forms
 * (impersonation start and stop) and the admin console's forms. One
 * mechanism, two independent checks, both required:
 *
 *  1. Where the request comes from. `Origin` must be exactly the external
 *     origin of the host it was sent to (the authenticate service's origin
 *     for the admin API); without `Origin`, `Sec-Fetch-Site` must be
 *     `same-origin`; with neither, the request is refused (every current
 *     browser sends `Origin` on POST, PUT, PATCH and DELETE). A present
 *     `Sec-Fetch-Site` other than `same-origin` is refused even when
 *     `Origin` matches: a browser never sends that pair.
 *  2. A token a cross-site page cannot read: base64url HMAC-SHA256 of the
 *     session id and that origin under a key derived from `cookie_secret`.
 *     It needs no storage, is the same on every replica, dies with the
 *     session, and a token read on one host is worthless on another. Forms
 *     carry it in the `csrf` field; scripts in the `X-CSRF-Token` header,
 *     reading it from `GET /.pomerium/api/v1/csrf` (same-origin only: Limen
 *     sends no CORS headers there).
 *
 * Requests authenticated by a bearer token (`Authorization: Pomerium …`,
 * `X-Pomerium-Authorization`) are exempt: a browser never attaches those on
 * its own, and a cross-site page cannot add them without a CORS preflight
 * that Limen does not grant.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';

/** The request header scripts send the token in. */
export const CSRF_HEADER = 'x-csrf-token';
/** The form field Limen's own forms carry the token in. */
export const CSRF_FORM_FIELD = 'csrf';

/** Why a cookie-authenticated change was refused (stable reason codes). */
export type CsrfFailure = 'csrf-origin-missing' | 'csrf-origin-mismatch' | 'csrf-token-missing' | 'csrf-token-invalid';

/** The plain-words message for each refusal. */
export const CSRF_MESSAGES: Readonly<Record<CsrfFailure, string>> = {
  'csrf-origin-missing': 'The request does not say which site sent it (no Origin or Sec-Fetch-Site header). Send changes from Limen\'s own pages, or use a bearer token.',
  'csrf-origin-mismatch': 'The request was sent from another site. Changes made with the sign-in cookie must come from Limen\'s own pages.',
  'csrf-token-missing': 'The request carries no CSRF token. Reload the page and try again, or send the token from GET /.pomerium/api/v1/csrf in the X-CSRF-Token header.',
  'csrf-token-invalid': 'The CSRF token does not belong to this session and site. Reload the page and try again.',
};

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** True for methods that may change state (RFC 9110 §9.2.1: everything but the safe methods). */
export function isStateChanging(method: string | undefined): boolean {
  return !SAFE_METHODS.has((method ?? 'GET').toUpperCase());
}

/** `scheme://host[:port]` as a browser writes it in `Origin` (default ports left out); undefined if unparsable. */
export function canonicalOrigin(value: string): string | undefined {
  try {
    const u = new URL(value);
    if (u.protocol !== 'http:' && u.protocol !== 'https:') return undefined;
    return u.origin;
  } catch {
    return undefined;
  }
}

function single(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? (v.length === 1 ? v[0] : undefined) : v;
}

/**
 * Check 1: the request comes from `expectedOrigin` itself. Returns the
 * failure, or undefined when the request is same-origin.
 */
export function checkRequestOrigin(headers: IncomingHttpHeaders, expectedOrigin: string): CsrfFailure | undefined {
  const fetchSite = single(headers['sec-fetch-site'])?.trim().toLowerCase();
  if (fetchSite !== undefined && fetchSite !== 'same-origin') return 'csrf-origin-mismatch';
  const origin = headers.origin;
  if (origin !== undefined) {
    const one = single(origin);
    // `Origin: null` (sandboxed frames, some redirects) names no site at all.
    if (one === undefined || one === 'null') return 'csrf-origin-mismatch';
    // Exactly the serialized origin (RFC 6454 §6.1), as browsers send it: no path, no default port.
    const want = canonicalOrigin(expectedOrigin);
    return want !== undefined && one.toLowerCase() === want ? undefined : 'csrf-origin-mismatch';
  }
  return fetchSite === 'same-origin' ? undefined : 'csrf-origin-missing';
}

/** The CSRF token of a session on one origin (base64url HMAC-SHA256). */
export function csrfToken(key: Uint8Array, sessionId: string, origin: string): string {
  return createHmac('sha256', key).update(`limen-csrf\u0000${sessionId}\u0000${canonicalOrigin(origin) ?? origin}`).digest('base64url');
}

/** Check 2: `presented` is this session's token for `origin`; compared in constant time. */
export function checkCsrfToken(key: Uint8Array, sessionId: string | undefined, origin: string, presented: string | undefined): CsrfFailure | undefined {
  if (presented === undefined || presented === '') return 'csrf-token-missing';
  if (sessionId === undefined) return 'csrf-token-invalid';
  const want = Buffer.from(csrfToken(key, sessionId, origin));
  const got = Buffer.from(presented);
  return want.length === got.length && timingSafeEqual(want, got) ? undefined : 'csrf-token-invalid';
}

/**
 * Both checks for one cookie-authenticated change: the origin first (it
 * needs no body), then the token. Undefined when the request may proceed.
 */
export function checkCsrf(
  headers: IncomingHttpHeaders,
  opts: { readonly key: Uint8Array; readonly origin: string; readonly sessionId: string | undefined; readonly token: string | undefined },
): CsrfFailure | undefined {
  return checkRequestOrigin(headers, opts.origin) ?? checkCsrfToken(opts.key, opts.sessionId, opts.origin, opts.token);
}

/** The token a script sent in the `X-CSRF-Token` header (one value only). */
export function csrfHeaderToken(headers: IncomingHttpHeaders): string | undefined {
  return single(headers[CSRF_HEADER]);
}
