/**
 * Route-scoped tokens minted from the shared secret (the `pomerium-cli`
 * service accounts of seed 001, CONTRACT §5): HS256 JWTs carrying `aud`
 * (the hosts they work on), `exp`, `nbf`, an identity (`sub`, `user`,
 * `email`, `groups`) and optionally an identity to act as
 * (`impersonate_email`, `impersonate_groups`). Accepted only on a host in
 * `aud` and before `exp`. **Limen:** revocable by `jti` (store type
 * `revoked_token`, kept until the token would have expired).
 */
import { createHash, randomUUID } from 'node:crypto';
import { SignJWT, type JWTPayload } from 'jose';
import type { Caller, TokenResolver } from '../authn/index.js';
import type { Store } from '../store/index.js';
import { findDirectoryUserByEmail, type DirectoryUser } from './directory.js';

export const REVOKED_TOKEN_TYPE = 'revoked_token';

/** The longest `jti` looked up or revoked. */
export const MAX_JTI_LENGTH = 256;

export interface RouteTokenSpec {
  /** Hosts the token works on (at least one). */
  readonly audience: readonly string[];
  /** Lifetime in ms (> 0). */
  readonly expiryMs: number;
  readonly issuer?: string | undefined;
  readonly subject?: string | undefined;
  readonly user?: string | undefined;
  readonly email?: string | undefined;
  readonly groups?: readonly string[] | undefined;
  readonly impersonateEmail?: string | undefined;
  readonly impersonateGroups?: readonly string[] | undefined;
}

/** A route token spec that cannot work (no audience, no identity, bad expiry). */
export class RouteTokenSpecError extends TypeError {}

/**
 * Mints a route-scoped token: HS256 over `secret`, `iat` = `nbf` = now,
 * `exp` = now + expiry, a random `jti` for revocation. The token is
 * returned to the caller only; nothing is stored.
 */
export async function mintRouteToken(spec: RouteTokenSpec, secret: Uint8Array, now: number): Promise<{ token: string; jti: string; expiresAt: number }> {
  const audience = spec.audience.map((a) => a.trim()).filter((a) => a !== '');
  if (audience.length === 0) throw new RouteTokenSpecError('at least one audience host is required (-aud)');
  if (!Number.isFinite(spec.expiryMs) || spec.expiryMs <= 0) throw new RouteTokenSpecError('expiry must be a positive duration (-expiry)');
  if (!spec.subject && !spec.user && !spec.email) throw new RouteTokenSpecError('the token needs an identity: -sub, -user or -email');
  const iat = Math.floor(now / 1000);
  const exp = Math.floor((now + spec.expiryMs) / 1000);
  if (exp <= iat) throw new RouteTokenSpecError('expiry must be at least one second (-expiry)');
  const jti = randomUUID();
  const claims: JWTPayload = {};
  if (spec.email) claims.email = spec.email;
  if (spec.user) claims.user = spec.user;
  if (spec.groups && spec.groups.length > 0) claims.groups = [...spec.groups];
  if (spec.impersonateEmail) claims.impersonate_email = spec.impersonateEmail;
  if (spec.impersonateGroups && spec.impersonateGroups.length > 0) claims.impersonate_groups = [...spec.impersonateGroups];
  const jwt = new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setAudience(audience).setIssuedAt(iat).setNotBefore(iat).setExpirationTime(exp).setJti(jti);
  if (spec.issuer) jwt.setIssuer(spec.issuer);
  if (spec.subject) jwt.setSubject(spec.subject);
  return { token: await jwt.sign(secret), jti, expiresAt: exp * 1000 };
}

/**
 * Revokes a route token by `jti` from the next request on. The revocation
 * is kept until `expiresAt` (the token's `exp`, after which it is useless
 * anyway) or forever when that is unknown.
 */
export async function revokeRouteToken(store: Store, jti: string, now: number, expiresAt?: number, by?: string): Promise<void> {
  if (jti === '' || jti.length > MAX_JTI_LENGTH) throw new RouteTokenSpecError(`a token id is 1 to ${MAX_JTI_LENGTH} characters`);
  await store.put(REVOKED_TOKEN_TYPE, jti, {
    jti, revoked_at: new Date(now).toISOString(),
    ...(expiresAt === undefined ? {} : { expires_at: new Date(expiresAt).toISOString() }),
    ...(by ? { revoked_by: by } : {}),
  }, { expiresAt }, now);
}

