/**
 * The claims of a Limen assertion (CONTRACT §2) and the checks on them that
 * follow a good signature: types, time window, issuer and audience.
 */
import { VerifyError } from './errors.js';

/** RFC 8693 actor: the administrator behind an impersonated identity. */
export interface LimenActor {
  readonly sub: string;
  readonly email: string;
}

/** Verified claims of an `X-Pomerium-Jwt-Assertion`. Extra claims (from `jwt_claims_headers`) are kept as they came. */
export interface LimenClaims {
  /** The route host (`app.example.com`) or, with `jwt_issuer_format: uri`, `https://app.example.com/`. */
  readonly iss: string;
  /** The route host the assertion was made for. */
  readonly aud: string | readonly string[];
  readonly jti?: string;
  /** Seconds since the epoch. */
  readonly iat: number;
  /** Seconds since the epoch; Limen sets iat + 300. */
  readonly exp: number;
  /** User id (or a service account's user id). */
  readonly sub: string;
  /** Same as `sub`; filled from `sub` when absent. */
  readonly user: string;
  /** Empty when the identity has no email (a service account with its own user id). */
  readonly email: string;
  /** Never null; empty when absent. */
  readonly groups: readonly string[];
  /** Session or service-account id. */
  readonly sid?: string;
  readonly name?: string;
  /** Present while an administrator impersonates this identity. */
  readonly act?: LimenActor;
  readonly [claim: string]: unknown;
}

export interface TimeRules {
  /** Seconds. */
  readonly nowSeconds: number;
  readonly clockTolerance: number;
  readonly maxAge: number | undefined;
}

function invalid(claim: string, expected: string): VerifyError {
  return new VerifyError('ERR_CLAIMS_INVALID', `assertion claim "${claim}" is missing or not ${expected}`, { claim, expected });
}

function optionalString(payload: Readonly<Record<string, unknown>>, claim: string): string | undefined {
  const value = payload[claim];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw invalid(claim, 'a string');
  return value;
}

function numericDate(payload: Readonly<Record<string, unknown>>, claim: string): number {
  const value = payload[claim];
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) throw invalid(claim, 'a NumericDate');
  return value;
}

/**
 * Checks claim types and normalizes them into LimenClaims. Required: `iss`,
 * `aud`, `iat`, `exp`, non-empty `sub`. Typed when present: `jti`, `user`,
 * `email`, `sid`, `name` (strings), `groups` (string array; null or absent is
 * empty), `act` ({sub, email} strings), `nbf` (number).
 */
export function parseClaims(payload: Readonly<Record<string, unknown>>): LimenClaims {
  const iss = payload['iss'];
  if (typeof iss !== 'string' || iss === '') throw invalid('iss', 'a non-empty string');
  const aud = payload['aud'];
  const audOk =
    (typeof aud === 'string' && aud !== '') ||
    (Array.isArray(aud) && aud.length > 0 && aud.every((a) => typeof a === 'string' && a !== ''));
  if (!audOk) throw invalid('aud', 'a string or a list of strings');
  const iat = numericDate(payload, 'iat');
  const exp = numericDate(payload, 'exp');
  if (payload['nbf'] !== undefined) numericDate(payload, 'nbf');
  const sub = payload['sub'];
  if (typeof sub !== 'string' || sub === '') throw invalid('sub', 'a non-empty string');
  const jti = optionalString(payload, 'jti');
  const user = optionalString(payload, 'user') ?? sub;
  const email = optionalString(payload, 'email') ?? '';
  const sid = optionalString(payload, 'sid');
  const name = optionalString(payload, 'name');

  const rawGroups = payload['groups'];
  let groups: readonly string[] = [];
  if (rawGroups !== undefined && rawGroups !== null) {
    if (!Array.isArray(rawGroups) || !rawGroups.every((g) => typeof g === 'string')) throw invalid('groups', 'a list of strings');
    groups = Object.freeze([...(rawGroups as string[])]);
  }

  let act: LimenActor | undefined;
  const rawAct = payload['act'];
  if (rawAct !== undefined) {
    if (typeof rawAct !== 'object' || rawAct === null || Array.isArray(rawAct)) throw invalid('act', 'an object');
    const actor = rawAct as Record<string, unknown>;
    if (typeof actor['sub'] !== 'string' || actor['sub'] === '') throw invalid('act.sub', 'a non-empty string');
    if (actor['email'] !== undefined && typeof actor['email'] !== 'string') throw invalid('act.email', 'a string');
    act = Object.freeze({ sub: actor['sub'], email: typeof actor['email'] === 'string' ? actor['email'] : '' });
  }

  const claims: Record<string, unknown> = {
    ...payload,
    iss,
    aud: typeof aud === 'string' ? aud : Object.freeze([...(aud as string[])]),
    iat,
    exp,
    sub,
    user,
    email,
    groups,
  };
  // Keep the optional keys absent rather than undefined, so `'act' in claims` means what it says.
  for (const [key, value] of [['jti', jti], ['sid', sid], ['name', name], ['act', act]] as const) {
    if (value === undefined) delete claims[key];
    else claims[key] = value;
  }
  return Object.freeze(claims) as LimenClaims;
}

/** `exp` (RFC 7519 §4.1.4), `iat`/`nbf` not in the future, and `maxAge` since `iat`, each with `clockTolerance`. */
export function checkTimes(claims: LimenClaims, rules: TimeRules): void {
  const { nowSeconds: now, clockTolerance: tolerance, maxAge } = rules;
  if (claims.exp <= now - tolerance) {
    throw new VerifyError('ERR_EXPIRED', 'assertion has expired', { claim: 'exp', exp: claims.exp, now, tolerance });
  }
  if (claims.iat > now + tolerance) {
    throw new VerifyError('ERR_ISSUED_IN_FUTURE', 'assertion is issued in the future', { claim: 'iat', iat: claims.iat, now, tolerance });
  }
  const nbf = claims['nbf'];
  if (typeof nbf === 'number' && nbf > now + tolerance) {
    throw new VerifyError('ERR_ISSUED_IN_FUTURE', 'assertion is not valid yet', { claim: 'nbf', nbf, now, tolerance });
  }
  if (maxAge !== undefined && now - claims.iat > maxAge + tolerance) {
    throw new VerifyError('ERR_TOO_OLD', 'assertion is older than maxAge', { claim: 'iat', iat: claims.iat, now, maxAge, tolerance });
  }
}

/**
 * The host named by an `iss` value in either Limen form: `host` (hostOnly) or
 * `https://host/` (uri). Anything else is undefined.
 */
export function issuerHost(iss: string): string | undefined {
  if (iss.includes('://')) {
    if (!iss.startsWith('https://') || !iss.endsWith('/')) return undefined;
    const host = iss.slice('https://'.length, -1);
    return hostOnly(host);
  }
  return hostOnly(iss);
}

/** `host` or `host:port`, lower-cased, or undefined when it is not just that. */
export function hostOnly(value: string): string | undefined {
  if (value === '' || /[\s/?#@\\]/.test(value)) return undefined;
  let url: URL;
  try {
    url = new URL(`https://${value}/`);
  } catch {
    return undefined;
  }
  // Refuse anything the URL parser rewrote (other than dropping the default port), so the result names the input.
  const host = url.host;
  const lower = value.toLowerCase();
  return host === lower || `${host}:443` === lower ? host : undefined;
}

/** The token's audiences, as a list. */
export function audiences(claims: LimenClaims): readonly string[] {
  return typeof claims.aud === 'string' ? [claims.aud] : claims.aud;
}
