import { randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { seal, unseal, type Caller } from '../authn/index.js';
import { signSessionHandle } from '../identity/index.js';
import { escapeHtml, htmlLayout, cookieValue, sendHtml, sendJson, sendRedirect, serializeCookie, wantsJson } from '../http/index.js';
import type { TableRoute } from '../proxy/index.js';
import type { RouteRuntime } from './runtime.js';
import { fail, impersonationBanner, type RequestContext } from './context.js';
import { handleDashboardPost, renderDashboard, userJson } from './dashboard.js';
import { handleAdminApi } from './admin.js';
import { redirectToSignIn } from './authorize.js';
import { handleScim } from '../accounts/index.js';

const CSRF_TTL_S = 600;
const HANDOFF_TTL_S = 60;
const HANDOFF_TYPE = 'handoff';

function csrfCookieName(ctx: RequestContext): string {
  return `${ctx.rt.config.cookieName}_csrf`;
}

function cookieOptions(ctx: RequestContext, maxAgeS: number | undefined) {
  const c = ctx.rt.config;
  return {
    ...(maxAgeS === undefined ? {} : { maxAgeS }),
    domain: c.cookieDomain,
    secure: ctx.proto === 'https',
    httpOnly: c.cookieHttpOnly,
    sameSite: c.cookieSameSite,
  };
}

/** Authenticate-service endpoints; returns false to let routing continue. */
export async function handleAuthenticateHost(ctx: RequestContext): Promise<boolean> {
  switch (ctx.pathname) {
    case '/.pomerium/sign_in': await signIn(ctx); return true;
    case '/oauth2/callback': await oauthCallback(ctx); return true;
    case '/.pomerium/sign_out': await authenticateSignOut(ctx); return true;
    case '/.pomerium/signed_out': signedOut(ctx); return true;
    case '/.well-known/pomerium/jwks.json': jwks(ctx); return true;
    default:
      // SCIM 2.0 provisioning (Limen), authenticated by its own bearer tokens.
      if (ctx.pathname === '/scim/v2' || ctx.pathname.startsWith('/scim/v2/')) { await handleScim(ctx); return true; }
      if (ctx.pathname.startsWith('/.pomerium/api/v1/') && ctx.pathname !== '/.pomerium/api/v1/login') {
        return handleAdminApi(ctx, ctx.svc.adminEndpoints, ctx.svc.isServiceAccountAdmin);
      }
      return false;
  }
}

/**
 * A redirect target we may send a browser to after sign-in: an absolute
 * http(s) URL whose host is served by a configured route (no open redirects).
 */
export function allowedRedirect(ctx: RequestContext, target: string | null): URL | undefined {
  if (!target || target.length > 4096) return undefined;
  let u: URL;
  try {
    u = new URL(target);
  } catch {
    return undefined;
  }
  if (u.protocol !== 'https:' && u.protocol !== 'http:') return undefined;
  if (u.protocol === 'http:' && !ctx.rt.config.insecureServer) return undefined;
  if (u.username || u.password) return undefined;
  if (!ctx.rt.table.hasHost(u.hostname.toLowerCase())) return undefined;
  return u;
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

async function signIn(ctx: RequestContext): Promise<void> {
  const rt = ctx.rt;
  const now = ctx.svc.now();
  let redirect: URL | undefined;
  let programmatic = false;
  const sealedProgrammatic = ctx.query.get('pomerium_programmatic');
  if (sealedProgrammatic) {
    const p = await unseal(sealedProgrammatic, rt.handoffKey, `programmatic:${rt.authHost}`, now);
    redirect = p && typeof p.redirect === 'string' ? programmaticRedirectAllowed(ctx, p.redirect) : undefined;
    programmatic = true;
  } else {
    redirect = allowedRedirect(ctx, ctx.query.get('pomerium_redirect_uri'));
  }
  if (!redirect) {
    fail(ctx, 400, 'The sign-in request has no valid redirect target.', { reasons: ['redirect-uri-invalid'] });
    return;
  }
  // Already signed in at the authenticate host: hand the session straight over.
  if (!programmatic) {
    const existing = cookieValue(ctx.req.headers.cookie, rt.config.cookieName);
    if (existing) {
      const r = await ctx.identifier.fromToken(existing, ctx.host, 'global');
      if (r.caller?.kind === 'session' && r.caller.session) {
        await handOff(ctx, r.caller.session.id, r.caller.session.userId, redirect);
        return;
      }
    }
  }
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
  const csrf = await seal({ state, nonce, cv: codeVerifier, redirect: redirect.href, programmatic }, rt.csrfKey, `csrf:${rt.authHost}`, now, CSRF_TTL_S);
  sendRedirect(ctx.res, authUrl, {
    'set-cookie': serializeCookie(csrfCookieName(ctx), csrf, { ...cookieOptions(ctx, CSRF_TTL_S), httpOnly: true, sameSite: 'lax', domain: undefined }),
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
  const clearCsrf = serializeCookie(csrfCookieName(ctx), '', { ...cookieOptions(ctx, 0), domain: undefined });
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
  const session = await ctx.svc.sessions.create(tokens, rt.config.cookieExpireMs, csrf.programmatic === true ? 'programmatic' : 'session');
  ctx.svc.audit.emit({ kind: 'sign_in', requestId: ctx.requestId, userId: session.userId, email: session.email, details: { session_id: session.id } });
  ctx.svc.onSignIn?.(session);
  const redirect = new URL(String(csrf.redirect));
  if (csrf.programmatic === true) {
    const handle = await signSessionHandle({ sid: session.id, sub: session.userId, iss: rt.authHost ?? '', aud: redirect.hostname, expiresAt: session.expiresAt }, rt.config.sharedSecret, now);
    redirect.searchParams.set('pomerium_jwt', handle);
    sendRedirect(ctx.res, redirect.href, { 'set-cookie': clearCsrf, 'x-request-id': ctx.requestId });
    return;
  }
  const handle = await signSessionHandle({ sid: session.id, sub: session.userId, iss: rt.authHost ?? '', aud: rt.authHost ?? '' }, rt.config.sharedSecret, now);
  const authCookie = serializeCookie(rt.config.cookieName, handle, cookieOptions(ctx, Math.floor(rt.config.cookieExpireMs / 1000)));
  await handOff(ctx, session.id, session.userId, redirect, [clearCsrf, authCookie]);
}

/** Sends the browser to the route host with a sealed, single-use, one-minute hand-off. */
async function handOff(ctx: RequestContext, sid: string, sub: string, redirect: URL, cookies: string[] = []): Promise<void> {
  const rt = ctx.rt;
  const value = await seal({ sid, sub, redirect: redirect.href, jti: randomUUID() }, rt.handoffKey, `handoff:${redirect.hostname.toLowerCase()}`, ctx.svc.now(), HANDOFF_TTL_S);
  const target = new URL('/.pomerium/callback/', redirect.origin);
  target.searchParams.set('pomerium_handoff', value);
  sendRedirect(ctx.res, target.href, { ...(cookies.length > 0 ? { 'set-cookie': cookies } : {}), 'x-request-id': ctx.requestId });
}

async function routeCallback(ctx: RequestContext): Promise<void> {
  const rt = ctx.rt;
  const now = ctx.svc.now();
  const value = ctx.query.get('pomerium_handoff');
  const p = value ? await unseal(value, rt.handoffKey, `handoff:${ctx.host}`, now) : undefined;
  if (!p || typeof p.jti !== 'string' || typeof p.sid !== 'string' || typeof p.sub !== 'string' || typeof p.redirect !== 'string') {
    fail(ctx, 400, 'The sign-in hand-off is invalid or has expired. Start again from the page you wanted.', { reasons: ['handoff-invalid'] });
    return;
  }
  let redirect: URL;
  try { redirect = new URL(p.redirect); } catch { redirect = new URL('/', `${ctx.proto}://${ctx.hostHeader}`); }
  if (redirect.hostname.toLowerCase() !== ctx.host) {
    fail(ctx, 400, 'The sign-in hand-off is for another host.', { reasons: ['handoff-invalid'] });
    return;
  }
  if (await ctx.svc.store.get(HANDOFF_TYPE, p.jti, now)) {
    fail(ctx, 400, 'This sign-in link was already used. Start again from the page you wanted.', { reasons: ['handoff-replayed'] });
    return;
  }
  await ctx.svc.store.put(HANDOFF_TYPE, p.jti, { used: true }, { expiresAt: now + 2 * HANDOFF_TTL_S * 1000 }, now);
  const handle = await signSessionHandle({ sid: p.sid, sub: p.sub, iss: rt.authHost ?? ctx.host, aud: ctx.host }, rt.config.sharedSecret, now);
  sendRedirect(ctx.res, redirect.href, {
    'set-cookie': serializeCookie(rt.config.cookieName, handle, cookieOptions(ctx, Math.floor(rt.config.cookieExpireMs / 1000))),
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

async function authenticateSignOut(ctx: RequestContext): Promise<void> {
  const rt = ctx.rt;
  const cookie = cookieValue(ctx.req.headers.cookie, rt.config.cookieName);
  let idToken: string | undefined;
  if (cookie) {
    const r = await ctx.identifier.fromToken(cookie, ctx.host, 'global');
    const s = r.caller?.session;
    if (s) {
      idToken = ctx.svc.sessions.tokens(s)?.idToken;
      await ctx.svc.sessions.delete(s.id);
      ctx.svc.audit.emit({ kind: 'sign_out', requestId: ctx.requestId, userId: s.userId, email: s.email, details: { session_id: s.id } });
      if (s.impersonation) ctx.svc.audit.emit({ kind: 'impersonate_stop', requestId: ctx.requestId, userId: s.impersonation.user, email: s.impersonation.email, actor: s.email || s.userId, details: { session_id: s.id, reason: 'signed-out' } });
    }
  }
  const clear = serializeCookie(rt.config.cookieName, '', cookieOptions(ctx, 0));
  const signedOutUrl = new URL('/.pomerium/signed_out', rt.authOrigin ?? `${ctx.proto}://${ctx.hostHeader}`);
  const back = allowedRedirect(ctx, ctx.query.get('pomerium_redirect_uri'));
  if (back) signedOutUrl.searchParams.set('pomerium_redirect_uri', back.href);
  const idp = rt.oidc ? await rt.oidc.endSessionUrl(idToken, new URL('/.pomerium/signed_out', rt.authOrigin).href) : undefined;
  sendRedirect(ctx.res, idp ?? signedOutUrl.href, { 'set-cookie': clear, 'x-request-id': ctx.requestId });
}

function signedOut(ctx: RequestContext): void {
  const back = allowedRedirect(ctx, ctx.query.get('pomerium_redirect_uri'));
  if (wantsJson(ctx.req)) { sendJson(ctx.res, 200, { signed_out: true }); return; }
  sendHtml(ctx.res, 200, htmlLayout('Signed out', `<h1>You are signed out</h1><p>Your Limen session has ended.</p>${back ? `<p><a href="${escapeHtml(back.href)}">Sign in again</a></p>` : ''}`));
}

/** `/.pomerium/*` and `/.well-known/pomerium/*` on a route host: Limen's own, never the upstream's, never subject to the route's policy. */
export async function handleRouteHostEndpoints(ctx: RequestContext, route: TableRoute<RouteRuntime> | undefined): Promise<void> {
  const p = ctx.pathname;
  if (p === '/.well-known/pomerium/jwks.json') return jwks(ctx);
  if (p === '/.well-known/pomerium' || p === '/.well-known/pomerium/') {
    const base = `${ctx.proto}://${ctx.hostHeader}`;
    sendJson(ctx.res, 200, {
      issuer: ctx.rt.config.jwtIssuerFormat === 'uri' ? `https://${ctx.host}/` : ctx.host,
      jwks_uri: `${base}/.well-known/pomerium/jwks.json`,
      authentication_callback_endpoint: `${base}/.pomerium/callback/`,
    }, { 'access-control-allow-origin': '*' });
    return;
  }
  if (p === '/.pomerium/callback/' || p === '/.pomerium/callback') return routeCallback(ctx);
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
    if (ctx.req.method === 'POST') return handleDashboardPost(ctx, who.caller);
    return renderDashboard(ctx, who.caller);
  }
  fail(ctx, 404, 'No such Limen endpoint.', { reasons: ['endpoint-not-found'], banner: impersonationBanner(who.caller, ctx) });
}

function needSignIn(ctx: RequestContext, bearer: boolean, failure: string | undefined): void {
  if (redirectToSignIn(ctx, bearer)) return;
  fail(ctx, 401, 'Sign-in is required.', { reasons: [failure ?? 'user-unauthenticated'] });
}

async function routeSignOut(ctx: RequestContext): Promise<void> {
  const rt = ctx.rt;
  const who = await ctx.identifier.identify(ctx.req, ctx.host, 'global');
  const s: Caller['session'] = who.caller?.session;
  if (s) {
    await ctx.svc.sessions.delete(s.id);
    ctx.svc.audit.emit({ kind: 'sign_out', requestId: ctx.requestId, userId: s.userId, email: s.email, details: { session_id: s.id } });
    if (s.impersonation) ctx.svc.audit.emit({ kind: 'impersonate_stop', requestId: ctx.requestId, userId: s.impersonation.user, email: s.impersonation.email, actor: s.email || s.userId, details: { session_id: s.id, reason: 'signed-out' } });
  }
  const clear = serializeCookie(rt.config.cookieName, '', cookieOptions(ctx, 0));
  if (!rt.authOrigin) { signedOutPage(ctx, clear); return; }
  const target = new URL('/.pomerium/sign_out', rt.authOrigin);
  const back = allowedRedirect(ctx, ctx.query.get('pomerium_redirect_uri')) ?? new URL('/', `${ctx.proto}://${ctx.hostHeader}`);
  target.searchParams.set('pomerium_redirect_uri', back.href);
  sendRedirect(ctx.res, target.href, { 'set-cookie': clear, 'x-request-id': ctx.requestId });
}

function signedOutPage(ctx: RequestContext, clear: string): void {
  sendHtml(ctx.res, 200, htmlLayout('Signed out', '<h1>You are signed out</h1>'), { 'set-cookie': clear });
}

async function programmaticLogin(ctx: RequestContext): Promise<void> {
  const rt = ctx.rt;
  const target = programmaticRedirectAllowed(ctx, ctx.query.get('pomerium_redirect_uri'));
  if (!target) {
    fail(ctx, 400, 'pomerium_redirect_uri is missing or not in programmatic_redirect_domain_whitelist.', { reasons: ['redirect-uri-invalid'] });
    return;
  }
  if (!rt.authOrigin) { fail(ctx, 503, 'No authenticate service is configured.', { reasons: ['idp-not-configured'] }); return; }
  const sealed = await seal({ redirect: target.href }, rt.handoffKey, `programmatic:${rt.authHost}`, ctx.svc.now(), CSRF_TTL_S);
  const url = new URL('/.pomerium/sign_in', rt.authOrigin);
  url.searchParams.set('pomerium_programmatic', sealed);
  ctx.res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', 'x-request-id': ctx.requestId });
  ctx.res.end(url.href);
}
