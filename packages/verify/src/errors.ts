/**
 * The one error type of @limen/verify. Every rejected assertion becomes a
 * VerifyError whose `code` is stable and safe to show to a client (the
 * middleware answers `401 {"error": code}`). Details go in `cause` as plain
 * data; neither the message nor the cause ever contains the token itself.
 */

/** Stable reason codes, one per way an assertion can be refused. */
export type VerifyErrorCode =
  | 'ERR_ASSERTION_MISSING'
  | 'ERR_MALFORMED'
  | 'ERR_ALG_NOT_ALLOWED'
  | 'ERR_SIGNATURE_INVALID'
  | 'ERR_KID_UNKNOWN'
  | 'ERR_ISSUER_INVALID'
  | 'ERR_AUDIENCE_INVALID'
  | 'ERR_EXPIRED'
  | 'ERR_ISSUED_IN_FUTURE'
  | 'ERR_TOO_OLD'
  | 'ERR_JWKS_UNAVAILABLE'
  | 'ERR_CLAIMS_INVALID';

/** Every code, for exhaustive tables (README, tests). */
export const VERIFY_ERROR_CODES: readonly VerifyErrorCode[] = Object.freeze([
  'ERR_ASSERTION_MISSING',
  'ERR_MALFORMED',
  'ERR_ALG_NOT_ALLOWED',
  'ERR_SIGNATURE_INVALID',
  'ERR_KID_UNKNOWN',
  'ERR_ISSUER_INVALID',
  'ERR_AUDIENCE_INVALID',
  'ERR_EXPIRED',
  'ERR_ISSUED_IN_FUTURE',
  'ERR_TOO_OLD',
  'ERR_JWKS_UNAVAILABLE',
  'ERR_CLAIMS_INVALID',
]);

/** Why an assertion was refused; `code` is stable, `cause` is data without secrets. */
export class VerifyError extends Error {
  override readonly name = 'VerifyError';
  readonly code: VerifyErrorCode;

  constructor(code: VerifyErrorCode, message: string, cause?: Readonly<Record<string, unknown>>) {
    super(message, cause === undefined ? undefined : { cause });
    this.code = code;
  }
}

/** True when `err` is a VerifyError (also across duplicated copies of this package). */
export function isVerifyError(err: unknown): err is VerifyError {
  return (
    err instanceof VerifyError ||
    (err instanceof Error && err.name === 'VerifyError' && typeof (err as { code?: unknown }).code === 'string')
  );
}
