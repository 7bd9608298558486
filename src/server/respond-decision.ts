/**
 * The one place a route's decision becomes a response (CONTRACT §3), and
 * the sign-in redirect Limen's own endpoints share with it.
 */
import { describeReason } from '../authz/index.js';
import type { Authorization } from '../decision/index.js';
import type { TableRoute } from '../proxy/index.js';
import { prefersHtml, type PageAction } from '../http/index.js';
import { redirectToBoundSignIn } from '../authn/index.js';
import { allowedRedirect, fail, impersonationBanner, requestUrl, signOutActions, type RequestContext, type RouteRuntime } from '../web/index.js';
import { signInContext } from './sign-in-context.js';

/**
 * Sends a browser (Accept prefers HTML, no bearer token) to sign-in with
 * the URL it asked for; returns false when the client is not a browser and
 * should get a 401 instead (CONTRACT §3).
 */
export function redirectToSignIn(ctx: RequestContext, bearer: boolean): boolean {
  if (bearer || !ctx.rt.authOrigin || !prefersHtml(ctx.req.headers.accept)) return false;
  return redirectToBoundSignIn(signInContext(ctx), new URL(requestUrl(ctx)));
}

/**
 * Maps a decision to a response, in one documented order (CONTRACT §3):
 * no valid identity where one is needed → 302 to sign-in for a browser
 * without a bearer token, 401 otherwise; deny → 403; allow → returns true
 * and the caller proxies. Anything else is denied.
 */
export function respondToDecision(ctx: RequestContext, route: TableRoute<RouteRuntime>, a: Authorization): boolean {
  const { decision, who } = a;
  if (decision.result === 'allow') return true;
  if (decision.result === 'login') {
    if (redirectToSignIn(ctx, who.credential === 'bearer')) return false;
    // A rejected credential is told what is wrong with it (expired, revoked,
    // wrong audience, bad signature), not to sign in.
    const reasons = who.failure ? [who.failure] : [...decision.reasons];
    fail(ctx, 401, who.credential === 'none' ? 'Sign-in is required to reach this route.' : 'The credential presented was not accepted.', {
      reasons, explanations: reasons.map((r) => describeReason(r)),
    }, { 'www-authenticate': 'Pomerium realm="limen"' });
    return false;
  }
  // 403: show who we think the caller is and what was missing, never the policy itself.
  const caller = who.caller;
  const details: Record<string, string> = { route: route.config.name };
  if (caller) {
    // Empty values stay in: the page shows them as "none" (the JSON leaves them out).
    details.user = caller.policy.user;
    details.email = caller.policy.email;
    details.groups = caller.policy.groups.join(', ');
    if (caller.impersonator) details.impersonated_by = caller.impersonator.email || caller.impersonator.sub;
  }
  const reasons = caller ? decision.reasons : decision.reasons.filter((r) => !r.endsWith('-unauthorized'));
  fail(ctx, 403, 'You are not allowed to reach this route.', {
    reasons, explanations: reasons.map((r) => describeReason(r)), details, banner: impersonationBanner(caller, ctx),
    actions: deniedActions(ctx, a),
  });
  return false;
}

/**
 * What the 403 page offers: a person signed in with a browser cookie can
 * sign out, or sign in as someone else and come straight back to this page,
 * and see their user details. Nobody else gets anything to click: a bearer
 * token's holder is a program, and a request with no identity got a 403
 * only because the policy refused it without asking who (one that needs an
 * identity is sent to sign in instead).
 */
function deniedActions(ctx: RequestContext, a: Authorization): PageAction[] {
  const here = allowedRedirect(ctx.rt, requestUrl(ctx));
  if (!ctx.rt.authOrigin || !here) return [];
  const caller = a.who.caller;
  if (a.who.credential !== 'cookie' || caller?.kind !== 'session' || !caller.session) return [];
  const userPage = new URL('/.pomerium/', here.origin);
  userPage.searchParams.set('pomerium_redirect_uri', here.href);
  return [...signOutActions(ctx, caller.session.id, here), { label: 'Your user details', href: `${userPage.pathname}${userPage.search}` }];
}
