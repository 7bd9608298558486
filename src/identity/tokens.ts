import { SignJWT, jwtVerify, errors as joseErrors, type JWTPayload } from 'jose';
import { isCompactJws } from './compact.js';

/** Claims of the `_pomerium` session handle (CONTRACT §4). */
export interface SessionHandle {
  /** Session id (`jti`). */
  readonly sid: string;
  /** User id (`sub`). */
  readonly sub: string;
}

export type TokenFailure = 'token-malformed' | 'token-signature-invalid' | 'token-expired' | 'token-not-yet-valid' | 'token-too-large' | 'token-claims-invalid';

/** Largest bearer token or cookie value we parse (CONTRACT: bad input never 500s). */
export const MAX_TOKEN_BYTES = 8 * 1024;

/** Signs a session handle: HS256 over `shared_secret`, `jti` = session id. */
export async function signSessionHandle(h: SessionHandle & { iss: string; aud: string; expiresAt?: number }, secret: Uint8Array, nowMs: number): Promise<string> {
  const jwt = new SignJWT({})
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setJti(h.sid).setSubject(h.sub).setIssuedAt(Math.floor(nowMs / 1000)).setIssuer(h.iss).setAudience(h.aud);
  if (h.expiresAt !== undefined) jwt.setExpirationTime(Math.floor(h.expiresAt / 1000));
  return jwt.sign(secret);
}

/**
 * Who a session handle may be presented to (CONTRACT §4: a handle is valid
 * only for the audience it was issued to). Browsers scope cookies by host,
 * or by `cookie_domain` when it is set, so that is the audience a route
 * host's handle gets; the authenticate host's own handle is always for that
 * host alone, so no route host's cookie (or a copy of it sent as
 * `Authorization: Pomerium ...`) reaches the admin API.
 */
export interface HandleAudiencePolicy {
  /** Lower-case host of `authenticate_service_url`. */
  readonly authHost: string | undefined;
  /** `cookie_domain`, lower-case, with or without its leading dot. */
  readonly cookieDomain: string | undefined;
}

/** The cookie domain without its leading dot, when `host` lies within it (and is not the authenticate host). */
export function sharedCookieDomain(p: HandleAudiencePolicy | undefined, host: string): string | undefined {
  const d = p?.cookieDomain?.replace(/^\./, '');
  if (!d || host === p?.authHost) return undefined;
  return host === d || host.endsWith(`.${d}`) ? d : undefined;
}

/** The `aud` of a session handle issued on `host` (lower-case, no port). */
export function sessionHandleAudience(p: HandleAudiencePolicy | undefined, host: string): string {
  return sharedCookieDomain(p, host) ?? host;
}

/**
 * True when a verified handle's `aud` admits a request to `host`: it names
 * that host, or the cookie domain `host` lies within. Any other shape
 * (missing, a list, another host) is refused.
 */
export function handleAudienceAccepts(p: HandleAudiencePolicy | undefined, aud: unknown, host: string): boolean {
  if (typeof aud !== 'string' || aud === '') return false;
  const a = aud.toLowerCase();
  return a === host || a === sharedCookieDomain(p, host);
}

/**
 * Verifies an HS256 token signed with `shared_secret` (session handles,
 * service-account tokens, route-scoped CLI tokens). Guarantees: HS256 only,
 * signature checked in constant time by jose, `exp`/`nbf` enforced with no
 * skew beyond 60 s, never throws.
 */
export async function verifySharedSecretToken(
  token: string, secret: Uint8Array, nowMs: number,
): Promise<{ ok: true; claims: JWTPayload } | { ok: false; reason: TokenFailure }> {
  if (token.length > MAX_TOKEN_BYTES) return { ok: false, reason: 'token-too-large' };
  if (!isCompactJws(token)) return { ok: false, reason: 'token-malformed' };
  try {
    const { payload } = await jwtVerify(token, secret, {
      algorithms: ['HS256'],
      currentDate: new Date(nowMs),
      clockTolerance: 60,
    });
    return { ok: true, claims: payload };
  } catch (e) {
    if (e instanceof joseErrors.JWTExpired) return { ok: false, reason: 'token-expired' };
    if (e instanceof joseErrors.JWTClaimValidationFailed) {
      return { ok: false, reason: e.claim === 'nbf' ? 'token-not-yet-valid' : 'token-claims-invalid' };
    }
    if (e instanceof joseErrors.JWSSignatureVerificationFailed) return { ok: false, reason: 'token-signature-invalid' };
    return { ok: false, reason: 'token-malformed' };
  }
}

export type BearerSource = 'x-pomerium-authorization' | 'authorization-pomerium' | 'authorization-bearer-pomerium';

/**
 * Finds a Pomerium bearer token in request headers, in CONTRACT §5 order:
 * `X-Pomerium-Authorization: <jwt>`, `Authorization: Pomerium <jwt>`,
 * `Authorization: Bearer Pomerium-<jwt>`.
 */
export function extractBearerToken(headers: Readonly<Record<string, string | string[] | undefined>>): { token: string; source: BearerSource } | undefined {
  const x = headers['x-pomerium-authorization'];
  if (typeof x === 'string' && x.length > 0) {
    // Pomerium also accepts the `Pomerium ` scheme inside this header.
    return { token: x.startsWith('Pomerium ') ? x.slice(9).trim() : x.trim(), source: 'x-pomerium-authorization' };
  }
  const a = headers['authorization'];
  if (typeof a === 'string') {
    if (a.startsWith('Pomerium ')) return { token: a.slice(9).trim(), source: 'authorization-pomerium' };
    if (a.startsWith('Bearer Pomerium-')) return { token: a.slice(16).trim(), source: 'authorization-bearer-pomerium' };
  }
  return undefined;
}
