/**
 * The framework-free core of every middleware: read the assertion headers,
 * verify them, and describe a refusal as `401 {"error": code}`.
 */
import type { LimenClaims } from '../claims.js';
import { isVerifyError, VerifyError, type VerifyErrorCode } from '../errors.js';
import type { Verifier } from '../verifier.js';

/** Set by Limen on requests to routes with `pass_identity_headers`. */
export const ASSERTION_HEADER = 'x-pomerium-jwt-assertion';
/** The original user's assertion in a chain of services (seed 002). */
export const ASSERTION_FOR_HEADER = 'x-pomerium-jwt-assertion-for';

/** What the middleware attaches to a request. */
export interface LimenIdentity {
  /** Who made this request (a user, or the service account of an upstream service). */
  readonly claims: LimenClaims;
  /** The user on whose behalf an upstream service calls, from `X-Pomerium-Jwt-Assertion-For`. */
  readonly originalUser?: LimenClaims;
}

/** Reads one request header by lower-case name. */
export type HeaderReader = (name: string) => string | readonly string[] | null | undefined;

function single(value: string | readonly string[] | null | undefined, header: string): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value !== 'string') {
    throw new VerifyError('ERR_MALFORMED', 'assertion header is repeated', { header });
  }
  return value;
}

/**
 * Verifies a request's `X-Pomerium-Jwt-Assertion` and, when present, its
 * `X-Pomerium-Jwt-Assertion-For`. Both must verify; a missing assertion is
 * ERR_ASSERTION_MISSING. Repeated headers (joined by node with ", ") are ERR_MALFORMED.
 */
export async function verifyRequestHeaders(verifier: Verifier, read: HeaderReader): Promise<LimenIdentity> {
  const assertion = single(read(ASSERTION_HEADER), ASSERTION_HEADER);
  if (assertion === undefined) {
    throw new VerifyError('ERR_ASSERTION_MISSING', 'request has no X-Pomerium-Jwt-Assertion header', { header: ASSERTION_HEADER });
  }
  const claims = await verifier.verify(assertion);
  const original = single(read(ASSERTION_FOR_HEADER), ASSERTION_FOR_HEADER);
  if (original === undefined) return Object.freeze({ claims });
  const originalUser = await verifier.verifyFor(original);
  return Object.freeze({ claims, originalUser });
}

export interface Refusal {
  readonly status: 401;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: { readonly error: VerifyErrorCode };
}

/** The response for a refused request, or undefined when `err` is not a VerifyError (a bug, not a refusal). */
export function refusalFor(err: unknown): Refusal | undefined {
  if (!isVerifyError(err)) return undefined;
  return {
    status: 401,
    headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' },
    body: { error: err.code },
  };
}
