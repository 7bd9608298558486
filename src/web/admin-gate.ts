/**
 * The admin gate every admin API request passes, in this order: identify
 * (401 without a credential, 403 for a refused one); only a signed-in
 * administrator (`administrators`, never while impersonating) or a service
 * account holding the `admin` role passes; then a state-changing request
 * authenticated by the session cookie must pass the CSRF checks (csrf.ts:
 * same origin as the authenticate service, and the session's token in
 * `X-CSRF-Token`), bearer tokens being exempt. Refusals are audit events
 * (`admin_denied`).
 */
import { sendJson } from '../http/index.js';
import { isAdminCaller } from './admins.js';
import { fail, impersonationBanner, sessionCsrfToken, siteOrigin, type RequestContext } from './context.js';
import { CSRF_FORM_FIELD, CSRF_MESSAGES, checkCsrf, csrfHeaderToken, isStateChanging } from './csrf.js';
import { adminEndpoints, type AdminEndpoint } from './admin-api/index.js';

function matchPath(pattern: string, path: string): Record<string, string> | undefined {
  const p = pattern.split('/');
  const a = path.replace(/\/$/, '').split('/');
  if (p.length !== a.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < p.length; i++) {
    const seg = p[i]!;
    const got = a[i]!;
    if (seg.startsWith(':')) {
      try { params[seg.slice(1)] = decodeURIComponent(got); } catch { return undefined; }
      if (!params[seg.slice(1)]) return undefined;
    } else if (seg !== got) return undefined;
  }
  return params;
}

/** `GET /.pomerium/api/v1/csrf`: the caller's CSRF token for cookie-authenticated changes (csrf.ts). */
const CSRF_ENDPOINT: AdminEndpoint = {
  method: 'GET',
  path: '/.pomerium/api/v1/csrf',
  async handle(ctx, admin) {
    if (!admin.session) {
      fail(ctx, 400, 'Bearer-token requests need no CSRF token.', { reasons: ['not-a-session'] });
      return;
    }
    sendJson(ctx.res, 200, { csrf_token: sessionCsrfToken(ctx, admin.session.id), header: 'X-CSRF-Token', form_field: CSRF_FORM_FIELD }, {
      'cache-control': 'no-store', 'x-request-id': ctx.requestId,
    });
  },
};

/** Every endpoint the admin API router serves, in match order: the CSRF token, then `endpoints`. */
export function adminApiRoutes(endpoints: readonly AdminEndpoint[]): readonly AdminEndpoint[] {
  return [CSRF_ENDPOINT, ...endpoints];
}

/**
 * Serves the admin API through the gate (see above). Returns false when no
 * endpoint matches the path.
 */
export async function handleAdminApi(ctx: RequestContext): Promise<boolean> {
  let methodMismatch = false;
  for (const e of adminApiRoutes(adminEndpoints(ctx.svc))) {
    const params = matchPath(e.path, ctx.pathname);
    if (!params) continue;
    if (e.method !== ctx.req.method) { methodMismatch = true; continue; }
    const who = await ctx.identifier.identify(ctx.req, ctx.host, 'global');
    if (!who.caller) {
      if (who.outOfScope) {
        // A known credential the directory refuses (a deactivated user): say so, never ask to sign in again.
        ctx.svc.audit.emit({ kind: 'admin_denied', requestId: ctx.requestId, userId: who.outOfScope.policy.user, email: who.outOfScope.policy.email, details: { method: ctx.req.method, path: ctx.pathname, reason: who.failure } });
        fail(ctx, 403, 'This credential is no longer accepted.', { reasons: [who.failure ?? 'credential-refused'] });
        return true;
      }
      fail(ctx, 401, 'The admin API needs a signed-in administrator or an admin service account.', { reasons: [who.failure ?? 'user-unauthenticated'] });
      return true;
    }
    const c = who.caller;
    if (!isAdminCaller(ctx.rt.config.administrators, c)) {
      ctx.svc.audit.emit({ kind: 'admin_denied', requestId: ctx.requestId, userId: c.policy.user, email: c.policy.email, details: { method: ctx.req.method, path: ctx.pathname, reason: 'not-administrator' } });
      fail(ctx, 403, c.kind === 'session' ? 'Only administrators may use the admin API.' : 'Only service accounts with the admin role may use the admin API.', {
        reasons: ['not-administrator'], banner: impersonationBanner(c, ctx),
      });
      return true;
    }
    if (who.credential === 'cookie' && isStateChanging(ctx.req.method)) {
      const refused = checkCsrf(ctx.req.headers, { key: ctx.rt.csrfKey, origin: siteOrigin(ctx), sessionId: c.session?.id, token: csrfHeaderToken(ctx.req.headers) });
      if (refused) {
        ctx.svc.audit.emit({
          kind: 'admin_denied', requestId: ctx.requestId, userId: c.policy.user, email: c.policy.email,
          details: { method: ctx.req.method, path: ctx.pathname, reason: refused, origin: String(ctx.req.headers.origin ?? '').slice(0, 200), ip: ctx.ip },
        });
        fail(ctx, 403, CSRF_MESSAGES[refused], { reasons: [refused], banner: impersonationBanner(c, ctx) });
        return true;
      }
    }
    await e.handle(ctx, c, params);
    return true;
  }
  if (methodMismatch) {
    fail(ctx, 405, 'Method not allowed on this endpoint.', { reasons: ['method-not-allowed'] });
    return true;
  }
  return false;
}
