/**
 * The identity headers a route's upstream receives (CONTRACT §2).
 */
import type { TLSSocket } from 'node:tls';
import type { Caller } from '../authn/index.js';
import { checkCarriedAssertion, type AssertionIdentity, type CarriedAssertion } from '../identity/index.js';
import type { TableRoute, TemplateValues } from '../proxy/index.js';
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

export function claimHeaderValue(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (Array.isArray(v)) return headerValue(v.map((x) => (typeof x === 'string' ? x : JSON.stringify(x))).join(','));
  if (typeof v === 'object') return headerValue(JSON.stringify(v));
  return headerValue(String(v));
}

/**
 * A claim as a header value: control characters (CR and LF above all, in
 * every element of a list too) as spaces, and anything beyond ASCII as its
 * UTF-8 bytes, as Envoy sends Pomerium's. Node writes a header value one
 * byte per character (Latin-1) and refuses a character above U+00FF: a
 * group named `日本` made every request of its members fail.
 */
function headerValue(s: string): string {
  const clean = s.replace(/[\x00-\x08\x0a-\x1f\x7f]/g, ' ');
  return /[^\x00-\x7f]/.test(clean) ? Buffer.from(clean, 'utf8').toString('latin1') : clean;
}

/**
 * What a route's `set_request_headers` templates render for this request
 * (src/proxy/header-template.ts): the identity assertion (the one the
 * upstream gets, or signed for the template when the route passes no
 * identity headers), the signed-in user's IdP tokens, the client
 * certificate's SHA-256 fingerprint, and the request's headers. Only made
 * for a route that has templates.
 */
export async function templateValues(ctx: RequestContext, caller: Caller | null, ids: IdentityHeaders): Promise<TemplateValues> {
  const jwt = ids.headers[ASSERTION_HEADER] ?? (caller ? await ctx.rt.signer.sign(caller.assertion, ctx.host) : '');
  const tokens = caller?.kind === 'session' && caller.session !== undefined ? ctx.svc.sessions.tokens(caller.session) : undefined;
  const socket = ctx.req.socket as Partial<TLSSocket>;
  const cert = typeof socket.getPeerCertificate === 'function' ? socket.getPeerCertificate() : undefined;
  return {
    jwt,
    idToken: tokens?.idToken ?? '',
    accessToken: tokens?.accessToken ?? '',
    clientCertFingerprint: cert?.fingerprint256 ? cert.fingerprint256.replace(/:/g, '').toLowerCase() : '',
    requestHeader: (name) => { const v = ctx.req.headers[name]; return Array.isArray(v) ? v.join(', ') : v ?? ''; },
  };
}
