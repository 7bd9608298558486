/**
 * The identity headers a route's upstream receives (CONTRACT §2).
 */
import type { Caller } from '../authn/index.js';
import { checkCarriedAssertion, type AssertionIdentity, type CarriedAssertion } from '../identity/index.js';
import type { TableRoute } from '../proxy/index.js';
import type { RequestContext, Runtime, RouteRuntime } from '../web/index.js';

export const ASSERTION_HEADER = 'x-pomerium-jwt-assertion';
export const ASSERTION_FOR_HEADER = 'x-pomerium-jwt-assertion-for';

/** What identityHeaders found: the headers, and the carried assertion passed on or why it was dropped. */
export interface IdentityHeaders {
  headers: Record<string, string>;
  carriedDropped?: string | undefined;
  carried?: 'for' | 'assertion' | undefined;
  carriedAssertion?: CarriedAssertion | undefined;
}

/**
 * The claim header values of one identity for one runtime's
 * `jwt_claims_headers`, as [name, value] pairs. Kept per identity object:
 * a signed-in caller is reused across requests while its session is
 * unchanged (the identifier's cache), so the values are worked out once.
 */
const claimValuesByIdentity = new WeakMap<AssertionIdentity, { readonly of: Runtime['claimHeaders']; readonly values: readonly string[] }>();

function claimHeaderValues(rt: Runtime, caller: Caller): readonly string[] {
  const memo = claimValuesByIdentity.get(caller.assertion);
  if (memo && memo.of === rt.claimHeaders) return memo.values;
  const values = rt.claimHeaders.map(([, claim]) => claimHeaderValue(claimValue(caller, claim)));
  claimValuesByIdentity.set(caller.assertion, { of: rt.claimHeaders, values });
  return values;
}

/**
 * The identity headers for the upstream (CONTRACT §2): a fresh assertion,
 * the carried original-user assertion (only as checkCarriedAssertion
 * allows: carried by a service, Limen's own, unexpired, issued for a
 * route), and the claim headers, always set. Returns the headers and either
 * the carried assertion's original audience or why it was dropped.
 * Synchronous when nothing needs a signature or a verification (a cached
 * assertion, no carried one): the request path awaits only what is async.
 */
export function identityHeaders(
  ctx: RequestContext, route: TableRoute<RouteRuntime>, caller: Caller | null,
): IdentityHeaders | Promise<IdentityHeaders> {
  const headers: Record<string, string> = {};
  const rt = ctx.rt;
  const claims = rt.claimHeaders;
  if (claims.length > 0) {
    const values = caller ? claimHeaderValues(rt, caller) : undefined;
    for (let i = 0; i < claims.length; i++) headers[claims[i]![0]] = values ? values[i]! : '';
  }
  if (!route.config.passIdentityHeaders) return { headers };
  const incomingFor = single(ctx.req.headers[ASSERTION_FOR_HEADER]);
  const candidate = incomingFor ?? single(ctx.req.headers[ASSERTION_HEADER]);
  if (candidate === undefined) {
    if (!caller) return { headers };
    const token = rt.signer.cached(caller.assertion, ctx.host);
    if (token !== undefined) {
      headers[ASSERTION_HEADER] = token;
      return { headers };
    }
  }
  return withAssertions(ctx, caller, headers, candidate, incomingFor !== undefined);
}

async function withAssertions(ctx: RequestContext, caller: Caller | null, headers: Record<string, string>, candidate: string | undefined, isFor: boolean): Promise<IdentityHeaders> {
  const rt = ctx.rt;
  let carriedDropped: string | undefined;
  let carried: 'for' | 'assertion' | undefined;
  let carriedAssertion: CarriedAssertion | undefined;
  if (candidate !== undefined) {
    const carrier = caller === null ? 'anonymous' : caller.kind === 'session' ? 'person' : 'service';
    const v = await checkCarriedAssertion(candidate, { keys: rt.keys, nowMs: ctx.svc.now(), carrier, isRouteHost: (h) => rt.table.hasHost(h) });
    if (v.ok) {
      headers[ASSERTION_FOR_HEADER] = candidate;
      carried = isFor ? 'for' : 'assertion';
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
