/**
 * One place per request where everything observable is recorded: the
 * request handler starts an Observation when a request arrives, tells it the
 * route, the decision and the upstream's timing as they happen, and the
 * Observation writes metrics, the access log line and the span once, when
 * the response closes. With metrics, access log and tracing all off, no
 * Observation is made at all.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Config, RouteConfig } from '../config/index.js';
import type { Caller } from '../authn/index.js';
import type { AccessLog } from './access-log.js';
import type { Metrics, RouteMetrics } from './metrics.js';
import type { PhaseSpan, RequestSpan, Tracer } from './tracing.js';
import { loggablePath } from './redact.js';

const OBSERVATION = Symbol('limen.observation');
const CUT_AT_SHUTDOWN = Symbol('limen.cutAtShutdown');

/**
 * Marks a connection Limen cut because `shutdown_timeout` ran out: its
 * unfinished request is logged as cut by Limen (`limen_shutdown_cut`), not
 * as the client leaving.
 */
export function markCutAtShutdown(socket: object): void {
  (socket as { [CUT_AT_SHUTDOWN]?: boolean })[CUT_AT_SHUTDOWN] = true;
}

type Observed = ServerResponse & { [OBSERVATION]?: Observation };

/** The Observation of a response, if one was started (undefined when observability is off). */
export function observationOf(res: ServerResponse | undefined): Observation | undefined {
  return res === undefined ? undefined : (res as Observed)[OBSERVATION];
}

function onClose(this: Observed): void {
  this[OBSERVATION]?.finish();
}

/**
 * An upstream failure as Envoy's response code details name it (Pomerium's
 * access log passes Envoy's on), so a pipeline grouping on them finds
 * Limen's: a route timeout, a connection refused or cut before the response
 * started, or a response cut after it did.
 */
function upstreamFailureDetails(reason: string, started: boolean): string {
  switch (reason) {
    case 'upstream-timeout': return 'upstream_response_timeout';
    case 'upstream-unreachable': return 'upstream_reset_before_response_started{remote_connection_failure}';
    case 'upstream-reset': return started ? 'upstream_reset_after_response_started{connection_termination}' : 'upstream_reset_before_response_started{connection_termination}';
    default: return reason;
  }
}

export class Observation {
  private readonly start = performance.now();
  private readonly socket: IncomingMessage['socket'];
  private readonly bytes0: number;
  private route: RouteConfig | undefined;
  private routeMetrics: RouteMetrics | undefined;
  private caller: Caller | null | undefined;
  private result: 'allow' | 'deny' | 'login' | undefined;
  private ip: string | undefined;
  private upstreamStart = 0;
  private upstreamMs = 0;
  private upstream: string | undefined;
  private upstreamError: string | undefined;
  private upstreamDone = false;
  /** Response body bytes, when whoever wrote the body counted them (the upstream's, relayed). */
  private bodyBytes: number | undefined;
  /** Set while a websocket tunnel is open: its `101`, logged when the tunnel closes. */
  private tunnelStatus: number | undefined;
  /** Why Limen answered with its error page (the first reason), and whether that is an error on the span. */
  private refusal: { readonly reason: string | undefined; readonly error: boolean } | undefined;
  private closed = false;
  private finished = false;

  constructor(
    private readonly o: Observer,
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
    readonly requestId: string,
    private readonly config: Config,
    private readonly span: RequestSpan | undefined,
  ) {
    this.socket = req.socket;
    this.bytes0 = req.socket.bytesWritten;
  }

  /** Whether this request is traced (then each phase gets a span of its own). */
  get tracing(): boolean {
    return this.span !== undefined;
  }

  /** Starts a child span (identify, policy, sign); undefined when tracing is off. */
  phase(name: string): PhaseSpan | undefined {
    return this.span?.phase(name);
  }

  /**
   * Names the route of a request refused before any decision (a websocket
   * upgrade on a route that takes none): its metrics and access line are
   * the route's, not Limen's own.
   */
  routed(route: RouteConfig): void {
    this.route = route;
    this.routeMetrics = this.o.metrics?.route(route);
  }

