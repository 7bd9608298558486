/**
 * The composition root fills the small interface the sign-in and sign-out
 * flows of src/authn take, from its request context: authn never sees the
 * server's request context or imports anything above it.
 */
import type { SignInContext } from '../authn/index.js';
import { allowedRedirect, cookieOptions, fail, requestOrigin, returnTarget, type RequestContext } from '../web/index.js';

/** The sign-in and sign-out flows' view of a request (src/authn/flow.ts). */
export function signInContext(ctx: RequestContext): SignInContext {
  return {
    site: ctx.rt, svc: ctx.svc, req: ctx.req, res: ctx.res, requestId: ctx.requestId, host: ctx.host, query: ctx.query, ip: ctx.ip,
    origin: requestOrigin(ctx),
    cookieOptions: (maxAgeS, o) => cookieOptions(ctx, maxAgeS, o),
    allowedRedirect: (target) => allowedRedirect(ctx.rt, target),
    returnTarget: (target) => returnTarget(ctx.rt, target),
    identify: () => ctx.identifier.identify(ctx.req, ctx.host, 'global'),
    // A sign-in or sign-out refused is an error on the span even as a 4xx: the operator's trail when sign-in fails (docs/operations.md).
    fail: (status, message, extra, headers) => fail(ctx, status, message, extra, headers, { error: true }),
  };
}
