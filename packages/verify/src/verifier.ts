/**
 * createVerifier: checks a Limen `X-Pomerium-Jwt-Assertion` (or the
 * `X-Pomerium-Jwt-Assertion-For` of a service chain) against the keys Limen
 * publishes, in a fixed order: shape and algorithm, key, signature, claim
 * types, time window, issuer, audience. The first failure decides the code.
 */
import { compactVerify, errors as joseErrors } from 'jose';
import { audiences, checkTimes, hostOnly, issuerHost, parseClaims, type LimenClaims } from './claims.js';
import { VerifyError } from './errors.js';
import { KeyCache } from './jwks.js';
import { ASSERTION_ALGORITHMS, decodeToken, type AssertionAlgorithm } from './token.js';

/** Where Limen publishes its keys on every route host (CONTRACT §2). */
export const JWKS_PATH = '/.well-known/pomerium/jwks.json';

export interface VerifierOptions {
  /** The JWKS to trust, e.g. `https://app.example.com/.well-known/pomerium/jwks.json`. Derived from `issuer` when absent. */
  readonly jwksUrl?: string | URL;
  /**
   * The route host the assertions are issued for, as `app.example.com` or
   * `https://app.example.com/`; tokens in either `jwt_issuer_format` match.
   * When set, `iss` is checked; when `jwksUrl` is absent, the JWKS URL is derived from it.
   */
  readonly issuer?: string;
  /** This app's route host(s), e.g. `app.example.com`: `aud` must name one of them. */
  readonly audience: string | readonly string[];
  /** Seconds of clock skew allowed on `exp`, `iat`, `nbf` and `maxAge`. Default 60. */
  readonly clockTolerance?: number;
  /** Seconds since `iat` after which an assertion is refused even if `exp` has not passed. */
  readonly maxAge?: number;
  /** A subset of ES256 and RS256. Default both. */
  readonly algorithms?: readonly AssertionAlgorithm[];
  /**
   * verifyFor only: the first-hop hosts whose users may appear in
   * `X-Pomerium-Jwt-Assertion-For`. Default: any host signed for by the same keys.
   */
  readonly originalAudience?: string | readonly string[];
  /** Seconds after which the key set is refetched even without an unknown kid. Default 300. */
  readonly jwksCacheMaxAge?: number;
  /** Seconds to wait for the JWKS endpoint. Default 5. */
  readonly jwksTimeout?: number;
  /** Used for the JWKS request. Default `globalThis.fetch`. */
  readonly fetch?: typeof fetch;
  /** Milliseconds since the epoch; for tests. Default `Date.now`. */
  readonly now?: () => number;
}

export interface Verifier {
  /**
   * Verifies this request's own assertion: signature by a published key,
   * `exp`/`iat` within tolerance, `maxAge`, `iss` (when `issuer` is set) and
   * `aud` naming `audience`. Resolves with the claims or rejects with a VerifyError.
   */
  verify(token: string): Promise<LimenClaims>;
  /**
   * Verifies an `X-Pomerium-Jwt-Assertion-For` value: the original user's
   * assertion, made by the same Limen (same keys) for the first hop of a
   * chain. Its `aud` is that first hop, so `audience` and `issuer` are not
   * applied; instead `iss` must name one of its own `aud` hosts (as Limen
   * issues them) and, when `originalAudience` is set, `aud` must name one of
   * those. Signature and time rules are the same as for verify.
   */
  verifyFor(token: string): Promise<LimenClaims>;
}

/** How many refetches an unknown kid may cause: at most one per this interval. */
const KID_REFETCH_INTERVAL_MS = 30_000;
/** Before any key set was loaded, a failed JWKS fetch is retried no sooner than this. */
const RETRY_AFTER_FAILURE_MS = 5_000;

function hostList(name: string, value: string | readonly string[] | undefined): readonly string[] | undefined {
  if (value === undefined) return undefined;
  const list = typeof value === 'string' ? [value] : value;
  if (!Array.isArray(list) || list.length === 0) throw new TypeError(`${name} must be a host or a non-empty list of hosts`);
  return list.map((entry: unknown) => {
    const host = typeof entry === 'string' ? hostOnly(entry) : undefined;
    if (host === undefined) throw new TypeError(`${name} must be a route host such as app.example.com`);
    return host;
  });
}

function seconds(name: string, value: number | undefined, fallback: number | undefined, min: number): number | undefined {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value) || value < min) {
    throw new TypeError(`${name} must be a number of seconds >= ${min}`);
  }
  return value;
}

