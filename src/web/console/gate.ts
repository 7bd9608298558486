/**
 * Who may use the console, and how a request gets to its handler. In order:
 *  1. the route table (`routes.ts`) names the path and method; the script
 *     is public, it holds nothing (an unknown path or method is a 404 or
 *     405, told only to an administrator, after step 3);
 *  2. identify the caller by the authenticate host's own session cookie
 *     (or handle); none: a browser goes to sign-in and comes back, any
 *     other client gets 401;
 *  3. only an administrator (`administrators`, never while impersonating,
 *     accounts/administrators.ts `isAdministrator`) passes; others get Limen's
 *     403 page offering to sign out or sign in as someone else (JSON for
 *     JSON clients), and the refusal is audited;
 *  4. a change (POST) must come from the console's own origin with the
 *     session's CSRF token in the form (web/csrf.ts), or it is refused
 *     with 403 and the reason, and audited;
 *  5. the handler, with the administrator as the actor of every change.
 */
import type { Caller, SessionData } from '../../authn/index.js';
import { prefersHtml, readUrlEncodedForm, sendRedirect } from '../../http/index.js';
import { isAdministrator } from '../../accounts/index.js';
import { fail, type RequestContext } from '../context.js';
import { CSRF_FORM_FIELD, CSRF_MESSAGES, checkCsrfToken, checkRequestOrigin, csrfToken } from '../csrf.js';
import { signOutActions } from '../user/actions.js';
import { CONSOLE_BASE } from './layout.js';
import type { Actor, ConsoleServices } from './operations.js';
import { actorName, type Actor as OperationActor } from '../../operations/index.js';

/** The largest form the console accepts (16 KiB: the longest is the explain form). */
const MAX_FORM_BYTES = 16 * 1024;

/** What a console handler is given. */
export interface ConsoleCall {
  readonly ctx: RequestContext;
  readonly svc: ConsoleServices;
  readonly caller: Caller;
  /** The administrator's session (the console is for signed-in people). */
  readonly session: SessionData | undefined;
  readonly params: Readonly<Record<string, string>>;
  /** The posted form (empty for a GET). */
  readonly form: URLSearchParams;
  /** This session's CSRF token for the console's forms. */
  readonly csrf: string;
  /** Who is acting, for the audit trail. */
  readonly actor: Actor;
}

/** One console endpoint. */
export interface ConsoleRoute {
  readonly method: 'GET' | 'POST';
  /** A path under `/.pomerium/admin`, with `:name` segments. */
  readonly path: string;
  /**
   * `page`: read-only HTML; `change`: a CSRF-checked form POST; `events`:
   * server-sent events; `asset`: a public static file.
   */
  readonly kind: 'page' | 'change' | 'events' | 'asset';
  /**
   * Who passes the gate: administrators (the default), or also a session
   * that is impersonating (only to stop it; the administrator is then
   * not an administrator while it lasts).
   */
  readonly audience?: 'administrator' | 'impersonating';
  handle(call: ConsoleCall): Promise<void>;
}

/** `pattern`'s parameters in `path`, or undefined when it does not match. */
export function matchRoute(pattern: string, path: string): Record<string, string> | undefined {
  const p = pattern.split('/');
  const a = path.split('/');
  if (p.length !== a.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < p.length; i++) {
    const seg = p[i]!;
    const got = a[i]!;
    if (seg.startsWith(':')) {
      let value: string;
      try { value = decodeURIComponent(got); } catch { return undefined; }
      if (value === '' || value.length > 1024) return undefined;
      params[seg.slice(1)] = value;
    } else if (seg !== got) return undefined;
  }
  return params;
}

/** The administrator as the actor of a change: their real identity (the session's), never an impersonated one. */
function adminActor(c: Caller): OperationActor {
  const real = c.session;
  return { kind: 'administrator', user: real ? real.userId : c.policy.user, email: real ? real.email : c.policy.email };
}

/** The console URL this request asked for, on the authenticate service's origin. */
function consoleUrl(ctx: RequestContext, path?: string): URL {
  return new URL(path ?? ctx.req.url ?? `${CONSOLE_BASE}/`, ctx.rt.authOrigin);
}

/** Sends a browser to sign in and back to `returnTo` on the console (a GET). */
function redirectToSignIn(ctx: RequestContext, returnTo: URL): void {
  const signIn = new URL('/.pomerium/sign_in', ctx.rt.authOrigin);
  signIn.searchParams.set('pomerium_redirect_uri', returnTo.href);
  sendRedirect(ctx.res, signIn.href, { 'x-request-id': ctx.requestId });
}

