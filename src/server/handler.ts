import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { describeReason } from '../authz/index.js';
import type { Config } from '../config/index.js';
import type { Identifier } from '../authn/index.js';
import { decideRoute, decideRouteNow, policyRequest, requestTarget, type Authorization } from '../decision/index.js';
import { canonicalizeRequest, clientCertificate, clientIp, newRequestId, sendError, sendRedirect, type Refusal, type RequestRules } from '../http/index.js';
import {
  buildUpstreamHeaders, headerTemplates, checkClientHandshake, declaresBody, forward, responseOnSocket, TUNNELLED_PROTOCOL, tunnelUpgrade, upgradeProtocols,
  UpstreamError, type TableRoute,
} from '../proxy/index.js';
import { fail, impersonationBanner, type RequestContext, type Runtime, type RouteRuntime, type Services } from '../web/index.js';
import { respondToDecision } from './respond-decision.js';
import { identityHeaders, templateValues } from './identity-headers.js';
import { handleAuthenticateHost, handleRouteHostEndpoints } from './endpoints.js';
import { observationOf } from '../observe/index.js';

/** The current runtime and identifier; swapped atomically on reload. */
export interface Live {
  rt: Runtime;
  identifier: Identifier;
}

/**
 * Entry point for every request. Order: request id and Host check;
 * health endpoints; the authenticate service; Limen's own `/.pomerium/*`
 * and `/.well-known/pomerium/*` paths; route lookup (404); identity;
 * policy; response or forwarding. Any unexpected error is a generic 500
 * page with the request id, logged without request secrets.
 */
export async function handleRequest(live: Live, svc: Services, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const requestId = newRequestId();
  const { rt, identifier } = live;
  svc.observer?.begin(req, res, requestId, rt.config); // observe: metrics, access log, span (written when res closes)
  let ctx: RequestContext | undefined;
  try {
    const ctx0 = baseContext(rt, svc, identifier, req, res, requestId);
    if (!(ctx0 instanceof Context)) {
      sendUncanonical(req, res, requestId, ctx0);
      return;
    }
    ctx = ctx0;
    await route(ctx);
  } catch (e) {
    const code = (e as { code?: string })?.code;
    svc.logger.error('request failed', { requestId, error: (e as Error)?.message, code });
    if (res.headersSent) res.destroy();
    else if (ctx === undefined) sendError(req, res, { status: 500, title: 'Internal Server Error', message: 'Something went wrong inside Limen. Quote the request id when reporting it.', requestId });
    // The database is unreachable and nothing cached may be trusted: fail closed, and say it is temporary.
    else if (code === 'ERR_STORE_UNAVAILABLE') fail(ctx, 503, 'Limen cannot reach its database right now. Try again in a moment.', { reasons: ['store-unavailable'] });
    else fail(ctx, 500, 'Something went wrong inside Limen. Quote the request id when reporting it.');
  }
}

/**
 * The request's one meaning (src/http/canonical.ts), decided before
 * anything routes or authorizes it: the canonical path replaces the target
 * the upstream will receive, the canonical Host is the one passed on, and
 * underscore header names are dropped when so configured. Returns the
 * refusal instead when the request is ambiguous.
 */
function baseContext(rt: Runtime, svc: Services, identifier: Identifier, req: IncomingMessage, res: ServerResponse, requestId: string): Context | Refusal | { redirect: string } {
  const rules = requestRules(rt.config);
  const c = canonicalizeRequest(req, rules);
  if (!c.ok) return c;
  if (c.redirect) return { redirect: c.path + c.query };
  req.url = c.path + c.query;
  if (rules.headersWithUnderscores === 'drop_header') dropUnderscoreHeaders(req);
  const encrypted = (req.socket as { encrypted?: boolean }).encrypted === true;
  return new Context(rt, svc, identifier, req, res, requestId, c.host, c.port, c.hostHeader, encrypted ? 'https' : 'http', c.path, c.query, clientIp(req, rt.config.xffNumTrustedHops));
}

