import { describeReason, type Decision, type PolicyInput } from '../authz/index.js';
import type { Caller, IdentifyResult } from '../authn/index.js';
import { checkCarriedAssertion, type CarriedAssertion } from '../identity/index.js';
import type { TableRoute } from '../proxy/index.js';
import { clientCertificate, prefersHtml } from '../http/index.js';
import type { RouteRuntime } from './runtime.js';
import { fail, impersonationBanner, requestUrl, type RequestContext } from './context.js';
import { redirectToBoundSignIn } from './sign-in.js';

/** Builds the pure policy input from a request (the adapter of STYLE.md). */
export function policyInput(ctx: RequestContext, caller: Caller | null, records?: PolicyInput['records']): PolicyInput {
  const req = ctx.req;
  const method = (req.method ?? 'GET').toUpperCase();
  return {
    request: {
      method,
      host: ctx.host,
      path: ctx.pathname,
      ip: ctx.ip,
      corsPreflight: method === 'OPTIONS' && req.headers.origin !== undefined && req.headers['access-control-request-method'] !== undefined,
      clientCertificate: ctx.rt.config.downstreamMtls ? clientCertificate(req.socket) : undefined,
    },
    identity: caller ? caller.policy : null,
    ...(records ? { records } : {}),
  };
}

/**
 * Sends a browser (Accept prefers HTML, no bearer token) to sign-in with
 * the URL it asked for; returns false when the client is not a browser and
 * should get a 401 instead (CONTRACT §3).
 */
export function redirectToSignIn(ctx: RequestContext, bearer: boolean): boolean {
  if (bearer || !ctx.rt.authOrigin || !prefersHtml(ctx.req.headers.accept)) return false;
  return redirectToBoundSignIn(ctx, new URL(requestUrl(ctx)));
}

/** The outcome of authorizing one request. */
export interface Authorization {
  readonly decision: Decision;
  readonly who: IdentifyResult;
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
    details.user = caller.policy.user;
    if (caller.policy.email) details.email = caller.policy.email;
    if (caller.policy.groups.length > 0) details.groups = caller.policy.groups.join(', ');
    if (caller.impersonator) details.impersonated_by = caller.impersonator.email || caller.impersonator.sub;
  }
  const reasons = caller ? decision.reasons : decision.reasons.filter((r) => !r.endsWith('-unauthorized'));
  fail(ctx, 403, 'You are not allowed to reach this route.', {
    reasons, explanations: reasons.map((r) => describeReason(r)), details, banner: impersonationBanner(caller, ctx),
  });
  return false;
}

export const ASSERTION_HEADER = 'x-pomerium-jwt-assertion';
export const ASSERTION_FOR_HEADER = 'x-pomerium-jwt-assertion-for';

/**
 * The identity headers for the upstream (CONTRACT §2): a fresh assertion,
 * the carried original-user assertion (only as checkCarriedAssertion
 * allows: carried by a service, Limen's own, unexpired, issued for a
 * route), and the claim headers, always set. Returns the headers and either
 * the carried assertion's original audience or why it was dropped.
 */
export async function identityHeaders(
  ctx: RequestContext, route: TableRoute<RouteRuntime>, caller: Caller | null,
): Promise<{ headers: Record<string, string>; carriedDropped?: string | undefined; carried?: 'for' | 'assertion' | undefined; carriedAssertion?: CarriedAssertion | undefined }> {
  const headers: Record<string, string> = {};
  const rt = ctx.rt;
  for (const [h, claim] of rt.claimHeaders) {
    headers[h] = caller ? claimHeaderValue(claimValue(caller, claim)) : '';
  }
  if (!route.config.passIdentityHeaders) return { headers };
  let carriedDropped: string | undefined;
  let carried: 'for' | 'assertion' | undefined;
  let carriedAssertion: CarriedAssertion | undefined;
  const incomingFor = single(ctx.req.headers[ASSERTION_FOR_HEADER]);
  const incoming = single(ctx.req.headers[ASSERTION_HEADER]);
  const candidate = incomingFor ?? incoming;
  if (candidate !== undefined) {
    const carrier = caller === null ? 'anonymous' : caller.kind === 'session' ? 'person' : 'service';
    const v = await checkCarriedAssertion(candidate, { keys: rt.keys, nowMs: ctx.svc.now(), carrier, isRouteHost: (h) => rt.table.hasHost(h) });
    if (v.ok) {
      headers[ASSERTION_FOR_HEADER] = candidate;
      carried = incomingFor !== undefined ? 'for' : 'assertion';
      carriedAssertion = v.carried;
    } else {
      carriedDropped = v.reason;
    }
  }
  if (caller) headers[ASSERTION_HEADER] = await rt.signer.sign(caller.assertion, ctx.host);
  return { headers, carriedDropped, carried, carriedAssertion };
}

function single(v: string | string[] | undefined): string | undefined {
  if (Array.isArray(v)) return v[0];
  return v === '' ? undefined : v;
}

function claimValue(caller: Caller, claim: string): unknown {
  switch (claim) {
    case 'email': return caller.assertion.email;
    case 'groups': return caller.assertion.groups;
    case 'sub': case 'user': return caller.assertion.user;
    case 'name': return caller.assertion.name;
    case 'sid': return caller.assertion.sid;
    default: return caller.assertion.claims[claim];
  }
}

function claimHeaderValue(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (Array.isArray(v)) return v.map((x) => (typeof x === 'string' ? x : JSON.stringify(x))).join(',');
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v).replace(/[\r\n]/g, ' ');
}
