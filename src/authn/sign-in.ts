/**
 * Signing in (CONTRACT §4): the authenticate host's `/.pomerium/sign_in`
 * (OIDC code flow with PKCE and nonce, state sealed in a cookie), the
 * `/oauth2/callback`, the sealed single-use hand-off to a route host's
 * `/.pomerium/callback/`, bound to the browser that started it, and the
 * programmatic login.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { sessionHandleAudience, signSessionHandle } from '../identity/index.js';
import { cookieValue, sendRedirect, serializeCookie } from '../http/index.js';
import { isSignInBinding } from './binding.js';
import { IdpError, idpFailureFields, oauthErrorCode } from './oidc.js';
import { seal, unseal } from './seal.js';
import type { SessionData } from './sessions.js';
import { BINDING_PARAM, checkSignInBinding, redirectToBoundSignIn } from './bound-sign-in.js';
import { cookieSession, sameSecret, sessionCookie, sessionCookieMaxAge, type SignInContext } from './flow.js';

const CSRF_TTL_S = 600;
const HANDOFF_TTL_S = 60;
const HANDOFF_TYPE = 'handoff';

function csrfCookieName(ctx: SignInContext): string {
  return `${ctx.site.config.cookieName}_csrf`;
}

/** Host and domain allow-list of `programmatic_redirect_domain_whitelist`. */
function programmaticRedirectAllowed(ctx: SignInContext, target: string | null): URL | undefined {
  if (!target || target.length > 4096) return undefined;
  let u: URL;
  try { u = new URL(target); } catch { return undefined; }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') return undefined;
  if (u.username || u.password) return undefined;
  const h = u.hostname.toLowerCase().replace(/^\[|\]$/g, '');
  const ok = ctx.site.config.programmaticRedirectDomainWhitelist.some((d) => h === d.toLowerCase() || h.endsWith(`.${d.toLowerCase()}`));
  return ok ? u : undefined;
}

/**
 * `/.pomerium/sign_in` on the authenticate host. A browser sign-in needs the
 * binding of the route host's nonce; one that arrives without (a plain
 * Pomerium-style link) is bounced through the route host to get one.
 */
export async function authenticateSignIn(ctx: SignInContext): Promise<void> {
  const rt = ctx.site;
  const now = ctx.svc.now();
  const sealedProgrammatic = ctx.query.get('pomerium_programmatic');
  if (sealedProgrammatic) {
    const p = await unseal(sealedProgrammatic, rt.handoffKey, `programmatic:${rt.authHost}`, now);
    const redirect = p && typeof p.redirect === 'string' ? programmaticRedirectAllowed(ctx, p.redirect) : undefined;
    if (!redirect || typeof p?.aud_host !== 'string') {
      ctx.fail(400, 'The sign-in request has no valid redirect target.', { reasons: ['redirect-uri-invalid'] });
      return;
    }
    await startOAuth(ctx, { redirect: redirect.href, programmatic: true, audHost: p.aud_host });
    return;
  }
  const redirect = ctx.returnTarget(ctx.query.get('pomerium_redirect_uri'));
  if (!redirect) {
    ctx.fail(400, 'The sign-in request has no valid redirect target.', { reasons: ['redirect-uri-invalid'] });
    return;
  }
  if (redirect.origin === rt.authOrigin) {
    // The admin console, on this very host: its cookie is set here at the callback, so no hand-off and no binding.
    if (await cookieSession(ctx)) sendRedirect(ctx.res, redirect.href, { 'x-request-id': ctx.requestId });
    else await startOAuth(ctx, { redirect: redirect.href, programmatic: false });
    return;
  }
  const binding = ctx.query.get(BINDING_PARAM);
  if (!isSignInBinding(binding)) {
    const start = new URL('/.pomerium/sign_in', redirect.origin);
    start.searchParams.set('pomerium_redirect_uri', redirect.href);
    sendRedirect(ctx.res, start.href, { 'x-request-id': ctx.requestId });
    return;
  }
  // Already signed in at the authenticate host: hand the session straight over.
  const existing = await cookieSession(ctx);
  if (existing) {
    await handOff(ctx, existing, redirect, binding);
    return;
  }
  await startOAuth(ctx, { redirect: redirect.href, programmatic: false, binding });
}