/** A RequestContext whose query is parsed only when read (Limen's own endpoints read it; proxied requests never do). */
class Context implements RequestContext {
  #query: URLSearchParams | undefined;
  constructor(
    readonly rt: Runtime, readonly svc: Services, readonly identifier: Identifier, readonly req: IncomingMessage, readonly res: ServerResponse,
    readonly requestId: string, readonly host: string, readonly port: number | undefined, readonly hostHeader: string,
    readonly proto: 'http' | 'https', readonly pathname: string, private readonly search: string, readonly ip: string,
  ) {}

  get query(): URLSearchParams {
    return (this.#query ??= new URLSearchParams(this.search));
  }
}

const rulesByConfig = new WeakMap<Config, RequestRules>();

/** The canonicalization rules of a config, built once per config. */
function requestRules(config: Config): RequestRules {
  let rules = rulesByConfig.get(config);
  if (!rules) {
    rules = Object.freeze({
      escapedSlashes: config.pathWithEscapedSlashesAction,
      headersWithUnderscores: config.headersWithUnderscoresAction,
      allowBackslash: config.allowBackslashInPath,
      allowPathParameters: config.allowPathParameters,
      allowInvalidEscapes: config.allowInvalidPathEncoding,
      allowDoubleEncoding: config.allowDoubleEncodedPath,
      allowEncodedControlCharacters: config.allowEncodedControlCharacters,
    });
    rulesByConfig.set(config, rules);
  }
  return rules;
}

/** `headers_with_underscores_action: drop_header`: the request goes on as if they had never been sent. */
function dropUnderscoreHeaders(req: IncomingMessage): void {
  // Node 24+ builds `headers` lazily from `rawHeaders`: build it before rawHeaders changes.
  const headers = req.headers;
  const raw = req.rawHeaders;
  for (let i = raw.length - 2; i >= 0; i -= 2) {
    const name = raw[i]!;
    if (!name.includes('_')) continue;
    raw.splice(i, 2);
    delete headers[name.toLowerCase()];
  }
}

/** Sends the refusal of an ambiguous request (400) or the redirect of `unescape_and_redirect` (307). */
function sendUncanonical(req: IncomingMessage, res: ServerResponse, requestId: string, r: Refusal | { redirect: string }): void {
  if ('redirect' in r) {
    sendRedirect(res, r.redirect, { 'x-request-id': requestId }, 307);
    return;
  }
  observationOf(res)?.refused(r.reason, false); // observe: the reason on the span, as for every error page
  sendError(req, res, {
    status: 400, title: 'Bad Request', message: r.message, requestId,
    reasons: [r.reason], explanations: [describeReason(r.reason)],
  });
}

function route(ctx: RequestContext): Promise<void> {
  // What the request addresses is decided in src/decision, as `limen policy explain` decides it.
  const target = requestTarget(ctx.rt, ctx.host, ctx.port, ctx.pathname);
  // A route's request: its promise as it is, without one more async frame on the hot path.
  return typeof target !== 'string' ? proxyRequest(ctx, target) : ownEndpoint(ctx, target);
}

/** Limen's own answers: health, keys, the authenticate service, a route host's `/.pomerium/` paths, no route. */
async function ownEndpoint(ctx: RequestContext, target: Exclude<ReturnType<typeof requestTarget>, TableRoute<RouteRuntime>>): Promise<void> {
  const { rt, pathname } = ctx;
  switch (target) {
    case 'health':
      // A length, not chunks: the access log's size is the body (2), not its chunked framing.
      ctx.res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '2', 'cache-control': 'no-store', 'x-request-id': ctx.requestId });
      ctx.res.end('OK');
      return;
    case 'jwks':
      await handleRouteHostEndpoints(ctx, undefined);
      return;
    case 'authenticate':
      // An admin API path no endpoint serves: Limen's all the same, never routed.
      if (!(await handleAuthenticateHost(ctx))) fail(ctx, 404, 'No such Limen endpoint.', { reasons: ['endpoint-not-found'] });
      return;
    case 'route-host':
      await handleRouteHostEndpoints(ctx, rt.table.match(ctx.host, ctx.port, pathname));
      return;
    case 'no-route':
      fail(ctx, 404, 'No route matches this host and path.', { reasons: ['route-not-found'] });
      return;
  }
}