function jwksUrlFrom(options: VerifierOptions, issuer: string | undefined): URL {
  if (options.jwksUrl !== undefined) {
    let url: URL;
    try {
      url = new URL(options.jwksUrl);
    } catch {
      throw new TypeError('jwksUrl must be an absolute URL');
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new TypeError('jwksUrl must be http(s)');
    return url;
  }
  if (issuer === undefined) throw new TypeError('createVerifier needs jwksUrl or issuer');
  return new URL(`https://${issuer}${JWKS_PATH}`);
}

/** Builds a verifier; option mistakes throw TypeError here, never later at request time. */
export function createVerifier(options: VerifierOptions): Verifier {
  if (typeof options !== 'object' || options === null) throw new TypeError('createVerifier needs options');
  let issuer: string | undefined;
  if (options.issuer !== undefined) {
    issuer = typeof options.issuer === 'string' ? issuerHost(options.issuer) : undefined;
    if (issuer === undefined) throw new TypeError('issuer must be a route host (app.example.com) or https://app.example.com/');
  }
  const audience = hostList('audience', options.audience);
  if (audience === undefined) throw new TypeError('audience is required');
  const originalAudience = hostList('originalAudience', options.originalAudience);
  const clockTolerance = seconds('clockTolerance', options.clockTolerance, 60, 0) as number;
  const maxAge = seconds('maxAge', options.maxAge, undefined, 0);
  const jwksCacheMaxAge = seconds('jwksCacheMaxAge', options.jwksCacheMaxAge, 300, 0) as number;
  const jwksTimeout = seconds('jwksTimeout', options.jwksTimeout, 5, 0) as number;
  const algorithms = options.algorithms ?? ASSERTION_ALGORITHMS;
  if (
    !Array.isArray(algorithms) ||
    algorithms.length === 0 ||
    !algorithms.every((a: unknown) => (ASSERTION_ALGORITHMS as readonly unknown[]).includes(a))
  ) {
    throw new TypeError('algorithms must be a non-empty subset of ES256, RS256');
  }
  const fetchImpl = options.fetch ?? globalThis.fetch;
  if (typeof fetchImpl !== 'function') throw new TypeError('no fetch available; pass options.fetch');
  const now = options.now ?? Date.now;

  const keys = new KeyCache({
    url: jwksUrlFrom(options, issuer),
    fetch: fetchImpl,
    now,
    algorithms,
    refetchIntervalMs: KID_REFETCH_INTERVAL_MS,
    maxAgeMs: jwksCacheMaxAge * 1000,
    retryAfterFailureMs: RETRY_AFTER_FAILURE_MS,
    timeoutMs: jwksTimeout * 1000,
  });

  async function verifySignedClaims(token: string): Promise<LimenClaims> {
    if (typeof token !== 'string') throw new TypeError('token must be a string');
    const decoded = decodeToken(token, algorithms);
    const key = await keys.getKey(decoded.kid, decoded.alg);
    try {
      await compactVerify(token, key, { algorithms: [decoded.alg] });
    } catch (err) {
      if (err instanceof joseErrors.JWSInvalid || err instanceof joseErrors.JOSENotSupported) {
        throw new VerifyError('ERR_MALFORMED', 'assertion is not a valid JWS', { reason: err.code });
      }
      throw new VerifyError('ERR_SIGNATURE_INVALID', 'assertion signature does not verify', {
        kid: decoded.kid,
        alg: decoded.alg,
        reason: err instanceof joseErrors.JOSEError ? err.code : err instanceof Error ? err.name : typeof err,
      });
    }
    const claims = parseClaims(decoded.payload);
    checkTimes(claims, { nowSeconds: Math.floor(now() / 1000), clockTolerance, maxAge });
    return claims;
  }

  function checkAudience(claims: LimenClaims, expected: readonly string[]): void {
    const actual = audiences(claims);
    if (!actual.some((a) => expected.includes(hostOnly(a) ?? ''))) {
      throw new VerifyError('ERR_AUDIENCE_INVALID', 'assertion is for another audience', { claim: 'aud', expected, actual });
    }
  }

  return Object.freeze({
    async verify(token: string): Promise<LimenClaims> {
      const claims = await verifySignedClaims(token);
      if (issuer !== undefined && issuerHost(claims.iss) !== issuer) {
        throw new VerifyError('ERR_ISSUER_INVALID', 'assertion is from another issuer', { claim: 'iss', expected: issuer, actual: claims.iss });
      }
      checkAudience(claims, audience);
      return claims;
    },

    async verifyFor(token: string): Promise<LimenClaims> {
      const claims = await verifySignedClaims(token);
      // Limen issues iss and aud from the same request host; a -For value that breaks this was not made as an assertion.
      const host = issuerHost(claims.iss);
      if (host === undefined || !audiences(claims).some((a) => hostOnly(a) === host)) {
        throw new VerifyError('ERR_ISSUER_INVALID', 'original assertion issuer does not match its audience', {
          claim: 'iss',
          actual: claims.iss,
        });
      }
      if (originalAudience !== undefined) checkAudience(claims, originalAudience);
      return claims;
    },
  });
}