  /**
   * Records the policy decision on a route: metrics and the authorize log
   * line. `decision.rule` tells a deny rule that matched (Pomerium's
   * `deny: true`) from an allow that did not (`allow: false`, `deny: false`).
   */
  decided(route: RouteConfig, decision: { readonly result: 'allow' | 'deny' | 'login'; readonly rule: string | undefined }, reasons: readonly string[], caller: Caller | null, ip: string): void {
    const result = decision.result;
    this.route = route;
    this.caller = caller;
    this.result = result;
    this.ip = ip;
    const m = this.o.metrics?.route(route);
    this.routeMetrics = m;
    if (m) {
      m.decision(result, reasons[0]);
      if (caller && caller.kind !== 'session') m.credential(caller.kind);
    }
    this.o.accessLog?.decision({ req: this.req, requestId: this.requestId, config: this.config, route, result, byDenyRule: result === 'deny' && decision.rule !== undefined, reasons, caller, ip });
  }

  /**
   * Limen answered this request with its error page (web `fail`, where
   * every page of a request with a context is sent): the span gets the first
   * reason as `limen.reason`, and status ERROR described by it when the
   * status is a 5xx or `error` says a 4xx is one too.
   */
  refused(reason: string | undefined, error: boolean): void {
    this.refusal = { reason, error };
  }

  /**
   * Marks the start of the upstream call; with tracing on, starts its span
   * and points the upstream's `traceparent` at it.
   */
  upstreamStarted(headers: string[]): PhaseSpan | undefined {
    this.upstreamStart = performance.now();
    const s = this.span?.phase('limen.upstream');
    if (s && this.span) this.span.inject(headers, s);
    return s;
  }

  /**
   * The body bytes of a response Limen wrote itself (its pages, a tunnel's
   * bytes): what went out on the socket for it, less the status line and
   * headers. `size` is the body, as in Pomerium's access log.
   */
  private ownBodyBytes(status: number): number {
    if (this.req.method === 'HEAD' || status === 204 || status === 304 || (status >= 100 && status < 200 && this.tunnelStatus === undefined)) return 0;
    const head = (this.res as { _header?: string | null })._header;
    return Math.max(0, this.socket.bytesWritten - this.bytes0 - (typeof head === 'string' ? Buffer.byteLength(head, 'latin1') : 0));
  }

  /**
   * Marks the end of the upstream call (the response relayed, or failed),
   * with the body bytes relayed: given only when the upstream's response
   * started (a failure without them happened before it did).
   */
  upstreamEnded(upstream: string | undefined, error?: string, bodyBytes?: number): void {
    this.bodyBytes = bodyBytes;
    this.upstreamMs = performance.now() - this.upstreamStart;
    this.upstream = upstream;
    this.upstreamError = error;
    this.upstreamDone = true;
    // The response may have closed first (its 'close' runs before forward()'s promise settles).
    if (this.closed) this.finish();
  }

  /**
   * A websocket tunnel opened to `upstream`: the request is recorded when
   * the tunnel closes, as `101` with the tunnel's lifetime as its duration.
   */
  tunnelOpened(upstream: string, closed: { once(event: 'close', f: () => void): unknown }): void {
    this.tunnelStatus = 101;
    this.upstream = upstream;
    closed.once('close', () => this.finish());
  }