/**
 * Identifies the caller for the route's namespace and decides the request
 * with the decision core (src/decision). Does no response I/O. Answers
 * without a promise when neither step needs one (no credential, or a
 * remembered session caller, and a policy that reads no records): the
 * same decision, without the microtask hops.
 */
export function authorize(ctx: RequestContext, r: TableRoute<RouteRuntime>): Authorization | Promise<Authorization> {
  const { req, rt } = ctx;
  const request = policyRequest(req.method, ctx.host, ctx.pathname, ctx.ip, req.headers, rt.config.downstreamMtls ? clientCertificate(req.socket) : undefined);
  const obs = observationOf(ctx.res); // observe
  if (obs?.tracing !== true) {
    const known = ctx.identifier.identifyCached(req, ctx.host);
    const now = known && decideRouteNow(rt, ctx.svc, r.compiled.policy, request, known);
    if (now) return now;
  }
  return authorizeAsync(ctx, r, request);
}

async function authorizeAsync(ctx: RequestContext, r: TableRoute<RouteRuntime>, request: ReturnType<typeof policyRequest>): Promise<Authorization> {
  const identifySpan = observationOf(ctx.res)?.phase('limen.identify'); // observe
  const who = await ctx.identifier.identify(ctx.req, ctx.host, r.config.namespace);
  identifySpan?.end(); // observe
  const policySpan = observationOf(ctx.res)?.phase('limen.policy'); // observe: records and evaluation
  const a = await decideRoute(ctx.rt, ctx.svc, r.compiled.policy, request, who);
  policySpan?.end(); // observe
  return a;
}

function auditDecision(ctx: RequestContext, r: TableRoute<RouteRuntime>, a: Authorization, extra?: Record<string, unknown>): void {
  const caller = a.who.caller;
  // Built in place rather than by spreads: one object per request, the same fields in the same order.
  const details: Record<string, unknown> = {
    method: ctx.req.method,
    host: ctx.host,
    path: ctx.pathname,
    ip: ctx.ip,
    reasons: a.decision.reasons,
    rule: a.decision.rule,
  };
  if (a.who.failure) details.credential_failure = a.who.failure;
  if (caller?.kind === 'session') details.session_id = caller.policy.sessionId;
  else if (caller?.kind === 'service_account') details.service_account_id = caller.policy.serviceAccountId ?? caller.policy.sessionId;
  else if (caller?.kind === 'route_token' && caller.policy.sessionId) details.token_id = caller.policy.sessionId;
  if (extra) for (const k in extra) details[k] = extra[k];
  ctx.svc.audit.emit({
    kind: 'authorize',
    requestId: ctx.requestId,
    decision: a.decision.result,
    route: r.config.name,
    userId: caller?.policy.user,
    email: caller?.policy.email,
    actor: caller?.impersonator?.email ?? caller?.impersonator?.sub,
    details,
  });
}

/**
 * The reasons the authorize line and the decision metrics give: a
 * credential that was presented and refused (revoked, expired, malformed)
 * is why the request is unauthenticated, and the reason its 401 names, so
 * it is the reason there too rather than `user-unauthenticated`, which
 * would send an operator looking at cookie secrets.
 */
function observedReasons(a: Authorization): readonly string[] {
  return a.decision.result === 'login' && a.who.failure !== undefined ? [a.who.failure] : a.decision.reasons;
}

