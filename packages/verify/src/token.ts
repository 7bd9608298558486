/**
 * Structural checks on a compact JWS before any key is looked up: size, shape,
 * header and payload JSON, and the algorithm allow-list. Nothing here trusts
 * the token; it only decides whether it is worth a signature check.
 */
import { base64url } from 'jose';
import { VerifyError } from './errors.js';

/** Assertions are a few hundred bytes; anything past this is refused unparsed. */
export const MAX_TOKEN_LENGTH = 16 * 1024;

/** The only algorithms Limen signs with (CONTRACT §2). Never `none`, never HS*. */
export type AssertionAlgorithm = 'ES256' | 'RS256';
export const ASSERTION_ALGORITHMS: readonly AssertionAlgorithm[] = Object.freeze(['ES256', 'RS256']);

export interface DecodedToken {
  readonly alg: AssertionAlgorithm;
  readonly kid: string | undefined;
  readonly payload: Readonly<Record<string, unknown>>;
}

const BASE64URL = /^[A-Za-z0-9_-]+$/;
const utf8 = new TextDecoder('utf-8', { fatal: true });

function decodeJsonObject(segment: string, part: 'header' | 'payload'): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(utf8.decode(base64url.decode(segment)));
  } catch {
    throw new VerifyError('ERR_MALFORMED', `assertion ${part} is not base64url JSON`, { part });
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new VerifyError('ERR_MALFORMED', `assertion ${part} is not a JSON object`, { part });
  }
  return value as Record<string, unknown>;
}

/**
 * Splits and decodes a compact JWT. Guarantees: the token is at most
 * MAX_TOKEN_LENGTH characters, has three base64url parts, a JSON object header
 * and payload, `typ` absent or `JWT`, no `crit`/`b64`, and an `alg` in `allowed`.
 * Key-bearing header parameters (`jwk`, `jku`, `x5u`, `x5c`) are ignored, never followed.
 */
export function decodeToken(token: string, allowed: readonly AssertionAlgorithm[]): DecodedToken {
  if (token.length > MAX_TOKEN_LENGTH) {
    throw new VerifyError('ERR_MALFORMED', 'assertion is too large', { length: token.length, max: MAX_TOKEN_LENGTH });
  }
  const parts = token.split('.');
  if (parts.length !== 3) {
    throw new VerifyError('ERR_MALFORMED', 'assertion is not a compact JWT', { parts: parts.length });
  }
  const [headerPart, payloadPart, signaturePart] = parts as [string, string, string];
  // The signature may be empty here (alg "none"); the alg check below refuses that case with its own code.
  if (!BASE64URL.test(headerPart) || !BASE64URL.test(payloadPart) || (signaturePart !== '' && !BASE64URL.test(signaturePart))) {
    throw new VerifyError('ERR_MALFORMED', 'assertion is not base64url', {});
  }
  const header = decodeJsonObject(headerPart, 'header');
  const alg = header['alg'];
  if (typeof alg !== 'string' || !(allowed as readonly string[]).includes(alg)) {
    throw new VerifyError('ERR_ALG_NOT_ALLOWED', 'assertion algorithm is not allowed', {
      alg: typeof alg === 'string' ? alg.slice(0, 32) : typeof alg,
      allowed: [...allowed],
    });
  }
  // RFC 8725 §3.11: explicit typing keeps other JWTs signed by the same key from passing as assertions.
  const typ = header['typ'];
  if (typ !== undefined && (typeof typ !== 'string' || typ.toUpperCase() !== 'JWT')) {
    throw new VerifyError('ERR_MALFORMED', 'assertion typ is not JWT', { typ: typeof typ === 'string' ? typ.slice(0, 32) : typeof typ });
  }
  // Limen never marks extensions critical; refusing them keeps b64=false (RFC 7797) payloads out entirely.
  if (header['crit'] !== undefined || header['b64'] !== undefined) {
    throw new VerifyError('ERR_MALFORMED', 'assertion uses critical header extensions', {});
  }
  const kid = header['kid'];
  if (kid !== undefined && typeof kid !== 'string') {
    throw new VerifyError('ERR_MALFORMED', 'assertion kid is not a string', {});
  }
  const payload = decodeJsonObject(payloadPart, 'payload');
  if (signaturePart === '') {
    throw new VerifyError('ERR_SIGNATURE_INVALID', 'assertion has no signature', {});
  }
  return { alg: alg as AssertionAlgorithm, kid, payload };
}
