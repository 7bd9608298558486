import { randomUUID } from 'node:crypto';
import { SignJWT, createLocalJWKSet, jwtVerify, errors as joseErrors, type JWTPayload } from 'jose';
import type { KeySet } from './keys.js';
import { isCompactJws } from './compact.js';
import { BoundedCache } from '../store/bounded-cache.js';

/** Who the assertion speaks for; built by the caller from a session or token. */
export interface AssertionIdentity {
  /** Changes whenever any field below changes (session id + version). */
  readonly cacheKey: string;
  readonly user: string;
  readonly email: string;
  readonly name: string;
  readonly groups: readonly string[];
  /** Session id or service-account id. */
  readonly sid: string;
  /** All IdP claims, for `jwt_claims_headers` that name other claims. */
  readonly claims: Readonly<Record<string, unknown>>;
  /** RFC 8693 actor: the real administrator while impersonating. */
  readonly act?: { readonly sub: string; readonly email: string } | undefined;
}

export interface AssertionOptions {
  readonly issuerFormat: 'hostOnly' | 'uri';
  readonly groupsFilter: readonly string[] | undefined;
  /** Header → claim; the named claims are copied into the JWT too. */
  readonly claimsHeaders: Readonly<Record<string, string>>;
}

/** Lifetime of an assertion (CONTRACT §2: exp = iat + 5 min). */
export const ASSERTION_TTL_S = 300;
const REUSE_MARGIN_S = 60;
/** Signed tokens kept for reuse: at most this many, and at most {@link SIGNER_CACHE_MAX_BYTES} (~1 KB each). */
export const SIGNER_CACHE_MAX_ENTRIES = 50_000;
export const SIGNER_CACHE_MAX_BYTES = 6 * 1024 * 1024;

interface Cached { readonly token: string; readonly iat: number; readonly reuseUntil: number }

/**
 * Signs `X-Pomerium-Jwt-Assertion` values with the current key, caching each
 * (identity, host) token until one minute before it expires so that signing
 * stays off the hot path.
 */
export class AssertionSigner {
  /** Bounded by count and bytes; an evicted token is signed anew (same claims, new iat/jti). */
  private readonly cache: BoundedCache<string, Cached>;
  /** The last token per identity object (callers are reused across requests): a lookup without building the string key. */
  private readonly byIdentity = new WeakMap<AssertionIdentity, { readonly host: string; readonly entry: Cached }>();

  constructor(
    private readonly keys: KeySet,
    private readonly opts: AssertionOptions,
    private readonly now: () => number = Date.now,
    bounds: { readonly maxEntries?: number; readonly maxBytes?: number } = {},
  ) {
    this.cache = new BoundedCache({
      maxEntries: bounds.maxEntries ?? SIGNER_CACHE_MAX_ENTRIES,
      maxBytes: bounds.maxBytes ?? SIGNER_CACHE_MAX_BYTES,
      sizeOf: (key, e) => 96 + key.length + e.token.length,
    });
  }

  /** Tokens held, and their estimated bytes (tests, metrics). */
  get cacheSize(): { readonly entries: number; readonly bytes: number } {
    return { entries: this.cache.size, bytes: this.cache.bytes };
  }

  /** The claims for an identity on a host, without signing (for headers and tests). */
  claimsFor(identity: AssertionIdentity, host: string, iat: number): JWTPayload {
    const groups = this.opts.groupsFilter
      ? identity.groups.filter((g) => this.opts.groupsFilter!.includes(g))
      : [...identity.groups];
    const claims: JWTPayload = {};
    for (const claim of Object.values(this.opts.claimsHeaders)) {
      const v = identity.claims[claim];
      if (v !== undefined) claims[claim] = v;
    }
    Object.assign(claims, {
      iss: this.opts.issuerFormat === 'uri' ? `https://${host}/` : host,
      aud: host,
      jti: randomUUID(),
      iat,
      exp: iat + ASSERTION_TTL_S,
      sub: identity.user,
      user: identity.user,
      email: identity.email,
      groups,
      sid: identity.sid,
      name: identity.name,
    });
    if (identity.act) claims.act = { sub: identity.act.sub, email: identity.act.email };
    return claims;
  }

  /**
   * The token `sign` would return now, if it is cached and still within its
   * reuse window; undefined when a new one must be signed. Synchronous, so
   * the request path adds no promise for the common case.
   */
  cached(identity: AssertionIdentity, host: string): string | undefined {
    const nowS = Math.floor(this.now() / 1000);
    const mine = this.byIdentity.get(identity);
    // A clock stepped back must not hand out a token issued in the future.
    if (mine && mine.host === host && mine.entry.reuseUntil > nowS && mine.entry.iat <= nowS) return mine.entry.token;
    const hit = this.cache.get(`${identity.cacheKey}\u0000${host}`);
    if (hit && hit.reuseUntil > nowS && hit.iat <= nowS) {
      this.byIdentity.set(identity, { host, entry: hit });
      return hit.token;
    }
    return undefined;
  }