async function proxyRequest(ctx: RequestContext, r: TableRoute<RouteRuntime>): Promise<void> {
  let a: Authorization;
  try {
    const pending = authorize(ctx, r);
    a = pending instanceof Promise ? await pending : pending;
  } catch (e) {
    // No decision (the store unreachable: a 503): the request is still the route's, in its metrics and access line.
    observationOf(ctx.res)?.routed(r.config); // observe
    throw e;
  }
  const obs = observationOf(ctx.res); // observe
  obs?.decided(r.config, a.decision, observedReasons(a), a.who.caller ?? a.who.outOfScope ?? null, ctx.ip); // observe
  if (!respondToDecision(ctx, r, a)) {
    auditDecision(ctx, r, a);
    return;
  }
  const signSpan = obs?.phase('limen.sign'); // observe
  const signing = identityHeaders(ctx, r, a.who.caller);
  const ids = signing instanceof Promise ? await signing : signing;
  signSpan?.end(); // observe
  auditDecision(ctx, r, a, ids.carriedDropped ? { carried_assertion_dropped: ids.carriedDropped }
    : ids.carriedAssertion ? { carried_assertion: { aud: ids.carriedAssertion.audience, sub: ids.carriedAssertion.subject } } : undefined);
  const c = r.config;
  const headers = buildUpstreamHeaders(ctx.req, c, {
    requestId: ctx.requestId,
    proto: ctx.proto,
    originalHost: ctx.hostHeader,
    upstreamHost: ctx.hostHeader,
    dropCookies: ctx.rt.limenCookies,
    identityHeaders: ids.headers,
    templateValues: headerTemplates(c) === null ? undefined : await templateValues(ctx, a.who.caller, ids),
  });
  const upstreamSpan = obs?.upstreamStarted(headers); // observe: times the upstream, sets its traceparent
  try {
    const sent = await forward({
      req: ctx.req, res: ctx.res, route: c,
      selector: r.compiled.selector,
      dispatcher: ctx.svc.dispatchers.get(c),
      headers,
      hostFromUpstream: !c.preserveHostHeader,
      requestId: ctx.requestId,
      now: ctx.svc.now,
      ownCookies: ctx.rt.limenCookies,
    });
    obs?.upstreamEnded(sent.upstream, sent.failure, sent.bytes); // observe
    upstreamSpan?.end(sent.failure, upstreamAttributes(ctx.req.method, sent.upstream, sent.status)); // observe
    if (sent.failure !== undefined) ctx.svc.logger.warn('upstream failed', { requestId: ctx.requestId, route: c.name, upstream: sent.upstream, reason: sent.failure, response: 'cut after it started' });
  } catch (e) {
    const upstream = e instanceof UpstreamError ? e.upstream : undefined;
    obs?.upstreamEnded(upstream, e instanceof UpstreamError ? e.reason : 'internal-error'); // observe
    upstreamSpan?.end(e instanceof UpstreamError ? e.reason : 'internal-error', upstreamAttributes(ctx.req.method, upstream, undefined)); // observe
    if (e instanceof UpstreamError) {
      ctx.svc.logger.warn('upstream failed', { requestId: ctx.requestId, route: c.name, upstream, reason: e.reason });
      fail(ctx, e.status, e.status === 504 ? 'The upstream did not answer in time.' : 'The upstream could not be reached.', { reasons: [e.reason], banner: impersonationBanner(a.who.caller, ctx) });
      return;
    }
    throw e;
  }
}

/** The upstream call as OpenTelemetry's HTTP client conventions name it (the peer, never the path or query). */
function upstreamAttributes(method: string | undefined, origin: string | undefined, status: number | undefined): Record<string, string | number | undefined> {
  let address: string | undefined;
  let port: number | undefined;
  if (origin !== undefined) {
    const u = new URL(origin);
    address = u.hostname;
    port = u.port === '' ? (u.protocol === 'https:' ? 443 : 80) : Number(u.port);
  }
  return { 'http.request.method': method, 'server.address': address, 'server.port': port, 'http.response.status_code': status };
}

/**
 * Finishes the Observation of a response written straight to a socket
 * (upgrades, CONNECT), which never emits 'close' as a server's response
 * does: when the response is written (the socket is then detached from
 * it), or when the client goes first. A websocket tunnel is recorded when
 * it closes (Observation.tunnelOpened); finishing twice records once.
 */
