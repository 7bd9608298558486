/**
 * Limen's own endpoints, by host: on the authenticate host sign-in, the
 * OIDC callback, sign-out (src/authn), JWKS, SCIM and the admin API
 * (src/web); on a route host `/.pomerium/*` and `/.well-known/pomerium/*`
 * (the hand-off, sign-in and sign-out of src/authn, the user page of
 * src/web). Only dispatch and JWKS are written here, and the request id
 * every one of these responses carries (stampRequestId).
 */
import {
  authenticateSignIn, authenticateSignOut, oauthCallback, programmaticLogin, routeCallback, routeSignIn, routeSignOut, signedOut,
} from '../authn/index.js';
import { sendJson } from '../http/index.js';
import type { TableRoute } from '../proxy/index.js';
import {
  fail, handleAdminApi, handleScim, handleUserPagePost, impersonationBanner, renderUserPage, requestOrigin, userJson,
  type RequestContext, type RouteRuntime,
} from '../web/index.js';
import { redirectToSignIn } from './respond-decision.js';
import { signInContext } from './sign-in-context.js';
import { isConsolePath } from '../decision/index.js';
import { handleConsole } from '../web/console/index.js';


/**
 * Stamps the response with the request id before any of Limen's own
 * endpoints writes it: CONTRACT §8, every response's `x-request-id` is the
 * `request-id` of its access line. Set here once, on the response, so no
 * handler (sendJson, sendHtml, a hand-written writeHead, in src/authn or
 * src/web) has to remember it; the 200s of the user page, `/.pomerium/user`
 * and the admin API had none. Errors (sendError) and proxied responses
 * (buildResponseHeaders) set it themselves, to the same value.
 */
function stampRequestId(ctx: RequestContext): void {
  ctx.res.setHeader('x-request-id', ctx.requestId);
}

/** Authenticate-service endpoints; returns false to let routing continue. */
export async function handleAuthenticateHost(ctx: RequestContext): Promise<boolean> {
  stampRequestId(ctx);
  switch (ctx.pathname) {
    case '/.pomerium/sign_in': await authenticateSignIn(signInContext(ctx)); return true;
    case '/oauth2/callback': await oauthCallback(signInContext(ctx)); return true;
    case '/.pomerium/sign_out': await authenticateSignOut(signInContext(ctx)); return true;
    case '/.pomerium/signed_out': await signedOut(signInContext(ctx)); return true;
    case '/.well-known/pomerium/jwks.json': jwks(ctx); return true;
    default:
      // SCIM 2.0 provisioning (Limen), authenticated by its own bearer tokens.
      if (ctx.pathname === '/scim/v2' || ctx.pathname.startsWith('/scim/v2/')) { await handleScim(ctx); return true; }
      // The admin console (src/web/console), for administrators only.
      if (isConsolePath(ctx.pathname)) { await handleConsole(ctx); return true; }
      if (ctx.pathname.startsWith('/.pomerium/api/v1/') && ctx.pathname !== '/.pomerium/api/v1/login') {
        return handleAdminApi(ctx);
      }
      return false;
  }
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

/** `/.pomerium/*` and `/.well-known/pomerium/*` on a route host: Limen's own, never the upstream's, never subject to the route's policy. */
export async function handleRouteHostEndpoints(ctx: RequestContext, route: TableRoute<RouteRuntime> | undefined): Promise<void> {
  stampRequestId(ctx);
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
  if (p === '/.pomerium/callback/' || p === '/.pomerium/callback') return routeCallback(signInContext(ctx));
  if (p === '/.pomerium/sign_in') return routeSignIn(signInContext(ctx));
  if (p === '/.pomerium/sign_out') return routeSignOut(signInContext(ctx));
  if (p === '/.pomerium/api/v1/login') return programmaticLogin(signInContext(ctx));
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

