/**
 * decision: what Limen does with a request, decided in one place for the
 * server and for `limen policy explain|test`, so the two cannot disagree.
 * Two pure steps around the identifier: `requestTarget` says what the
 * request addresses (one of Limen's own endpoints, a route, or nothing);
 * for a route, `decideRoute` takes what the identifier found and returns
 * the decision with its reasons and trace (records preloaded, policy
 * evaluated, the client-certificate and credential-scope overrides
 * applied). The store and the clock are passed in; mapping a decision to
 * a response is the server's (`server/respond-decision.ts`).
 */
export { requestTarget, isAuthenticatePath, isConsolePath, isLimenPath, CONSOLE_PATH, JWKS_PATH } from './target.js';
export type { LimenEndpoint, RequestTarget, TargetSite } from './target.js';
export { decideRoute, decideRouteNow, policyRequest } from './decide.js';
export type { Authorization, DecisionServices, DecisionSite, RequestHeaders } from './decide.js';