/** Sends the browser to the IdP, with state, nonce and PKCE verifier sealed in a cookie on the authenticate host. */
async function startOAuth(ctx: SignInContext, flow: { redirect: string; programmatic: boolean; binding?: string; audHost?: string }): Promise<void> {
  const rt = ctx.site;
  if (!rt.oidc) {
    ctx.fail(503, 'No identity provider is configured.', { reasons: ['idp-not-configured'] });
    return;
  }
  const state = randomBytes(24).toString('base64url');
  const nonce = randomBytes(24).toString('base64url');
  const codeVerifier = randomBytes(32).toString('base64url');
  let authUrl: string;
  try {
    authUrl = await rt.oidc.authorizationUrl(state, nonce, codeVerifier);
  } catch (e) {
    ctx.svc.logger.warn('identity provider unavailable', { requestId: ctx.requestId, code: (e as { code?: string }).code, ...idpFailureFields(e) });
    ctx.fail(502, 'The identity provider is not reachable. Try again shortly.', { reasons: ['idp-unavailable'] });
    return;
  }
  const csrf = await seal({
    state, nonce, cv: codeVerifier, redirect: flow.redirect, programmatic: flow.programmatic,
    ...(flow.binding === undefined ? {} : { binding: flow.binding }),
    ...(flow.audHost === undefined ? {} : { aud_host: flow.audHost }),
  }, rt.csrfKey, `csrf:${rt.authHost}`, ctx.svc.now(), CSRF_TTL_S);
  sendRedirect(ctx.res, authUrl, {
    'set-cookie': serializeCookie(csrfCookieName(ctx), csrf, { ...ctx.cookieOptions(CSRF_TTL_S, { hostOnly: true }), httpOnly: true, sameSite: 'lax' }),
    'x-request-id': ctx.requestId,
  });
}

