/**
 * What an operator-facing handler sees of a request: the runtime it started
 * with, the long-lived services, the canonical request; and the helpers every
 * page shares (the error page, the impersonation banner, this host's origin
 * and CSRF tokens).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AuditLog } from '../audit/index.js';
import type { Identifier, SessionStore, SessionData, Caller } from '../authn/index.js';
import type { Logger } from '../log/index.js';
import type { DispatcherPool } from '../proxy/index.js';
import type { Store } from '../store/index.js';
import { observationOf, type Observer } from '../observe/index.js';
import type { Runtime } from './runtime.js';
import { CSRF_FORM_FIELD, csrfToken } from './csrf.js';
import { describeReason } from '../authz/index.js';
import { sendError, STATUS_TITLES, type Banner, type ErrorPage } from '../http/index.js';
import { requestOrigin } from './origins.js';

/** Long-lived services shared across config reloads. */
export interface Services {
  readonly store: Store;
  readonly sessions: SessionStore;
  readonly audit: AuditLog;
  readonly logger: Logger;
  readonly dispatchers: DispatcherPool;
  readonly now: () => number;
  /** Called after every successful sign-in (directory update). */
  readonly onSignIn?: (s: SessionData) => void;
  /** How often open websockets are re-authorized (ms). */
  readonly websocketRecheckMs: number;
  /** Metrics, access log and traces (issue 12); absent in tests that build Services by hand. */
  readonly observer?: Observer | undefined;
}

/** One request's view of the world: fixed at its start. */
export interface RequestContext {
  readonly rt: Runtime;
  readonly svc: Services;
  readonly identifier: Identifier;
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly requestId: string;
  /** Lower-case host without port. */
  readonly host: string;
  readonly port: number | undefined;
  /** Host header as sent (with port). */
  readonly hostHeader: string;
  readonly proto: 'http' | 'https';
  readonly pathname: string;
  readonly query: URLSearchParams;
  readonly ip: string;
}

/**
 * Sends Limen's own error page for `status`, with banner while impersonating.
 * Each reason gets its plain words (describeReason) unless the caller gave them.
 * The request's span carries the first reason (`limen.reason`); a 5xx, or a
 * 4xx the caller says is an `error` (a failed sign-in), marks it ERROR.
 */
export function fail(ctx: RequestContext, status: number, message: string, extra?: Partial<ErrorPage>, headers?: Record<string, string>, o?: { error?: boolean }): void {
  observationOf(ctx.res)?.refused(extra?.reasons?.[0], o?.error === true); // observe
  sendError(ctx.req, ctx.res, {
    status,
    title: STATUS_TITLES[status] ?? 'Error',
    message,
    requestId: ctx.requestId,
    ...extra,
    ...(extra?.reasons && !extra.explanations ? { explanations: extra.reasons.map((r) => describeReason(r)) } : {}),
  }, headers);
}

/**
 * The banner shown on every Limen page while an administrator impersonates.
 * With the request context it carries the one-click "Stop impersonating"
 * form (POST to this host's `/.pomerium/` with the session's CSRF token).
 */
export function impersonationBanner(caller: Caller | null | undefined, ctx?: RequestContext): Banner | undefined {
  if (!caller?.impersonator) return undefined;
  const text = `Impersonating ${caller.policy.email || caller.policy.user} (you are ${caller.impersonator.email || caller.impersonator.sub}).`;
  if (!ctx || !caller.session) return { text };
  return {
    text,
    button: {
      label: 'Stop impersonating', action: '/.pomerium/', id: 'stop-impersonating',
      fields: { [CSRF_FORM_FIELD]: sessionCsrfToken(ctx, caller.session.id), action: 'stop_impersonating' },
    },
  };
}

/**
 * The origin a same-origin page of this host has, for the CSRF checks:
 * exactly `authenticate_service_url`'s origin on the authenticate host; on
 * a route host its configured origin (origins.ts: the scheme of `from`, so
 * a TLS-terminating load balancer in front does not turn it into `http`).
 */
export function siteOrigin(ctx: RequestContext): string {
  if (ctx.rt.authOrigin !== undefined && ctx.host === ctx.rt.authHost) return ctx.rt.authOrigin;
  return requestOrigin(ctx);
}

/** The CSRF token of this session for forms and scripts on this host (see csrf.ts). */
export function sessionCsrfToken(ctx: RequestContext, sessionId: string): string {
  return csrfToken(ctx.rt.csrfKey, sessionId, siteOrigin(ctx));
}

/** The full URL the client asked for, with the scheme of its configured origin (not the socket's). */
export function requestUrl(ctx: RequestContext): string {
  return `${requestOrigin(ctx)}${ctx.req.url ?? '/'}`;
}
