/**
 * Signing out (CONTRACT §4): a GET only ever shows a confirmation; a POST
 * with the session's sign-out CSRF token ends the session. A route host
 * carries the ID token, sealed and single-use, to the authenticate host,
 * which ends its own session and sends the browser to the IdP's
 * end-session endpoint with `id_token_hint`, then to the signed-out page.
 */
import { randomUUID } from 'node:crypto';
import { handleAudienceAccepts, verifySharedSecretToken } from '../identity/index.js';
import { cookieValues, escapeHtml, htmlLayout, readUrlEncodedForm, renderActions, sendHtml, sendJson, sendRedirect, wantsJson } from '../http/index.js';
import { seal, unseal } from './seal.js';
import type { SessionData } from './sessions.js';
import { cookieSession, sameSecret, sessionCookie, signInHref, signOutCsrfToken, SWITCH_ACCOUNT_FIELD, type SignInContext } from './flow.js';

/** A confirmed sign-out on a route host, carried to the authenticate host. */
const SIGN_OUT_TTL_S = 60;
const SIGN_OUT_TYPE = 'sign_out';
const SIGN_OUT_PARAM = 'limen_sign_out';
/** Where to go after signing out, sealed into the end-session `state` the IdP hands back to the signed-out page. */
const SIGNED_OUT_TTL_S = 600;
const MAX_FORM_BYTES = 16 * 1024;

