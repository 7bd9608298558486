import { randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { isSignInBinding, seal, unseal, type SessionData } from '../authn/index.js';
import { handleAudienceAccepts, sessionHandleAudience, signSessionHandle, verifySharedSecretToken } from '../identity/index.js';
import { escapeHtml, htmlLayout, cookieValue, cookieValues, readUrlEncodedForm, renderActions, sendHtml, sendJson, sendRedirect, serializeCookie, wantsJson } from '../http/index.js';
import type { TableRoute } from '../proxy/index.js';
import {
  allowedRedirect, BINDING_PARAM, checkSignInBinding, cookieOptions, fail, handleAdminApi, handleScim, handleUserPagePost, impersonationBanner,
  redirectToBoundSignIn, renderUserPage, requestOrigin, returnTarget, signInHref, signOutCsrfToken, SWITCH_ACCOUNT_FIELD, userJson,
  type RequestContext, type RouteRuntime,
} from '../web/index.js';
import { redirectToSignIn } from './respond-decision.js';
import { isConsolePath } from '../decision/index.js';
import { handleConsole } from '../web/console/index.js';

const CSRF_TTL_S = 600;
const HANDOFF_TTL_S = 60;
const HANDOFF_TYPE = 'handoff';
/** A confirmed sign-out on a route host, carried to the authenticate host. */
const SIGN_OUT_TTL_S = 60;
const SIGN_OUT_TYPE = 'sign_out';
const SIGN_OUT_PARAM = 'limen_sign_out';
/** Where to go after signing out, sealed into the end-session `state` the IdP hands back to the signed-out page. */
const SIGNED_OUT_TTL_S = 600;
const MAX_FORM_BYTES = 16 * 1024;

function csrfCookieName(ctx: RequestContext): string {
  return `${ctx.rt.config.cookieName}_csrf`;
}

/** The session cookie for this host: the authenticate host's is host-only, a route host's follows `cookie_domain`. */
function sessionCookie(ctx: RequestContext, value: string, maxAgeS: number): string {
  return serializeCookie(ctx.rt.config.cookieName, value, cookieOptions(ctx, maxAgeS, { hostOnly: ctx.host === ctx.rt.authHost }));
}

function sessionCookieMaxAge(ctx: RequestContext): number {
  return Math.floor(ctx.rt.config.cookieExpireMs / 1000);
}

/** Authenticate-service endpoints; returns false to let routing continue. */
export async function handleAuthenticateHost(ctx: RequestContext): Promise<boolean> {
  switch (ctx.pathname) {
    case '/.pomerium/sign_in': await signIn(ctx); return true;
    case '/oauth2/callback': await oauthCallback(ctx); return true;
    case '/.pomerium/sign_out': await authenticateSignOut(ctx); return true;
    case '/.pomerium/signed_out': await signedOut(ctx); return true;
    case '/.well-known/pomerium/jwks.json': jwks(ctx); return true;
    default:
      // SCIM 2.0 provisioning (Limen), authenticated by its own bearer tokens.
      if (ctx.pathname === '/scim/v2' || ctx.pathname.startsWith('/scim/v2/')) { await handleScim(ctx); return true; }
      // The admin console (src/web/console), for administrators only.
      if (isConsolePath(ctx.pathname)) { await handleConsole(ctx); return true; }
      if (ctx.pathname.startsWith('/.pomerium/api/v1/') && ctx.pathname !== '/.pomerium/api/v1/login') {
        return handleAdminApi(ctx, ctx.svc.adminEndpoints);
      }
      return false;
  }
}

/** Host and domain allow-list of `programmatic_redirect_domain_whitelist`. */
function programmaticRedirectAllowed(ctx: RequestContext, target: string | null): URL | undefined {
  if (!target || target.length > 4096) return undefined;
  let u: URL;
  try { u = new URL(target); } catch { return undefined; }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') return undefined;
  if (u.username || u.password) return undefined;
  const h = u.hostname.toLowerCase().replace(/^\[|\]$/g, '');
  const ok = ctx.rt.config.programmaticRedirectDomainWhitelist.some((d) => h === d.toLowerCase() || h.endsWith(`.${d.toLowerCase()}`));
  return ok ? u : undefined;
}

/**
 * The session behind this request's own session cookie (not a bearer
 * token), if any. `refusedToo` also returns a session whose user the
 * directory refuses (deprovisioned): sign-out must still be able to end it.
 */
async function cookieSession(ctx: RequestContext, refusedToo = false): Promise<SessionData | undefined> {
  const who = await ctx.identifier.identify(ctx.req, ctx.host, 'global');
  const caller = who.caller ?? (refusedToo ? who.outOfScope : undefined);
  return who.credential === 'cookie' && caller?.kind === 'session' ? caller.session : undefined;
}

/**
 * `/.pomerium/sign_in` on the authenticate host. A browser sign-in needs the
 * binding of the route host's nonce; one that arrives without (a plain
 * Pomerium-style link) is bounced through the route host to get one.
 */
async function signIn(ctx: RequestContext): Promise<void> {
  const rt = ctx.rt;
  const now = ctx.svc.now();
  const sealedProgrammatic = ctx.query.get('pomerium_programmatic');
  if (sealedProgrammatic) {
    const p = await unseal(sealedProgrammatic, rt.handoffKey, `programmatic:${rt.authHost}`, now);
    const redirect = p && typeof p.redirect === 'string' ? programmaticRedirectAllowed(ctx, p.redirect) : undefined;
    if (!redirect || typeof p?.aud_host !== 'string') {
      fail(ctx, 400, 'The sign-in request has no valid redirect target.', { reasons: ['redirect-uri-invalid'] });
      return;
    }
    await startOAuth(ctx, { redirect: redirect.href, programmatic: true, audHost: p.aud_host });
    return;
  }
  const redirect = returnTarget(rt, ctx.query.get('pomerium_redirect_uri'));
  if (!redirect) {
    fail(ctx, 400, 'The sign-in request has no valid redirect target.', { reasons: ['redirect-uri-invalid'] });
    return;
  }
  if (redirect.origin === rt.authOrigin) {
    // The console, on this very host: its cookie is set here at the callback, so no hand-off and no binding.
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
async function startOAuth(ctx: RequestContext, flow: { redirect: string; programmatic: boolean; binding?: string; audHost?: string }): Promise<void> {
  const rt = ctx.rt;
  if (!rt.oidc) {
    fail(ctx, 503, 'No identity provider is configured.', { reasons: ['idp-not-configured'] });
    return;
  }
  const state = randomBytes(24).toString('base64url');
  const nonce = randomBytes(24).toString('base64url');
  const codeVerifier = randomBytes(32).toString('base64url');
  let authUrl: string;
  try {
    authUrl = await rt.oidc.authorizationUrl(state, nonce, codeVerifier);
  } catch (e) {
    ctx.svc.logger.warn('identity provider unavailable', { requestId: ctx.requestId, code: (e as { code?: string }).code });
    fail(ctx, 502, 'The identity provider is not reachable. Try again shortly.', { reasons: ['idp-unavailable'] });
    return;
  }
  const csrf = await seal({
    state, nonce, cv: codeVerifier, redirect: flow.redirect, programmatic: flow.programmatic,
    ...(flow.binding === undefined ? {} : { binding: flow.binding }),
    ...(flow.audHost === undefined ? {} : { aud_host: flow.audHost }),
  }, rt.csrfKey, `csrf:${rt.authHost}`, ctx.svc.now(), CSRF_TTL_S);
  sendRedirect(ctx.res, authUrl, {
    'set-cookie': serializeCookie(csrfCookieName(ctx), csrf, { ...cookieOptions(ctx, CSRF_TTL_S, { hostOnly: true }), httpOnly: true, sameSite: 'lax' }),
    'x-request-id': ctx.requestId,
  });
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

async function oauthCallback(ctx: RequestContext): Promise<void> {
  const rt = ctx.rt;
  const now = ctx.svc.now();
  const clearCsrf = serializeCookie(csrfCookieName(ctx), '', cookieOptions(ctx, 0, { hostOnly: true }));
  const idpError = ctx.query.get('error');
  if (idpError) {
    ctx.svc.audit.emit({ kind: 'sign_in_failed', requestId: ctx.requestId, details: { reason: 'idp-error', idp_error: idpError.slice(0, 100) } });
    fail(ctx, 401, 'The identity provider did not sign you in.', { reasons: ['idp-error'] }, { 'set-cookie': clearCsrf });
    return;
  }
  const cookie = cookieValue(ctx.req.headers.cookie, csrfCookieName(ctx));
  const csrf = cookie ? await unseal(cookie, rt.csrfKey, `csrf:${rt.authHost}`, now) : undefined;
  const state = ctx.query.get('state');
  if (!csrf || typeof csrf.state !== 'string' || !state || !sameSecret(csrf.state, state)) {
    ctx.svc.audit.emit({ kind: 'sign_in_failed', requestId: ctx.requestId, details: { reason: csrf ? 'state-mismatch' : 'csrf-cookie-missing' } });
    fail(ctx, 400, 'The sign-in could not be verified (missing or mismatched state). Start again from the page you wanted.', {
      reasons: [csrf ? 'state-mismatch' : 'csrf-cookie-missing'],
    }, { 'set-cookie': clearCsrf });
    return;
  }
  if (!rt.oidc) {
    fail(ctx, 503, 'No identity provider is configured.', { reasons: ['idp-not-configured'] });
    return;
  }
  const callbackUrl = new URL(`${rt.authOrigin}${ctx.req.url}`);
  let tokens;
  try {
    tokens = await rt.oidc.exchange(callbackUrl, { state, nonce: String(csrf.nonce), codeVerifier: String(csrf.cv) });
  } catch (e) {
    ctx.svc.audit.emit({ kind: 'sign_in_failed', requestId: ctx.requestId, details: { reason: (e as { code?: string }).code ?? 'idp-exchange-failed' } });
    fail(ctx, 401, 'The identity provider did not confirm the sign-in.', { reasons: ['idp-exchange-failed'] }, { 'set-cookie': clearCsrf });
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
    // Back to the console on this host (origins.ts consoleReturn): the cookie just set is all it needs.
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
async function handOff(ctx: RequestContext, s: SessionData, redirect: URL, binding: string, cookies: string[] = []): Promise<void> {
  const rt = ctx.rt;
  const value = await seal({ sid: s.id, sub: s.userId, redirect: redirect.href, binding, jti: randomUUID() }, rt.handoffKey, `handoff:${redirect.origin}`, ctx.svc.now(), HANDOFF_TTL_S);
  const target = new URL('/.pomerium/callback/', redirect.origin);
  target.searchParams.set('pomerium_handoff', value);
  sendRedirect(ctx.res, target.href, { ...(cookies.length > 0 ? { 'set-cookie': cookies } : {}), 'x-request-id': ctx.requestId });
}

/**
 * `/.pomerium/callback/` on a route host: completes a hand-off sealed for
 * this exact origin, once, in the browser that started the sign-in.
 */
async function routeCallback(ctx: RequestContext): Promise<void> {
  const rt = ctx.rt;
  const now = ctx.svc.now();
  const origin = requestOrigin(ctx);
  const value = ctx.query.get('pomerium_handoff');
  const p = value ? await unseal(value, rt.handoffKey, `handoff:${origin}`, now) : undefined;
  let redirect: URL | undefined;
  try { redirect = typeof p?.redirect === 'string' ? new URL(p.redirect) : undefined; } catch { redirect = undefined; }
  if (!p || typeof p.jti !== 'string' || typeof p.sid !== 'string' || typeof p.sub !== 'string' || !isSignInBinding(p.binding) || redirect?.origin !== origin) {
    fail(ctx, 400, 'The sign-in hand-off is invalid, has expired or is for another site. Start again from the page you wanted.', { reasons: ['handoff-invalid'] });
    return;
  }
  if (await ctx.svc.store.get(HANDOFF_TYPE, p.jti, now)) {
    fail(ctx, 400, 'This sign-in link was already used. Start again from the page you wanted.', { reasons: ['handoff-replayed'] });
    return;
  }
  // Used up before the browser check, so a hand-off shown to the wrong browser is gone for good.
  await ctx.svc.store.put(HANDOFF_TYPE, p.jti, { used: true }, { expiresAt: now + 2 * HANDOFF_TTL_S * 1000 }, now);
  const bound = checkSignInBinding(ctx, p.binding);
  if (!bound.matched) {
    ctx.svc.audit.emit({ kind: 'sign_in_failed', requestId: ctx.requestId, userId: p.sub, details: { reason: 'handoff-browser-mismatch', host: ctx.host, ip: ctx.ip } });
    fail(ctx, 400, 'This sign-in was started in another browser (or its cookies were cleared). Start again from the page you wanted.', { reasons: ['handoff-browser-mismatch'] });
    return;
  }
  const aud = sessionHandleAudience({ authHost: rt.authHost, cookieDomain: rt.config.cookieDomain }, ctx.host);
  const handle = await signSessionHandle({ sid: p.sid, sub: p.sub, iss: rt.authHost ?? ctx.host, aud }, rt.config.sharedSecret, now);
  sendRedirect(ctx.res, redirect.href, {
    'set-cookie': [sessionCookie(ctx, handle, sessionCookieMaxAge(ctx)), bound.setCookie],
    'x-request-id': ctx.requestId,
  });
}

function jwks(ctx: RequestContext): void {
  const doc = ctx.rt.jwks;
  const headers = {
    'content-type': 'application/json',
    'cache-control': 'max-age=60',
    etag: doc.etag,
    'access-control-allow-origin': '*',
    'access-control-allow-methods': 'GET, HEAD, OPTIONS',
    'x-request-id': ctx.requestId,
  };
  if (ctx.req.method === 'OPTIONS') { ctx.res.writeHead(204, headers); ctx.res.end(); return; }
  const inm = ctx.req.headers['if-none-match'];
  if (inm !== undefined && inm.split(',').map((s) => s.trim().replace(/^W\//, '')).includes(doc.etag)) {
    ctx.res.writeHead(304, headers);
    ctx.res.end();
    return;
  }
  ctx.res.writeHead(200, { ...headers, 'content-length': Buffer.byteLength(doc.body) });
  ctx.res.end(ctx.req.method === 'HEAD' ? undefined : doc.body);
}

/** Deletes a session and records it (and the end of any impersonation). */
async function endSession(ctx: RequestContext, s: SessionData): Promise<void> {
  await ctx.svc.sessions.delete(s.id);
  ctx.svc.audit.emit({ kind: 'sign_out', requestId: ctx.requestId, userId: s.userId, email: s.email, details: { session_id: s.id } });
  if (s.impersonation) ctx.svc.audit.emit({ kind: 'impersonate_stop', requestId: ctx.requestId, userId: s.impersonation.user, email: s.impersonation.email, actor: s.email || s.userId, details: { session_id: s.id, reason: 'signed-out' } });
}

function csrfMatches(want: string, presented: string | null): boolean {
  return presented !== null && sameSecret(want, presented);
}

/**
 * The sign-out confirmation: a GET never ends a session (a link or image
 * on another site could send one), so it shows this form, which POSTs back
 * with the session's CSRF token.
 */
function signOutConfirmation(ctx: RequestContext, s: SessionData | undefined, back: URL | undefined): void {
  const fields = [
    ...(s ? [['csrf', signOutCsrfToken(ctx, s.id)]] : []),
    ...(back ? [['pomerium_redirect_uri', back.href]] : []),
    ...(ctx.query.get(SWITCH_ACCOUNT_FIELD) === '1' ? [[SWITCH_ACCOUNT_FIELD, '1']] : []),
  ].map(([k, v]) => `<input type="hidden" name="${k}" value="${escapeHtml(v!)}">`).join('');
  const who = s ? `<p>You are signed in as <strong>${escapeHtml(s.email || s.userId)}</strong>.</p>` : '<p>You are not signed in here; signing out also ends your session at the identity provider.</p>';
  sendHtml(ctx.res, 200, htmlLayout('Sign out', `<h1>Sign out?</h1>${who}<form method="post" action="/.pomerium/sign_out" id="sign-out">${fields}<button type="submit">Sign out</button></form>${back ? `<p><a href="${escapeHtml(back.href)}">Cancel</a></p>` : ''}`), { 'x-request-id': ctx.requestId });
}

/** Reads the sign-out form; answers 400 and returns undefined when it is not one. */
async function signOutForm(ctx: RequestContext): Promise<URLSearchParams | undefined> {
  const form = await readUrlEncodedForm(ctx.req, MAX_FORM_BYTES);
  if (!form) fail(ctx, 400, 'Expected the sign-out form.', { reasons: ['form-invalid'] });
  return form;
}

/**
 * `/.pomerium/sign_out` on the authenticate host. GET: the confirmation
 * page, unless it carries a sign-out confirmed on a route host (sealed,
 * single-use, one minute) for the session this browser's cookie names.
 * POST: the confirmed form. Either way the
 * session ends, its cookie is cleared, and the browser goes to the IdP's
 * end-session endpoint with the ID token as `id_token_hint`.
 */
async function authenticateSignOut(ctx: RequestContext): Promise<void> {
  const rt = ctx.rt;
  const now = ctx.svc.now();
  const s = await cookieSession(ctx, true);
  const carried = ctx.query.get(SIGN_OUT_PARAM);
  if (carried !== null && ctx.req.method !== 'POST') {
    const p = await unseal(carried, rt.handoffKey, `sign-out:${rt.authOrigin}`, now);
    if (!p || typeof p.jti !== 'string') {
      fail(ctx, 400, 'The sign-out link is invalid or has expired. Sign out again.', { reasons: ['sign-out-invalid'] });
      return;
    }
    if (await ctx.svc.store.get(SIGN_OUT_TYPE, p.jti, now)) {
      fail(ctx, 400, 'This sign-out link was already used.', { reasons: ['sign-out-replayed'] });
      return;
    }
    const back = allowedRedirect(rt, typeof p.redirect === 'string' ? p.redirect : undefined);
    // Only in the browser whose own cookie names the session that was signed
    // out: a link lifted from someone else's sign-out ends nothing here and
    // sends no one to the IdP; it just asks, like any GET.
    if (typeof p.sid !== 'string' || await authCookieSessionId(ctx) !== p.sid) {
      signOutConfirmation(ctx, s, back);
      return;
    }
    await ctx.svc.store.put(SIGN_OUT_TYPE, p.jti, { used: true }, { expiresAt: now + 2 * SIGN_OUT_TTL_S * 1000 }, now);
    const idToken = typeof p.idt === 'string' ? p.idt : s ? ctx.svc.sessions.tokens(s)?.idToken : undefined;
    if (s) await endSession(ctx, s);
    await finishSignOut(ctx, idToken, back, p.switch === true);
    return;
  }
  if (ctx.req.method !== 'POST') {
    signOutConfirmation(ctx, s, returnTarget(rt, ctx.query.get('pomerium_redirect_uri')));
    return;
  }
  const form = await signOutForm(ctx);
  if (!form) return;
  if (s && !csrfMatches(signOutCsrfToken(ctx, s.id), form.get('csrf'))) {
    fail(ctx, 403, 'The sign-out form could not be verified. Reload the page and try again.', { reasons: ['csrf-invalid'] });
    return;
  }
  const idToken = s ? ctx.svc.sessions.tokens(s)?.idToken : undefined;
  if (s) await endSession(ctx, s);
  await finishSignOut(ctx, idToken, returnTarget(rt, form.get('pomerium_redirect_uri')), form.get(SWITCH_ACCOUNT_FIELD) === '1');
}

/**
 * The session id named by the authenticate host's own cookie in this
 * request, verified (signature, expiry, audience) but whether or not the
 * session still exists: a route host's sign-out has already ended it.
 */
async function authCookieSessionId(ctx: RequestContext): Promise<string | undefined> {
  const rt = ctx.rt;
  const audience = { authHost: rt.authHost, cookieDomain: rt.config.cookieDomain };
  for (const value of cookieValues(ctx.req.headers.cookie, rt.config.cookieName).slice(0, 4)) {
    const v = await verifySharedSecretToken(value, rt.config.sharedSecret, ctx.svc.now());
    if (v.ok && typeof v.claims.jti === 'string' && handleAudienceAccepts(audience, v.claims.aud, ctx.host)) return v.claims.jti;
  }
  return undefined;
}

/**
 * Clears the authenticate host's cookie and sends the browser on: the IdP's
 * end-session endpoint (with the hint) or the signed-out page. The page to
 * sign in again for (and whether to go straight there, to sign in as
 * someone else) is sealed into `state`, which the IdP hands back to the
 * registered `post_logout_redirect_uri` unchanged.
 */
async function finishSignOut(ctx: RequestContext, idToken: string | undefined, back: URL | undefined, switchAccount = false): Promise<void> {
  const rt = ctx.rt;
  const clear = sessionCookie(ctx, '', 0);
  const signedOutUrl = new URL('/.pomerium/signed_out', rt.authOrigin);
  const state = back
    ? await seal({ redirect: back.href, ...(switchAccount ? { switch: true } : {}) }, rt.handoffKey, `signed-out:${rt.authOrigin}`, ctx.svc.now(), SIGNED_OUT_TTL_S)
    : undefined;
  const idp = rt.oidc ? await rt.oidc.endSessionUrl(idToken, signedOutUrl.href, state) : undefined;
  if (state) signedOutUrl.searchParams.set('state', state);
  sendRedirect(ctx.res, idp ?? signedOutUrl.href, { 'set-cookie': clear, 'x-request-id': ctx.requestId }, 303);
}

/**
 * `/.pomerium/signed_out`: says so, and offers to sign in again on the page
 * the user signed out from (from the sealed `state`, or a plain
 * `pomerium_redirect_uri` on a route's origin). After "Sign in as someone
 * else" it goes straight on to that sign-in, which asks the IdP afresh.
 */
async function signedOut(ctx: RequestContext): Promise<void> {
  const rt = ctx.rt;
  const sealed = ctx.query.get('state');
  const p = sealed ? await unseal(sealed, rt.handoffKey, `signed-out:${rt.authOrigin}`, ctx.svc.now()) : undefined;
  const back = returnTarget(rt, typeof p?.redirect === 'string' ? p.redirect : ctx.query.get('pomerium_redirect_uri'));
  if (wantsJson(ctx.req)) { sendJson(ctx.res, 200, { signed_out: true }); return; }
  if (back && p?.switch === true) {
    sendRedirect(ctx.res, signInHref(back), { 'x-request-id': ctx.requestId }, 303);
    return;
  }
  const next = back
    ? renderActions([{ label: 'Sign in again', href: signInHref(back) }])
    : '<p class="muted">To sign in again, open the application you were using.</p>';
  sendHtml(ctx.res, 200, htmlLayout('Signed out', `<h1>You are signed out</h1><p>Your Limen session has ended.</p>${next}`), { 'x-request-id': ctx.requestId });
}

/** `/.pomerium/*` and `/.well-known/pomerium/*` on a route host: Limen's own, never the upstream's, never subject to the route's policy. */
export async function handleRouteHostEndpoints(ctx: RequestContext, route: TableRoute<RouteRuntime> | undefined): Promise<void> {
  const p = ctx.pathname;
  if (p === '/.well-known/pomerium/jwks.json') return jwks(ctx);
  if (p === '/.well-known/pomerium' || p === '/.well-known/pomerium/') {
    const base = requestOrigin(ctx);
    sendJson(ctx.res, 200, {
      issuer: ctx.rt.config.jwtIssuerFormat === 'uri' ? `https://${ctx.host}/` : ctx.host,
      jwks_uri: `${base}/.well-known/pomerium/jwks.json`,
      authentication_callback_endpoint: `${base}/.pomerium/callback/`,
    }, { 'access-control-allow-origin': '*' });
    return;
  }
  if (p === '/.pomerium/callback/' || p === '/.pomerium/callback') return routeCallback(ctx);
  if (p === '/.pomerium/sign_in') return routeSignIn(ctx);
  if (p === '/.pomerium/sign_out') return routeSignOut(ctx);
  if (p === '/.pomerium/api/v1/login') return programmaticLogin(ctx);
  const who = await ctx.identifier.identify(ctx.req, ctx.host, route?.config.namespace ?? 'global');
  if (p === '/.pomerium/user') {
    if (!who.caller) { fail(ctx, 401, 'Not signed in.', { reasons: [who.failure ?? 'user-unauthenticated'] }); return; }
    sendJson(ctx.res, 200, userJson(who.caller));
    return;
  }
  if (p === '/.pomerium' || p === '/.pomerium/' || p.startsWith('/.pomerium/impersonate')) {
    if (!who.caller) return needSignIn(ctx, who.credential === 'bearer' || who.outOfScope !== undefined, who.failure);
    if (ctx.req.method === 'POST') return handleUserPagePost(ctx, who.caller);
    return renderUserPage(ctx, who.caller);
  }
  fail(ctx, 404, 'No such Limen endpoint.', { reasons: ['endpoint-not-found'], banner: impersonationBanner(who.caller, ctx) });
}

function needSignIn(ctx: RequestContext, bearer: boolean, failure: string | undefined): void {
  if (redirectToSignIn(ctx, bearer)) return;
  fail(ctx, 401, 'Sign-in is required.', { reasons: [failure ?? 'user-unauthenticated'] });
}

/**
 * `/.pomerium/sign_in` on a route host: starts a sign-in bound to this
 * browser for a page on this same origin (where the authenticate host
 * bounces a sign-in link that came without a binding).
 */
function routeSignIn(ctx: RequestContext): void {
  const target = allowedRedirect(ctx.rt, ctx.query.get('pomerium_redirect_uri'));
  if (!target || target.origin !== requestOrigin(ctx)) {
    fail(ctx, 400, 'The sign-in request has no valid redirect target on this site.', { reasons: ['redirect-uri-invalid'] });
    return;
  }
  if (!redirectToBoundSignIn(ctx, target)) fail(ctx, 503, 'No authenticate service is configured.', { reasons: ['idp-not-configured'] });
}

/**
 * `/.pomerium/sign_out` on a route host. GET: the confirmation page (or,
 * with no session cookie here, the authenticate host's). POST with the
 * CSRF token (a bearer credential, which no other site can make a browser
 * send, needs none): ends the session, clears the cookie, and carries the
 * ID token, sealed, to the authenticate host, which ends its own session
 * and sends the token to the IdP as `id_token_hint`.
 */
async function routeSignOut(ctx: RequestContext): Promise<void> {
  const rt = ctx.rt;
  const who = await ctx.identifier.identify(ctx.req, ctx.host, 'global');
  // A session whose user the directory now refuses can still be signed out.
  const caller = who.caller ?? who.outOfScope;
  const s = caller?.kind === 'session' ? caller.session : undefined;
  const clear = sessionCookie(ctx, '', 0);
  const home = new URL('/', requestOrigin(ctx));
  const post = ctx.req.method === 'POST';
  if (!post && s && who.credential === 'cookie') {
    signOutConfirmation(ctx, s, allowedRedirect(rt, ctx.query.get('pomerium_redirect_uri')));
    return;
  }
  if (!post || !s) {
    // Nothing confirmed here to end: the authenticate host asks about its own session.
    const headers = { 'x-request-id': ctx.requestId, ...(post ? { 'set-cookie': clear } : {}) };
    if (!rt.authOrigin) { signedOutPage(ctx, headers); return; }
    const confirm = new URL('/.pomerium/sign_out', rt.authOrigin);
    confirm.searchParams.set('pomerium_redirect_uri', (allowedRedirect(rt, ctx.query.get('pomerium_redirect_uri')) ?? home).href);
    sendRedirect(ctx.res, confirm.href, headers, 303);
    return;
  }
  let back = home;
  let switchAccount = false;
  if (who.credential === 'cookie') {
    const form = await signOutForm(ctx);
    if (!form) return;
    if (!csrfMatches(signOutCsrfToken(ctx, s.id), form.get('csrf'))) {
      fail(ctx, 403, 'The sign-out form could not be verified. Reload the page and try again.', { reasons: ['csrf-invalid'] });
      return;
    }
    back = allowedRedirect(rt, form.get('pomerium_redirect_uri')) ?? home;
    switchAccount = form.get(SWITCH_ACCOUNT_FIELD) === '1';
  }
  const idToken = ctx.svc.sessions.tokens(s)?.idToken;
  await endSession(ctx, s);
  if (!rt.authOrigin) { signedOutPage(ctx, { 'set-cookie': clear, 'x-request-id': ctx.requestId }); return; }
  const carried = await seal({ jti: randomUUID(), sid: s.id, redirect: back.href, ...(idToken ? { idt: idToken } : {}), ...(switchAccount ? { switch: true } : {}) }, rt.handoffKey, `sign-out:${rt.authOrigin}`, ctx.svc.now(), SIGN_OUT_TTL_S);
  const target = new URL('/.pomerium/sign_out', rt.authOrigin);
  target.searchParams.set(SIGN_OUT_PARAM, carried);
  sendRedirect(ctx.res, target.href, { 'set-cookie': clear, 'x-request-id': ctx.requestId }, 303);
}

function signedOutPage(ctx: RequestContext, headers: Record<string, string>): void {
  sendHtml(ctx.res, 200, htmlLayout('Signed out', '<h1>You are signed out</h1>'), headers);
}

async function programmaticLogin(ctx: RequestContext): Promise<void> {
  const rt = ctx.rt;
  const target = programmaticRedirectAllowed(ctx, ctx.query.get('pomerium_redirect_uri'));
  if (!target) {
    fail(ctx, 400, 'pomerium_redirect_uri is missing or not in programmatic_redirect_domain_whitelist.', { reasons: ['redirect-uri-invalid'] });
    return;
  }
  if (!rt.authOrigin) { fail(ctx, 503, 'No authenticate service is configured.', { reasons: ['idp-not-configured'] }); return; }
  // The handle will be for this route host only (CONTRACT §4).
  const sealed = await seal({ redirect: target.href, aud_host: ctx.host }, rt.handoffKey, `programmatic:${rt.authHost}`, ctx.svc.now(), CSRF_TTL_S);
  const url = new URL('/.pomerium/sign_in', rt.authOrigin);
  url.searchParams.set('pomerium_programmatic', sealed);
  ctx.res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', 'x-request-id': ctx.requestId });
  ctx.res.end(url.href);
}
