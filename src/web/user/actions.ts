/**
 * What Limen's pages offer a signed-in person next (the user page, the 403
 * page): sign out, or sign out and straight back in as someone else. Both
 * are same-origin POSTs to this host's `/.pomerium/sign_out` with the
 * session's sign-out CSRF token; the page to come back to travels as
 * `pomerium_redirect_uri` and is only ever a URL on a route's origin
 * (origins.ts `allowedRedirect`).
 */
import { signOutCsrfToken, SWITCH_ACCOUNT_FIELD } from '../../authn/index.js';
import type { PageAction } from '../../http/index.js';
import type { RequestContext } from '../context.js';
import { allowedRedirect, requestOrigin } from '../origins.js';

/** Sign out, and sign in as someone else, for this session; `back` is where signing in again returns to. */
export function signOutActions(ctx: RequestContext, sessionId: string, back: URL | undefined): PageAction[] {
  const fields: Record<string, string> = { csrf: signOutCsrfToken(ctx.rt.csrfKey, sessionId), ...(back ? { pomerium_redirect_uri: back.href } : {}) };
  return [
    { label: 'Sign out', action: '/.pomerium/sign_out', fields, id: 'sign-out' },
    { label: 'Sign in as someone else', action: '/.pomerium/sign_out', fields: { ...fields, [SWITCH_ACCOUNT_FIELD]: '1' }, id: 'switch-account' },
  ];
}


/** True for Limen's own paths on a route host, which are never a page to go back to. */
function isLimenPath(pathname: string): boolean {
  return pathname === '/.pomerium' || pathname.startsWith('/.pomerium/') || pathname.startsWith('/.well-known/pomerium');
}

/**
 * Where the user page's "Back" link goes: `pomerium_redirect_uri`, else the
 * `Referer`, when it is a page of the upstream app on this very origin
 * (never another host, never Limen's own paths); a Referer that is the user
 * page itself (a form posted from it: impersonate, stop impersonating)
 * passes on that page's own way back. Otherwise none. It is only ever shown
 * as a link, never followed by a redirect.
 */
export function backTarget(ctx: RequestContext, given: string | null = ctx.query.get('pomerium_redirect_uri')): URL | undefined {
  const origin = requestOrigin(ctx);
  const referer = allowedRedirect(ctx.rt, ctx.req.headers.referer);
  const fromUserPage = referer?.origin === origin && referer.pathname === '/.pomerium/' ? referer.searchParams.get('pomerium_redirect_uri') : null;
  for (const candidate of [given, fromUserPage ?? referer?.href]) {
    const u = allowedRedirect(ctx.rt, candidate);
    if (u && u.origin === origin && !isLimenPath(u.pathname)) {
      u.hash = '';
      return u;
    }
  }
  return undefined;
}