/** Deletes a session and records it (and the end of any impersonation). */
async function endSession(ctx: SignInContext, s: SessionData): Promise<void> {
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
function signOutConfirmation(ctx: SignInContext, s: SessionData | undefined, back: URL | undefined): void {
  const fields = [
    ...(s ? [['csrf', signOutCsrfToken(ctx.site.csrfKey, s.id)]] : []),
    ...(back ? [['pomerium_redirect_uri', back.href]] : []),
    ...(ctx.query.get(SWITCH_ACCOUNT_FIELD) === '1' ? [[SWITCH_ACCOUNT_FIELD, '1']] : []),
  ].map(([k, v]) => `<input type="hidden" name="${k}" value="${escapeHtml(v!)}">`).join('');
  const who = s ? `<p>You are signed in as <strong>${escapeHtml(s.email || s.userId)}</strong>.</p>` : '<p>You are not signed in here; signing out also ends your session at the identity provider.</p>';
  sendHtml(ctx.res, 200, htmlLayout('Sign out', `<h1>Sign out?</h1>${who}<form method="post" action="/.pomerium/sign_out" id="sign-out">${fields}<button type="submit">Sign out</button></form>${back ? `<p><a href="${escapeHtml(back.href)}">Cancel</a></p>` : ''}`), { 'x-request-id': ctx.requestId });
}

/** Reads the sign-out form; answers 400 and returns undefined when it is not one. */
async function signOutForm(ctx: SignInContext): Promise<URLSearchParams | undefined> {
  const form = await readUrlEncodedForm(ctx.req, MAX_FORM_BYTES);
  if (!form) ctx.fail(400, 'Expected the sign-out form.', { reasons: ['form-invalid'] });
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
export async function authenticateSignOut(ctx: SignInContext): Promise<void> {
  const rt = ctx.site;
  const now = ctx.svc.now();
  const s = await cookieSession(ctx, true);
  const carried = ctx.query.get(SIGN_OUT_PARAM);
  if (carried !== null && ctx.req.method !== 'POST') {
    const p = await unseal(carried, rt.handoffKey, `sign-out:${rt.authOrigin}`, now);
    if (!p || typeof p.jti !== 'string') {
      ctx.fail(400, 'The sign-out link is invalid or has expired. Sign out again.', { reasons: ['sign-out-invalid'] });
      return;
    }
    if (await ctx.svc.store.get(SIGN_OUT_TYPE, p.jti, now)) {
      ctx.fail(400, 'This sign-out link was already used.', { reasons: ['sign-out-replayed'] });
      return;
    }
    const back = ctx.allowedRedirect(typeof p.redirect === 'string' ? p.redirect : undefined);
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
    signOutConfirmation(ctx, s, ctx.returnTarget(ctx.query.get('pomerium_redirect_uri')));
    return;
  }
  const form = await signOutForm(ctx);
  if (!form) return;
  if (s && !csrfMatches(signOutCsrfToken(ctx.site.csrfKey, s.id), form.get('csrf'))) {
    ctx.fail(403, 'The sign-out form could not be verified. Reload the page and try again.', { reasons: ['csrf-invalid'] });
    return;
  }
  const idToken = s ? ctx.svc.sessions.tokens(s)?.idToken : undefined;
  if (s) await endSession(ctx, s);
  await finishSignOut(ctx, idToken, ctx.returnTarget(form.get('pomerium_redirect_uri')), form.get(SWITCH_ACCOUNT_FIELD) === '1');
}

/**
 * The session id named by the authenticate host's own cookie in this
 * request, verified (signature, expiry, audience) but whether or not the
 * session still exists: a route host's sign-out has already ended it.
 */
async function authCookieSessionId(ctx: SignInContext): Promise<string | undefined> {
  const rt = ctx.site;
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
async function finishSignOut(ctx: SignInContext, idToken: string | undefined, back: URL | undefined, switchAccount = false): Promise<void> {
  const rt = ctx.site;
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
export async function signedOut(ctx: SignInContext): Promise<void> {
  const rt = ctx.site;
  const sealed = ctx.query.get('state');
  const p = sealed ? await unseal(sealed, rt.handoffKey, `signed-out:${rt.authOrigin}`, ctx.svc.now()) : undefined;
  const back = ctx.returnTarget(typeof p?.redirect === 'string' ? p.redirect : ctx.query.get('pomerium_redirect_uri'));
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

/**
 * `/.pomerium/sign_out` on a route host. GET: the confirmation page (or,
 * with no session cookie here, the authenticate host's). POST with the
 * CSRF token (a bearer credential, which no other site can make a browser
 * send, needs none): ends the session, clears the cookie, and carries the
 * ID token, sealed, to the authenticate host, which ends its own session
 * and sends the token to the IdP as `id_token_hint`.
 */
export async function routeSignOut(ctx: SignInContext): Promise<void> {
  const rt = ctx.site;
  const who = await ctx.identify();
  // A session whose user the directory now refuses can still be signed out.
  const caller = who.caller ?? who.outOfScope;
  const s = caller?.kind === 'session' ? caller.session : undefined;
  const clear = sessionCookie(ctx, '', 0);
  const home = new URL('/', ctx.origin);
  const post = ctx.req.method === 'POST';
  if (!post && s && who.credential === 'cookie') {
    signOutConfirmation(ctx, s, ctx.allowedRedirect(ctx.query.get('pomerium_redirect_uri')));
    return;
  }
  if (!post || !s) {
    // Nothing confirmed here to end: the authenticate host asks about its own session.
    const headers = { 'x-request-id': ctx.requestId, ...(post ? { 'set-cookie': clear } : {}) };
    if (!rt.authOrigin) { signedOutPage(ctx, headers); return; }
    const confirm = new URL('/.pomerium/sign_out', rt.authOrigin);
    confirm.searchParams.set('pomerium_redirect_uri', (ctx.allowedRedirect(ctx.query.get('pomerium_redirect_uri')) ?? home).href);
    sendRedirect(ctx.res, confirm.href, headers, 303);
    return;
  }
  let back = home;
  let switchAccount = false;
  if (who.credential === 'cookie') {
    const form = await signOutForm(ctx);
    if (!form) return;
    if (!csrfMatches(signOutCsrfToken(ctx.site.csrfKey, s.id), form.get('csrf'))) {
      ctx.fail(403, 'The sign-out form could not be verified. Reload the page and try again.', { reasons: ['csrf-invalid'] });
      return;
    }
    back = ctx.allowedRedirect(form.get('pomerium_redirect_uri')) ?? home;
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

function signedOutPage(ctx: SignInContext, headers: Record<string, string>): void {
  sendHtml(ctx.res, 200, htmlLayout('Signed out', '<h1>You are signed out</h1>'), headers);
}