/** Serves one console request through the gate; the caller has matched the authenticate host and the console's path. */
export async function serveConsole(ctx: RequestContext, routes: readonly ConsoleRoute[], svc: ConsoleServices): Promise<void> {
  const path = ctx.pathname === CONSOLE_BASE ? `${CONSOLE_BASE}/` : ctx.pathname;
  let route: ConsoleRoute | undefined;
  let params: Record<string, string> | undefined;
  let otherMethod = false;
  for (const r of routes) {
    const p = matchRoute(r.path, path);
    if (!p) continue;
    if (r.method !== ctx.req.method && !(r.method === 'GET' && ctx.req.method === 'HEAD')) { otherMethod = true; continue; }
    route = r;
    params = p;
    break;
  }
  if (route?.kind === 'asset') {
    await route.handle({ ctx, svc, caller: undefined as unknown as Caller, session: undefined, params: params!, form: new URLSearchParams(), csrf: '', actor: { name: '', admin: { kind: 'cli', osUser: '' }, requestId: ctx.requestId, ip: ctx.ip } });
    return;
  }
  const who = await ctx.identifier.identify(ctx.req, ctx.host, 'global');
  const c = who.caller;
  if (!c) {
    if (who.outOfScope) {
      svc.audit.emit({ kind: 'admin_denied', requestId: ctx.requestId, userId: who.outOfScope.policy.user, email: who.outOfScope.policy.email, details: { via: 'console', method: ctx.req.method, path: ctx.pathname, reason: who.failure, ip: ctx.ip } });
      fail(ctx, 403, 'This credential is no longer accepted.', { reasons: [who.failure ?? 'credential-refused'] });
      return;
    }
    // A browser signs in and comes back (to the page, or for a change to the console's start).
    if (who.credential !== 'bearer' && prefersHtml(ctx.req.headers.accept) && ctx.rt.authOrigin) {
      redirectToSignIn(ctx, consoleUrl(ctx, route?.kind === 'change' || !route ? `${CONSOLE_BASE}/` : undefined));
      return;
    }
    fail(ctx, 401, 'The console needs a signed-in administrator.', { reasons: [who.failure ?? 'user-unauthenticated'] }, { 'www-authenticate': 'Pomerium realm="limen"' });
    return;
  }
  const session = c.kind === 'session' ? c.session : undefined;
  const csrf = session ? csrfToken(ctx.rt.csrfKey, session.id, ctx.rt.authOrigin ?? '') : '';
  const admin = isAdministrator(ctx.rt.config.administrators, c);
  const mayStop = route?.audience === 'impersonating' && c.impersonator !== undefined && session !== undefined;
  if (!admin && !mayStop) {
    svc.audit.emit({
      kind: 'admin_denied', requestId: ctx.requestId, userId: c.policy.user, email: c.policy.email, actor: c.impersonator?.email || c.impersonator?.sub,
      details: { via: 'console', method: ctx.req.method, path: ctx.pathname, reason: c.impersonator ? 'impersonating' : 'not-administrator', ip: ctx.ip },
    });
    const back = consoleUrl(ctx, route?.method === 'GET' ? undefined : `${CONSOLE_BASE}/`);
    fail(ctx, 403, c.impersonator
      ? 'You are impersonating another user, so the console is closed to you until you stop.'
      : 'Only administrators may use the console.', {
      reasons: [c.impersonator ? 'impersonating' : 'not-administrator'],
      details: { user: c.policy.user, email: c.policy.email, ...(c.impersonator ? { impersonated_by: c.impersonator.email || c.impersonator.sub } : {}) },
      ...(c.impersonator && session ? {
        banner: {
          text: `Impersonating ${c.policy.email || c.policy.user} (you are ${c.impersonator.email || c.impersonator.sub}).`,
          button: { label: 'Stop impersonating', action: `${CONSOLE_BASE}/stop-impersonating`, fields: { [CSRF_FORM_FIELD]: csrf }, id: 'stop-impersonating' },
        },
      } : {}),
      actions: session && who.credential === 'cookie' ? signOutActions(ctx, session.id, back) : [],
    });
    return;
  }
  if (!route) {
    if (otherMethod) fail(ctx, 405, 'Method not allowed on this console address.', { reasons: ['method-not-allowed'] });
    else fail(ctx, 404, 'There is no console page at this address.', { reasons: ['endpoint-not-found'] });
    return;
  }
  let form = new URLSearchParams();
  if (route.kind === 'change') {
    const origin = ctx.rt.authOrigin ?? '';
    const refused = checkRequestOrigin(ctx.req.headers, origin)
      ?? await (async () => {
        form = await readUrlEncodedForm(ctx.req, MAX_FORM_BYTES) ?? new URLSearchParams();
        return checkCsrfToken(ctx.rt.csrfKey, session?.id, origin, form.get(CSRF_FORM_FIELD) ?? undefined);
      })();
    if (refused) {
      svc.audit.emit({
        kind: 'admin_denied', requestId: ctx.requestId, userId: c.policy.user, email: c.policy.email,
        details: { via: 'console', method: ctx.req.method, path: ctx.pathname, reason: refused, origin: String(ctx.req.headers.origin ?? '').slice(0, 200), ip: ctx.ip },
      });
      fail(ctx, 403, CSRF_MESSAGES[refused], { reasons: [refused] });
      return;
    }
  }
  await route.handle({ ctx, svc, caller: c, session, params: params!, form, csrf, actor: { name: actorName(adminActor(c)), admin: adminActor(c), requestId: ctx.requestId, ip: ctx.ip } });
}