/** Whether `jti` has been revoked (and the revocation has not lapsed). */
export async function isRouteTokenRevoked(store: Store, jti: string, now: number): Promise<boolean> {
  if (jti === '' || jti.length > MAX_JTI_LENGTH) return false;
  return (await store.get(REVOKED_TOKEN_TYPE, jti, now)) !== null;
}

/** `aud` as a list of lower-case host names (ports, schemes and paths dropped); undefined if malformed. */
function audienceHosts(aud: unknown): string[] | undefined {
  const list = typeof aud === 'string' ? [aud] : Array.isArray(aud) && aud.every((a) => typeof a === 'string') ? aud as string[] : undefined;
  if (!list) return undefined;
  return list.map((a) => {
    let h = a.trim().toLowerCase().replace(/^[a-z][a-z0-9+.-]*:\/\//, '');
    h = h.split('/')[0] ?? '';
    if (h.startsWith('[')) return h.slice(0, h.indexOf(']') + 1);
    return h.replace(/:\d+$/, '');
  });
}

function stringList(v: unknown): string[] {
  if (typeof v === 'string') return v.split(',').map((s) => s.trim()).filter(Boolean);
  if (Array.isArray(v)) return v.filter((x): x is string => typeof x === 'string' && x !== '');
  return [];
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : '';
}

const REGISTERED = new Set(['aud', 'exp', 'nbf', 'iat', 'jti']);

export interface RouteTokenResolverDeps {
  readonly store: Store;
  readonly now: () => number;
}

/**
 * The token resolver for route-scoped tokens. A token is one when it has
 * `aud`, `exp` and `nbf` (session handles have no `nbf`, service-account
 * tokens no `aud`). Refused (401) on a host not in `aud`
 * (`token-audience-mismatch`), at or after `exp` (`token-expired`, no
 * clock skew allowed), when revoked (`token-revoked`) or without an
 * identity (`token-claims-invalid`).
 */
export function routeTokenResolver(deps: RouteTokenResolverDeps): TokenResolver {
  return async (claims: JWTPayload, host: string) => {
    if (claims.aud === undefined || typeof claims.exp !== 'number' || typeof claims.nbf !== 'number') return undefined;
    const now = deps.now();
    const hosts = audienceHosts(claims.aud);
    if (!hosts || hosts.length === 0) return { failure: 'token-claims-invalid' };
    if (claims.exp * 1000 <= now) return { failure: 'token-expired' };
    if (!hosts.includes(host.toLowerCase())) return { failure: 'token-audience-mismatch' };
    const jti = typeof claims.jti === 'string' ? claims.jti : '';
    if (jti !== '' && await isRouteTokenRevoked(deps.store, jti, now)) return { failure: 'token-revoked' };

    const email = str(claims.email);
    const user = str(claims.user) || str(claims.sub) || email;
    if (user === '') return { failure: 'token-claims-invalid' };
    const groups = stringList(claims.groups);
    const tokenClaims: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(claims)) if (!REGISTERED.has(k)) tokenClaims[k] = v;

    const impEmail = str(claims.impersonate_email);
    const impGroups = stringList(claims.impersonate_groups);
    let identity = { user, email, name: str(claims.name), groups };
    let impersonator: Caller['impersonator'];
    let dirVersion = '';
    if (impEmail !== '' || impGroups.length > 0) {
      // As the dashboard's impersonation: a known email takes that user's id
      // and groups from the directory; given groups replace them.
      const dir: DirectoryUser | undefined = impEmail ? await findDirectoryUserByEmail(deps.store, impEmail) : undefined;
      identity = {
        user: dir?.id ?? (impEmail || user),
        email: dir?.email ?? (impEmail || email),
        name: impEmail ? dir?.name ?? '' : identity.name,
        groups: impGroups.length > 0 ? impGroups : impEmail ? [...(dir?.groups ?? [])] : groups,
      };
      impersonator = { sub: user, email };
      dirVersion = JSON.stringify(dir ?? null);
    }
    const policyClaims = { ...tokenClaims, sub: identity.user, user: identity.user, email: identity.email, groups: identity.groups };
    const cacheKey = `rt:${createHash('sha256').update(JSON.stringify(claims)).update('\u0000').update(dirVersion).digest('base64url')}`;
    const caller: Caller = {
      kind: 'route_token',
      policy: { user: identity.user, email: identity.email, groups: identity.groups, claims: policyClaims, sessionId: jti },
      impersonator,
      assertion: {
        cacheKey,
        user: identity.user, email: identity.email, name: identity.name, groups: identity.groups, sid: jti,
        claims: policyClaims, act: impersonator,
      },
    };
    return { caller };
  };
}