/** `/oauth2/callback` on the authenticate host: the IdP's answer checked against the sealed state, the session stored, the browser handed off. */
export async function oauthCallback(ctx: SignInContext): Promise<void> {
  const rt = ctx.site;
  const now = ctx.svc.now();
  const clearCsrf = serializeCookie(csrfCookieName(ctx), '', ctx.cookieOptions(0, { hostOnly: true }));
  // The state first: only an answer to this browser's own sign-in is the IdP's word (RFC 6749
  // returns the state with an error too). Anyone can send a browser here with `error=`; as
  // `idp-error` it would read as the IdP refusing sign-ins.
  const cookie = cookieValue(ctx.req.headers.cookie, csrfCookieName(ctx));
  const csrf = cookie ? await unseal(cookie, rt.csrfKey, `csrf:${rt.authHost}`, now) : undefined;
  const state = ctx.query.get('state');
  if (!csrf || typeof csrf.state !== 'string' || !state || !sameSecret(csrf.state, state)) {
    ctx.svc.audit.emit({ kind: 'sign_in_failed', requestId: ctx.requestId, details: { reason: csrf ? 'state-mismatch' : 'csrf-cookie-missing' } });
    // The cookie is kept: a forged callback must not break the sign-in this browser has under way.
    ctx.fail(400, 'The sign-in could not be verified (missing or mismatched state). Start again from the page you wanted.', {
      reasons: [csrf ? 'state-mismatch' : 'csrf-cookie-missing'],
    });
    return;
  }
  const idpError = ctx.query.get('error');
  if (idpError) {
    // The code only (RFC 6749's characters, bounded), as at the code exchange: the query is the browser's to write.
    const code = oauthErrorCode(idpError);
    ctx.svc.audit.emit({ kind: 'sign_in_failed', requestId: ctx.requestId, details: { reason: 'idp-error', ...(code === undefined ? {} : { idp_error: code }) } });
    ctx.fail(401, 'The identity provider did not sign you in.', { reasons: ['idp-error'] }, { 'set-cookie': clearCsrf });
    return;
  }
  if (!rt.oidc) {
    ctx.fail(503, 'No identity provider is configured.', { reasons: ['idp-not-configured'] });
    return;
  }
  const callbackUrl = new URL(`${rt.authOrigin}${ctx.req.url}`);
  let tokens;
  try {
    tokens = await rt.oidc.exchange(callbackUrl, { state, nonce: String(csrf.nonce), codeVerifier: String(csrf.cv) });
  } catch (e) {
    const code = (e as { code?: string }).code;
    const unavailable = code === 'ERR_IDP_UNAVAILABLE' || code === 'ERR_IDP_DISCOVERY';
    // The IdP's OAuth error code (invalid_client: a wrong client secret; invalid_grant: a code used twice,
    // expired or sent to another redirect URI), as the idp-error case carries the one it redirected with.
    const idpError = e instanceof IdpError ? e.idpError : undefined;
    ctx.svc.audit.emit({ kind: 'sign_in_failed', requestId: ctx.requestId, details: { reason: code ?? 'idp-exchange-failed', ...(idpError === undefined ? {} : { idp_error: idpError }) } });
    ctx.svc.logger.warn(unavailable ? 'identity provider unavailable' : 'identity provider did not accept the sign-in', {
      requestId: ctx.requestId, code, ...(idpError === undefined ? {} : { idp_error: idpError }), ...idpFailureFields(e),
    });
    // Not reached (or a 5xx) is the IdP's failure, as when the sign-in starts, not a refused sign-in.
    if (unavailable) ctx.fail(502, 'The identity provider is not reachable. Try again shortly.', { reasons: ['idp-unavailable'] }, { 'set-cookie': clearCsrf });
    else ctx.fail(401, 'The identity provider did not confirm the sign-in.', { reasons: ['idp-exchange-failed'] }, { 'set-cookie': clearCsrf });
    return;
  }
  const programmatic = csrf.programmatic === true;
  const session = await ctx.svc.sessions.create(tokens, rt.config.cookieExpireMs, programmatic ? 'programmatic' : 'session');
  ctx.svc.audit.emit({ kind: 'sign_in', requestId: ctx.requestId, userId: session.userId, email: session.email, details: { session_id: session.id } });
  ctx.svc.onSignIn?.(session);
  const redirect = new URL(String(csrf.redirect));
  if (programmatic) {
    // For the route host that asked for the login URL only (CONTRACT §4).
    const handle = await signSessionHandle({ sid: session.id, sub: session.userId, iss: rt.authHost ?? '', aud: String(csrf.aud_host), expiresAt: session.expiresAt }, rt.config.sharedSecret, now);
    redirect.searchParams.set('pomerium_jwt', handle);
    sendRedirect(ctx.res, redirect.href, { 'set-cookie': clearCsrf, 'x-request-id': ctx.requestId });
    return;
  }
  // The authenticate host's own handle: for this host alone, host-only cookie.
  const handle = await signSessionHandle({ sid: session.id, sub: session.userId, iss: rt.authHost ?? '', aud: rt.authHost ?? '' }, rt.config.sharedSecret, now);
  if (redirect.origin === rt.authOrigin) {
    // Back to the admin console on this host (returnTarget): the cookie just set is all it needs.
    sendRedirect(ctx.res, redirect.href, { 'set-cookie': [clearCsrf, sessionCookie(ctx, handle, sessionCookieMaxAge(ctx))], 'x-request-id': ctx.requestId });
    return;
  }
  await handOff(ctx, session, redirect, String(csrf.binding), [clearCsrf, sessionCookie(ctx, handle, sessionCookieMaxAge(ctx))]);
}

/**
 * Sends the browser to the route host with a sealed, single-use,
 * one-minute hand-off, bound to the exact origin of `redirect` and to the
 * browser whose nonce hashes to `binding`.
 */
async function handOff(ctx: SignInContext, s: SessionData, redirect: URL, binding: string, cookies: string[] = []): Promise<void> {
  const rt = ctx.site;
  const value = await seal({ sid: s.id, sub: s.userId, redirect: redirect.href, binding, jti: randomUUID() }, rt.handoffKey, `handoff:${redirect.origin}`, ctx.svc.now(), HANDOFF_TTL_S);
  const target = new URL('/.pomerium/callback/', redirect.origin);
  target.searchParams.set('pomerium_handoff', value);
  sendRedirect(ctx.res, target.href, { ...(cookies.length > 0 ? { 'set-cookie': cookies } : {}), 'x-request-id': ctx.requestId });
}

/**
 * `/.pomerium/callback/` on a route host: completes a hand-off sealed for
 * this exact origin, once, in the browser that started the sign-in.
 */
