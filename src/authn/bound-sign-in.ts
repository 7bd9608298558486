/**
 * Starting a sign-in from a route host, bound to the browser (see
 * binding.ts): the nonce cookie set here is what `/.pomerium/callback/`
 * checks before it turns a hand-off into a session cookie.
 */
import { cookieValue, sendRedirect, serializeCookie } from '../http/index.js';
import type { Config } from '../config/index.js';
import { consumeSignInBinding, newSignInNonce, rememberSignInNonce, signInBinding } from './binding.js';
import type { SignInContext } from './flow.js';


/** How long a started sign-in may take, IdP included. */
const SIGN_IN_NONCE_TTL_S = 900;
/** The query parameter carrying the binding to the authenticate host (Limen's own; Pomerium has none). */
export const BINDING_PARAM = 'limen_binding';

/** The route-host cookie holding the nonces of sign-ins in flight. */
export function signInNonceCookieName(config: Pick<Config, 'cookieName'>): string {
  return `${config.cookieName}_signin`;
}

function nonceCookie(ctx: SignInContext, value: string, maxAgeS: number): string {
  // Lax whatever cookie_same_site says: the hand-off arrives by a top-level
  // navigation from the authenticate host, which may be another site. Path
  // `/`, so a sign-in started from any page sees the nonces of the others in
  // flight; it is removed from what the upstream receives like the session cookie.
  return serializeCookie(signInNonceCookieName(ctx.site.config), value, {
    ...ctx.cookieOptions(maxAgeS, { hostOnly: true }), httpOnly: true, sameSite: 'lax',
  });
}

/**
 * Sends the browser to the authenticate host's sign-in for `returnTo` (a URL
 * on this request's origin), with a fresh nonce remembered in this browser
 * and its binding in the URL. False when no authenticate service is set.
 */
export function redirectToBoundSignIn(ctx: SignInContext, returnTo: URL): boolean {
  if (!ctx.site.authOrigin) return false;
  const name = signInNonceCookieName(ctx.site.config);
  const nonce = newSignInNonce();
  const kept = rememberSignInNonce(cookieValue(ctx.req.headers.cookie, name), nonce);
  const signIn = new URL('/.pomerium/sign_in', ctx.site.authOrigin);
  signIn.searchParams.set('pomerium_redirect_uri', returnTo.href);
  signIn.searchParams.set(BINDING_PARAM, signInBinding(nonce));
  sendRedirect(ctx.res, signIn.href, { 'set-cookie': nonceCookie(ctx, kept, SIGN_IN_NONCE_TTL_S), 'x-request-id': ctx.requestId });
  return true;
}

/**
 * Whether this browser started the sign-in a hand-off is bound to, and the
 * Set-Cookie that forgets the nonce used (each completes one sign-in).
 */
export function checkSignInBinding(ctx: SignInContext, binding: string): { matched: boolean; setCookie: string } {
  const { matched, rest } = consumeSignInBinding(cookieValue(ctx.req.headers.cookie, signInNonceCookieName(ctx.site.config)), binding);
  return { matched, setCookie: nonceCookie(ctx, rest, rest === '' ? 0 : SIGN_IN_NONCE_TTL_S) };
}
