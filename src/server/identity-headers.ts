/**
 * The identity headers a route's upstream receives (CONTRACT §2).
 */
import type { Caller } from '../authn/index.js';
import { checkCarriedAssertion, type CarriedAssertion } from '../identity/index.js';
import type { TableRoute } from '../proxy/index.js';
import type { RequestContext, RouteRuntime } from '../web/index.js';

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