export async function routeCallback(ctx: SignInContext): Promise<void> {
  const rt = ctx.site;
  const now = ctx.svc.now();
  const origin = ctx.origin;
  const value = ctx.query.get('pomerium_handoff');
  const p = value ? await unseal(value, rt.handoffKey, `handoff:${origin}`, now) : undefined;
  let redirect: URL | undefined;
  try { redirect = typeof p?.redirect === 'string' ? new URL(p.redirect) : undefined; } catch { redirect = undefined; }
  if (!p || typeof p.jti !== 'string' || typeof p.sid !== 'string' || typeof p.sub !== 'string' || !isSignInBinding(p.binding) || redirect?.origin !== origin) {
    ctx.fail(400, 'The sign-in hand-off is invalid, has expired or is for another site. Start again from the page you wanted.', { reasons: ['handoff-invalid'] });
    return;
  }
  if (await ctx.svc.store.get(HANDOFF_TYPE, p.jti, now)) {
    ctx.fail(400, 'This sign-in link was already used. Start again from the page you wanted.', { reasons: ['handoff-replayed'] });
    return;
  }
  // Used up before the browser check, so a hand-off shown to the wrong browser is gone for good.
  await ctx.svc.store.put(HANDOFF_TYPE, p.jti, { used: true }, { expiresAt: now + 2 * HANDOFF_TTL_S * 1000 }, now);
  const bound = checkSignInBinding(ctx, p.binding);
  if (!bound.matched) {
    ctx.svc.audit.emit({ kind: 'sign_in_failed', requestId: ctx.requestId, userId: p.sub, details: { reason: 'handoff-browser-mismatch', host: ctx.host, ip: ctx.ip } });
    ctx.fail(400, 'This sign-in was started in another browser (or its cookies were cleared). Start again from the page you wanted.', { reasons: ['handoff-browser-mismatch'] });
    return;
  }
  const aud = sessionHandleAudience({ authHost: rt.authHost, cookieDomain: rt.config.cookieDomain }, ctx.host);
  const handle = await signSessionHandle({ sid: p.sid, sub: p.sub, iss: rt.authHost ?? ctx.host, aud }, rt.config.sharedSecret, now);
  sendRedirect(ctx.res, redirect.href, {
    'set-cookie': [sessionCookie(ctx, handle, sessionCookieMaxAge(ctx)), bound.setCookie],
    'x-request-id': ctx.requestId,
  });
}

/**
 * `/.pomerium/sign_in` on a route host: starts a sign-in bound to this
 * browser for a page on this same origin (where the authenticate host
 * bounces a sign-in link that came without a binding).
 */
export function routeSignIn(ctx: SignInContext): void {
  const target = ctx.allowedRedirect(ctx.query.get('pomerium_redirect_uri'));
  if (!target || target.origin !== ctx.origin) {
    ctx.fail(400, 'The sign-in request has no valid redirect target on this site.', { reasons: ['redirect-uri-invalid'] });
    return;
  }
  if (!redirectToBoundSignIn(ctx, target)) ctx.fail(503, 'No authenticate service is configured.', { reasons: ['idp-not-configured'] });
}

/** `/.pomerium/api/v1/login` on a route host: the sign-in URL for a programmatic client (CONTRACT §4). */
export async function programmaticLogin(ctx: SignInContext): Promise<void> {
  const rt = ctx.site;
  const target = programmaticRedirectAllowed(ctx, ctx.query.get('pomerium_redirect_uri'));
  if (!target) {
    ctx.fail(400, 'pomerium_redirect_uri is missing or not in programmatic_redirect_domain_whitelist.', { reasons: ['redirect-uri-invalid'] });
    return;
  }
  if (!rt.authOrigin) { ctx.fail(503, 'No authenticate service is configured.', { reasons: ['idp-not-configured'] }); return; }
  // The handle will be for this route host only (CONTRACT §4).
  const sealed = await seal({ redirect: target.href, aud_host: ctx.host }, rt.handoffKey, `programmatic:${rt.authHost}`, ctx.svc.now(), CSRF_TTL_S);
  const url = new URL('/.pomerium/sign_in', rt.authOrigin);
  url.searchParams.set('pomerium_programmatic', sealed);
  ctx.res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', 'x-request-id': ctx.requestId });
  ctx.res.end(url.href);
}