  /** Called when the response closes; records once the upstream call, if any, has settled too. */
  finish(): void {
    this.closed = true;
    if (this.finished || (this.upstreamStart > 0 && !this.upstreamDone)) return;
    this.finished = true;
    const { req, res } = this;
    const totalMs = performance.now() - this.start;
    const status = this.tunnelStatus ?? (res.headersSent ? res.statusCode : 0);
    const m = this.routeMetrics ?? this.o.metrics?.unrouted;
    if (m) {
      m.request(req.method ?? 'OTHER', status);
      m.own.observe(Math.max(0, totalMs - this.upstreamMs) / 1000);
      if (this.upstreamStart > 0) m.upstream.observe(this.upstreamMs / 1000);
    }
    const details = this.tunnelStatus !== undefined ? 'via_upstream'
      : this.upstreamError !== undefined ? upstreamFailureDetails(this.upstreamError, this.bodyBytes !== undefined)
      : !res.writableFinished ? ((this.socket as { [CUT_AT_SHUTDOWN]?: boolean })[CUT_AT_SHUTDOWN] === true ? 'limen_shutdown_cut' : 'downstream_remote_disconnect')
        : this.upstreamStart > 0 ? 'via_upstream'
          : this.result === 'deny' || this.result === 'login' ? 'ext_authz_denied'
            : this.refusal?.reason === 'route-not-found' ? 'route_not_found' : 'limen_response';
    this.o.accessLog?.access({
      req, res, socket: this.socket, peer: this.socket.remoteAddress, requestId: this.requestId, durationMs: totalMs, status, config: this.config,
      route: this.route, upstream: this.upstream, caller: this.caller, details,
      bytes: this.bodyBytes ?? this.ownBodyBytes(status), ip: this.ip,
    });
    // A 4xx is the client's error, left Unset on a SERVER span (OTel HTTP semantic conventions), unless
    // the refusal was called an error: a sign-in or sign-out that failed (docs/operations.md).
    const error = status >= 500 || status === 0 || this.upstreamError !== undefined || this.refusal?.error === true;
    this.span?.end({
      'http.response.status_code': status,
      'limen.route': this.route?.name,
      'limen.request_id': this.requestId,
      'limen.decision': this.result,
      'url.path': loggablePath((req.url ?? '').split('?')[0]!),
      'limen.reason': this.refusal?.reason,
    }, error && (this.refusal?.reason ?? this.upstreamError ?? true));
  }
}

export interface ObserverOptions {
  readonly metrics?: Metrics | undefined;
  readonly accessLog?: AccessLog | undefined;
  readonly tracer?: Tracer | undefined;
}

/** Starts Observations; holds the metrics, the access log and the tracer for the process. */
export class Observer {
  /** Undefined while metrics are off; the benchmark switches it (and `accessLog`) to compare on and off in one process. */
  metrics: Metrics | undefined;
  accessLog: AccessLog | undefined;
  readonly tracer: Tracer | undefined;

  constructor(o: ObserverOptions) {
    this.metrics = o.metrics;
    this.accessLog = o.accessLog;
    this.tracer = o.tracer;
  }

  /**
   * A request Node.js's HTTP parser refused (not HTTP/1.1, headers too
   * large, conflicting lengths), which Limen answered with an error page on
   * the socket: counted and logged like any other request, with what is
   * known of it (no method, path or headers: they did not parse), its
   * request id the one on the page, and no time of its own to speak of.
   */
  refused(socket: IncomingMessage['socket'], requestId: string, status: number, bytes: number, config: Config, reason?: string): void {
    const m = this.metrics?.unrouted;
    if (m) {
      m.request('OTHER', status);
      m.own.observe(0);
    }
    const req = { headers: {}, socket } as unknown as IncomingMessage;
    // A span of its own too (no method: it did not parse), with the reason its page gives.
    this.tracer?.startRequest(req).end({ 'http.response.status_code': status, 'limen.request_id': requestId, 'limen.reason': reason }, status >= 500 && (reason ?? true));
    this.accessLog?.access({
      req, socket, peer: socket.remoteAddress, requestId, durationMs: 0, status, config, route: undefined, upstream: undefined, caller: undefined,
      details: reason === 'request-headers-too-large' ? 'http1.headers_too_large' : reason === 'request-timeout' ? 'request_header_timeout' : 'http1.codec_error', bytes,
    });
  }

  /** Starts observing a request, or returns undefined when nothing would be recorded for `config`. */
  begin(req: IncomingMessage, res: ServerResponse, requestId: string, config: Config): Observation | undefined {
    if (!this.metrics && !this.tracer && this.accessLog?.anyEnabled(config) !== true) return undefined;
    const obs = new Observation(this, req, res, requestId, config, this.tracer?.startRequest(req));
    (res as Observed)[OBSERVATION] = obs;
    res.on('close', onClose); // a response closes once: no once-wrapper per request
    return obs;
  }
}
