import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Binds a sign-in to the browser that started it (login CSRF defence).
 * The route host keeps a random nonce in a cookie before sending the
 * browser to sign in; the SHA-256 of that nonce (the binding) travels to
 * the authenticate host and back, sealed inside the hand-off; the route
 * host completes the hand-off only when the browser presenting it holds a
 * nonce whose hash is the binding. A hand-off minted for one browser is
 * useless in another, and the cookie's value never appears in a URL.
 */

/** Sign-ins one browser may have in flight at once (several tabs). */
export const MAX_PENDING_SIGN_INS = 4;

const NONCE = /^[A-Za-z0-9_-]{22,64}$/;
const BINDING = /^[A-Za-z0-9_-]{43}$/;

/** A fresh sign-in nonce: 144 random bits, base64url. */
export function newSignInNonce(): string {
  return randomBytes(18).toString('base64url');
}

/** The binding of a nonce: SHA-256, base64url (43 characters). */
export function signInBinding(nonce: string): string {
  return createHash('sha256').update(nonce).digest('base64url');
}

/** True for a value shaped like a binding (a query parameter is attacker-chosen). */
export function isSignInBinding(value: unknown): value is string {
  return typeof value === 'string' && BINDING.test(value);
}

/** The nonces in a sign-in cookie value; malformed entries are ignored. */
function nonces(cookie: string | undefined): string[] {
  return (cookie ?? '').split('.').filter((n) => NONCE.test(n));
}

/** The cookie value with `nonce` added; the oldest are dropped beyond MAX_PENDING_SIGN_INS. */
export function rememberSignInNonce(cookie: string | undefined, nonce: string): string {
  return [...nonces(cookie), nonce].slice(-MAX_PENDING_SIGN_INS).join('.');
}

/**
 * Looks for the nonce whose binding is `binding` (constant-time per
 * comparison). Returns whether one matched and the cookie value without it,
 * so a nonce completes one sign-in only.
 */
export function consumeSignInBinding(cookie: string | undefined, binding: string): { matched: boolean; rest: string } {
  const want = Buffer.from(binding);
  let matched = false;
  const rest: string[] = [];
  for (const n of nonces(cookie)) {
    const got = Buffer.from(signInBinding(n));
    if (!matched && got.length === want.length && timingSafeEqual(got, want)) matched = true;
    else rest.push(n);
  }
  return { matched, rest: rest.join('.') };
}