function observeOnSocket(res: ServerResponse, socket: Duplex): void {
  const done = (): void => observationOf(res)?.finish();
  res.once('finish', done);
  socket.once('close', done);
}

/**
 * `CONNECT` (a tunnel to host:port): Limen routes requests, it does not
 * open tunnels, so it is refused with 405, counted and logged as any
 * refusal (Node.js would otherwise close the connection without a word).
 */
export function handleConnect(live: Live, svc: Services, req: IncomingMessage, socket: Duplex): void {
  socket.on('error', () => socket.destroy());
  const res = responseOnSocket(req, socket);
  observeOnSocket(res, socket); // observe
  const requestId = newRequestId();
  svc.observer?.begin(req, res, requestId, live.rt.config); // observe
  observationOf(res)?.refused('connect-not-supported', false); // observe
  sendError(req, res, { status: 405, title: 'Method Not Allowed', message: 'Limen does not open CONNECT tunnels.', requestId, reasons: ['connect-not-supported'] });
}

/**
 * Requests with `Upgrade` (Node hands them over as a bare socket). Only a
 * websocket handshake on an `allow_websockets` route can become a tunnel:
 * same identity and policy as any request, then `tunnelUpgrade`, which
 * opens it only on a verified `101`. Any other Upgrade (`h2c`, ...) is
 * ignored as RFC 9110 §7.8 allows, and the request is served as an
 * ordinary one on a connection closed afterwards. A body on an upgrade
 * request is refused: its bytes cannot be told apart from tunnel bytes.
 * Every answer other than a tunnel is a normal Limen response.
 */