  async sign(identity: AssertionIdentity, host: string): Promise<string> {
    const reused = this.cached(identity, host);
    if (reused !== undefined) return reused;
    const nowS = Math.floor(this.now() / 1000);
    const key = `${identity.cacheKey}\u0000${host}`;
    const k = this.keys.current;
    const token = await new SignJWT(this.claimsFor(identity, host, nowS))
      .setProtectedHeader({ alg: k.alg, kid: k.kid, typ: 'JWT' })
      .sign(k.privateKey);
    const entry = { token, iat: nowS, reuseUntil: nowS + ASSERTION_TTL_S - REUSE_MARGIN_S };
    this.cache.set(key, entry);
    this.byIdentity.set(identity, { host, entry });
    return token;
  }
}

/** Why a carried assertion was dropped (for the decision log). */
export type CarriedAssertionFailure =
  | 'assertion-malformed' | 'assertion-signature-invalid' | 'assertion-expired' | 'assertion-unknown-key'
  | 'assertion-too-large'
  /** The request carrying it is a person's session or anonymous, not a service. */
  | 'assertion-carrier-not-service'
  /** Its `aud` is not a host Limen serves routes for. */
  | 'assertion-audience-unknown'
  /** Its `iss` is not what Limen writes for its `aud`. */
  | 'assertion-issuer-mismatch';

const MAX_CARRIED_BYTES = 8 * 1024;
const CLOCK_SKEW_S = 60;

/**
 * Verifies that an incoming assertion (or `-For` value) was signed by one of
 * Limen's own published keys and has not expired beyond the allowed skew.
 * Guarantees: only ES256/RS256, only keys in `keys`, never throws.
 */
export async function verifyCarriedAssertion(
  token: string, keys: KeySet, nowMs: number,
): Promise<{ ok: true; claims: JWTPayload } | { ok: false; reason: CarriedAssertionFailure }> {
  if (token.length > MAX_CARRIED_BYTES) return { ok: false, reason: 'assertion-too-large' };
  if (!isCompactJws(token)) return { ok: false, reason: 'assertion-malformed' };
  const jwks = localJwks(keys);
  try {
    const { payload } = await jwtVerify(token, jwks, {
      algorithms: ['ES256', 'RS256'],
      clockTolerance: CLOCK_SKEW_S,
      currentDate: new Date(nowMs),
      requiredClaims: ['exp', 'iat'],
    });
    return { ok: true, claims: payload };
  } catch (e) {
    if (e instanceof joseErrors.JWTExpired) return { ok: false, reason: 'assertion-expired' };
    if (e instanceof joseErrors.JWKSNoMatchingKey) return { ok: false, reason: 'assertion-unknown-key' };
    if (e instanceof joseErrors.JWSSignatureVerificationFailed) return { ok: false, reason: 'assertion-signature-invalid' };
    return { ok: false, reason: 'assertion-malformed' };
  }
}

const jwksCache = new WeakMap<KeySet, ReturnType<typeof createLocalJWKSet>>();
function localJwks(keys: KeySet): ReturnType<typeof createLocalJWKSet> {
  let j = jwksCache.get(keys);
  if (!j) {
    j = createLocalJWKSet({ keys: keys.all.map((k) => ({ ...k.publicJwk })) });
    jwksCache.set(keys, j);
  }
  return j;
}

/** Who sent a request carrying an assertion: a workload's bearer token, a person's session, or nobody. */
export type AssertionCarrier = 'service' | 'person' | 'anonymous';

/** A carried assertion Limen passes on: the original user and the route host it was issued for. */
export interface CarriedAssertion {
  readonly audience: string;
  readonly subject: string;
}

/**
 * The rule for an original-user assertion carried into a request
 * (`X-Pomerium-Jwt-Assertion-For`, or an incoming `X-Pomerium-Jwt-Assertion`
 * moved there; CONTRACT §2). It is passed on only when all hold:
 *  - the request carrying it comes from a service (a service account or a
 *    route-scoped token): only a workload calls onward on a user's behalf,
 *    so a person's browser or an anonymous client cannot present someone
 *    else's assertion, however it got hold of one;
 *  - it verifies against Limen's own keys and has not expired (skew 60 s);
 *  - it was issued by Limen for a route: `aud` is one host that a route of
 *    the current config serves, and `iss` is that host as Limen writes it
 *    (`host` or `https://host/`).
 * The original audience is returned for the decision log. Its audience is
 * not required to be the request's host: in a chain it is the first hop's
 * (upstreams check it with `originalAudience` of @limen/verify). Never throws.
 */
export async function checkCarriedAssertion(
  token: string,
  opts: { readonly keys: KeySet; readonly nowMs: number; readonly carrier: AssertionCarrier; readonly isRouteHost: (host: string) => boolean },
): Promise<{ ok: true; carried: CarriedAssertion } | { ok: false; reason: CarriedAssertionFailure }> {
  if (opts.carrier !== 'service') return { ok: false, reason: 'assertion-carrier-not-service' };
  const v = await verifyCarriedAssertion(token, opts.keys, opts.nowMs);
  if (!v.ok) return v;
  const aud = Array.isArray(v.claims.aud) ? (v.claims.aud.length === 1 ? v.claims.aud[0] : undefined) : v.claims.aud;
  if (typeof aud !== 'string' || aud === '' || aud !== aud.toLowerCase() || !opts.isRouteHost(aud)) return { ok: false, reason: 'assertion-audience-unknown' };
  if (v.claims.iss !== aud && v.claims.iss !== `https://${aud}/`) return { ok: false, reason: 'assertion-issuer-mismatch' };
  return { ok: true, carried: { audience: aud, subject: typeof v.claims.sub === 'string' ? v.claims.sub : '' } };
}