export async function handleUpgrade(live: Live, svc: Services, req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
  socket.on('error', () => socket.destroy());
  const res = responseOnSocket(req, socket);
  observeOnSocket(res, socket); // observe
  if (declaresBody(req)) {
    const requestId = newRequestId();
    svc.observer?.begin(req, res, requestId, live.rt.config); // observe
    observationOf(res)?.refused('upgrade-with-body', false); // observe
    sendError(req, res, { status: 400, title: 'Bad Request', message: 'A request that asks to upgrade the connection must not carry a body.', requestId, reasons: ['upgrade-with-body'] });
    return;
  }
  if (!upgradeProtocols(req).includes(TUNNELLED_PROTOCOL)) {
    await handleRequest(live, svc, req, res);
    return;
  }
  const requestId = newRequestId();
  const obs = svc.observer?.begin(req, res, requestId, live.rt.config); // observe
  const ctx = baseContext(live.rt, svc, live.identifier, req, res, requestId);
  if (!(ctx instanceof Context)) {
    sendUncanonical(req, res, requestId, ctx);
    return;
  }
  const refusal = checkClientHandshake(req);
  if (refusal !== undefined) {
    fail(ctx, 400, 'This is not a valid websocket opening handshake (RFC 6455 §4.1).', { reasons: [refusal] });
    return;
  }
  // Classified as any request is (src/decision): Limen's own paths are never tunnelled to an upstream.
  const r = requestTarget(ctx.rt, ctx.host, ctx.port, ctx.pathname);
  if (r === 'no-route') return fail(ctx, 404, 'No route matches this host and path.', { reasons: ['route-not-found'] });
  if (typeof r === 'string') return fail(ctx, 400, 'Limen\'s own endpoints do not accept websockets.', { reasons: ['websockets-not-allowed'] });
  if (!r.config.allowWebsockets) {
    obs?.routed(r.config); // observe
    return fail(ctx, 400, 'This route does not accept websockets.', { reasons: ['websockets-not-allowed'] });
  }
  try {
    const a = await authorize(ctx, r);
    obs?.decided(r.config, a.decision, observedReasons(a), a.who.caller ?? a.who.outOfScope ?? null, ctx.ip); // observe
    auditDecision(ctx, r, a, { websocket: true });
    if (a.decision.result === 'login') return fail(ctx, 401, 'Sign in first.', { reasons: [a.who.failure ?? 'user-unauthenticated'] });
    if (a.decision.result !== 'allow') return fail(ctx, 403, 'Access to this route is denied.', { reasons: [...a.decision.reasons] });
    const ids = await identityHeaders(ctx, r, a.who.caller);
    const upstream = r.compiled.selector.order(svc.now())[0]!;
    const headers = buildUpstreamHeaders(req, r.config, {
      requestId, proto: ctx.proto, originalHost: ctx.hostHeader,
      upstreamHost: r.config.preserveHostHeader ? ctx.hostHeader : (r.config.hostRewrite ?? upstream.url.host),
      dropCookies: ctx.rt.limenCookies,
      identityHeaders: ids.headers,
      upgrade: true,
      templateValues: headerTemplates(r.config) === null ? undefined : await templateValues(ctx, a.who.caller, ids),
    });
    // observe: the upstream's time is the handshake and then the tunnel's life (not Limen's own), and
    // the upstream gets a traceparent as any proxied request does.
    const upstreamSpan = obs?.upstreamStarted(headers);
    const ended = (error?: string, status?: number): void => {
      obs?.upstreamEnded(upstream.url.origin, error);
      upstreamSpan?.end(error, upstreamAttributes(req.method, upstream.url.origin, status));
    };
    const tunnel = tunnelUpgrade(req, socket, res, head, r.config, upstream, headers, requestId, {
      onOpen: () => {
        obs?.tunnelOpened(upstream.url.origin, socket); // observe
        socket.once('close', () => ended(undefined, 101)); // observe
        watchTunnel(live, svc, req, socket, r.config.name, tunnel, requestId);
      },
      onRelayed: (status) => {
        ended(undefined, status); // observe
        svc.logger.info('upstream declined the websocket upgrade', { requestId, route: r.config.name, status });
      },
      onFailed: (reason, detail) => {
        ended(reason); // observe
        svc.logger.warn('websocket upgrade failed', { requestId, route: r.config.name, reason, detail });
        fail(ctx, reason === 'upstream-timeout' ? 504 : 502, reason === 'upstream-bad-switch'
          ? 'The upstream did not switch to the websocket protocol as asked.'
          : reason === 'upstream-timeout' ? 'The upstream did not answer in time.' : 'The upstream could not be reached.', { reasons: [reason] });
      },
    }, ctx.rt.limenCookies);
  } catch (e) {
    svc.logger.error('upgrade failed', { requestId, error: (e as Error)?.message });
    if (!res.headersSent) fail(ctx, 500, 'Something went wrong inside Limen. Quote the request id when reporting it.');
    else socket.destroy();
  }
}

/**
 * Continuous evaluation for long-lived connections: a websocket is
 * re-authorized against the current config, session, directory and data at
 * least once a minute, and closed as soon as access is lost.
 */
function watchTunnel(live: Live, svc: Services, req: IncomingMessage, socket: Duplex, routeName: string, tunnel: { close(): void }, requestId: string): void {
  const timer = setInterval(() => {
    void (async () => {
      const ctx = baseContext(live.rt, svc, live.identifier, req, undefined as unknown as ServerResponse, requestId);
      let allowed = false;
      let reasons: readonly string[] = ['route-not-found'];
      if (ctx instanceof Context) {
        const r = ctx.rt.table.match(ctx.host, ctx.port, ctx.pathname);
        if (r && r.config.allowWebsockets) {
          const a = await authorize(ctx, r);
          allowed = a.decision.result === 'allow';
          reasons = a.decision.reasons;
        }
      }
      if (!allowed) {
        clearInterval(timer);
        svc.audit.emit({ kind: 'websocket_closed', requestId, route: routeName, decision: 'deny', details: { reasons } });
        tunnel.close();
      }
    })().catch(() => { clearInterval(timer); tunnel.close(); });
  }, svc.websocketRecheckMs);
  timer.unref();
  socket.once('close', () => clearInterval(timer));
}
