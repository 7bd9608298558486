import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Dispatcher } from 'undici';
// The Agent alone, not undici's index (see undici-agent.d.ts).
import Agent from 'undici/lib/dispatcher/agent.js';
import type { RouteConfig, Upstream } from '../config/index.js';
import { buildResponseHeaders } from './headers.js';

/** Why forwarding failed, mapped to 502/504 by the caller. */
export class UpstreamError extends Error {
  /** `upstream`: the origin tried last (the access log's `upstream-cluster`, the span's peer). */
  constructor(readonly status: 502 | 504, readonly reason: 'upstream-unreachable' | 'upstream-reset' | 'upstream-timeout', cause?: unknown, readonly upstream?: string) {
    super(reason, { cause });
    this.name = 'UpstreamError';
  }
}

const DOWN_FOR_MS = 5_000;

/**
 * Picks upstreams for a route: weighted random order, with upstreams that
 * recently refused connections moved to the back (passive health check), so
 * a failed connect can fail over to the next one.
 */
export class UpstreamSelector {
  private readonly downUntil = new Map<string, number>();
  private readonly total: number;

  constructor(private readonly upstreams: readonly Upstream[], private readonly random: () => number = Math.random) {
    this.total = upstreams.reduce((s, u) => s + u.weight, 0);
  }

  /** Upstreams in the order to try them. */
  order(now: number): Upstream[] {
    const list = this.upstreams;
    if (list.length === 1) return [list[0]!];
    let r = this.random() * this.total;
    let first = 0;
    for (let i = 0; i < list.length; i++) {
      r -= list[i]!.weight;
      if (r < 0) { first = i; break; }
    }
    const ordered = [list[first]!, ...list.filter((_, i) => i !== first)];
    const up = ordered.filter((u) => !this.isDown(u, now));
    const down = ordered.filter((u) => this.isDown(u, now));
    return [...up, ...down];
  }

  markDown(u: Upstream, now: number): void {
    this.downUntil.set(u.url.origin, now + DOWN_FOR_MS);
  }

  private isDown(u: Upstream, now: number): boolean {
    const t = this.downUntil.get(u.url.origin);
    return t !== undefined && t > now;
  }
}

/**
 * How Limen connects to a route's https upstream: whether and with which CAs
 * it verifies the upstream, and the client certificate it presents when the
 * upstream asks for one (`tls_client_cert*` / `tls_client_key*`). Files are
 * read when the connection pool (or websocket connection) is made.
 */
export function upstreamTlsOptions(route: RouteConfig): { rejectUnauthorized: boolean; ca?: string | Buffer; cert?: string | Buffer; key?: string | Buffer } {
  const ca = route.tlsCustomCaFile ? readFileSync(route.tlsCustomCaFile) : route.tlsCustomCa;
  const cert = route.tlsClientCertFile ? readFileSync(route.tlsClientCertFile) : route.tlsClientCert;
  const key = route.tlsClientKeyFile ? readFileSync(route.tlsClientKeyFile) : route.tlsClientKey;
  return {
    rejectUnauthorized: !route.tlsSkipVerify,
    ...(ca ? { ca } : {}),
    ...(cert && key ? { cert, key } : {}),
  };
}

/** One pooled keep-alive dispatcher per distinct upstream TLS setting. */
export class DispatcherPool {
  private readonly agents = new Map<string, Agent>();
  /** The agent of each route object (a config is immutable): no key to build per request. */
  private readonly byRoute = new WeakMap<RouteConfig, Agent>();

  get(route: RouteConfig): Dispatcher {
    const known = this.byRoute.get(route);
    if (known !== undefined && !known.closed && !known.destroyed) return known;
    const key = JSON.stringify([route.tlsSkipVerify, route.tlsCustomCaFile, route.tlsCustomCa, route.tlsServerName,
      route.tlsClientCertFile, route.tlsClientCert, route.tlsClientKeyFile, route.tlsClientKey]);
    let agent = this.agents.get(key);
    if (!agent) {
      agent = new Agent({
        keepAliveTimeout: 30_000,
        keepAliveMaxTimeout: 300_000,
        connections: 256,
        connect: {
          ...upstreamTlsOptions(route),
          ...(route.tlsServerName ? { servername: route.tlsServerName } : {}),
        },
      });
      this.agents.set(key, agent);
    }
    this.byRoute.set(route, agent);
    return agent;
  }

  /**
   * Closes every pooled connection. Called after the listener has drained,
   * when no request should be left; one that is (an upstream that never
   * finishes) is cut after a second rather than holding shutdown forever.
   */
  async close(): Promise<void> {
    await Promise.all([...this.agents.values()].map(async (a) => {
      let timer: NodeJS.Timeout | undefined;
      const bound = new Promise<void>((resolve) => { timer = setTimeout(resolve, 1_000); });
      await Promise.race([a.close().catch(() => undefined), bound]);
      clearTimeout(timer);
      await a.destroy().catch(() => undefined);
    }));
    this.agents.clear();
  }
}

/**
 * Rewrites the request path for an upstream: `prefix_rewrite`, else the
 * path of the route's first `to` (as Pomerium takes it, for every upstream
 * of the route), replaces the matched prefix; on a `path` or `regex` route
 * the whole path was matched, and is replaced (Envoy's prefix_rewrite).
 */
export function upstreamPath(route: RouteConfig, _upstream: Upstream, pathAndQuery: string): string {
  const q = pathAndQuery.indexOf('?');
  const path = q < 0 ? pathAndQuery : pathAndQuery.slice(0, q);
  const query = q < 0 ? '' : pathAndQuery.slice(q);
  const toPath = route.to[0]?.url.pathname ?? '/';
  const rewrite = route.prefixRewrite ?? (toPath !== '/' && toPath !== '' ? toPath : undefined);
  if (rewrite === undefined) return path + query;
  if (route.path !== undefined || route.regex !== undefined) return rewrite + query;
  const matched = route.prefix ?? '/';
  if (path.startsWith(matched)) return joinPath(rewrite, path.slice(matched.length), matched.endsWith('/')) + query;
  return joinPath(rewrite, path, false) + query;
}

function joinPath(prefix: string, rest: string, restFollowsSlash: boolean): string {
  if (restFollowsSlash) return prefix.endsWith('/') ? prefix + rest : `${prefix}/${rest}`;
  if (prefix.endsWith('/') && rest.startsWith('/')) return prefix + rest.slice(1);
  if (!prefix.endsWith('/') && !rest.startsWith('/') && rest !== '') return `${prefix}/${rest}`;
  return prefix + rest;
}

export interface ForwardRequest {
  readonly req: IncomingMessage;
  readonly res: ServerResponse;
  readonly route: RouteConfig;
  readonly selector: UpstreamSelector;
  readonly dispatcher: Dispatcher;
  /** Flat header list from buildUpstreamHeaders, made for this request: the Host of each upstream tried is set in it, in place. */
  readonly headers: string[];
  /** Whether the Host sent is the upstream's (`host_rewrite`, else the upstream's own), set per upstream tried; false with `preserve_host_header`. */
  readonly hostFromUpstream: boolean;
  readonly requestId: string;
  readonly now: () => number;
  /** Cookie names only Limen may set; an upstream's Set-Cookie for them is dropped. */
  readonly ownCookies: ReadonlySet<string>;
}

/** Why a request is aborted when its route timeout runs out (onResponseError tells it by `timedOut`). */
const ROUTE_TIMEOUT = new Error('the route timeout was exceeded');

const RETRYABLE_CONNECT = new Set(['ECONNREFUSED', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN', 'UND_ERR_CONNECT_TIMEOUT']);

/** Why a request is aborted when the client went away while it was forwarded. */
const CLIENT_GONE = new Error('client closed the connection');

/** How a forward ended (the promise forward() returns). */
export interface Forwarded {
  readonly status: number;
  readonly upstream: string;
  readonly failure?: string;
  readonly bytes: number;
}

/**
 * Streams the request to an upstream and the response back, without
 * buffering either body: response chunks are written straight to the
 * client, and the upstream socket is paused while the client is slow
 * (backpressure). Fails over to the next upstream only when the connection
 * could not be opened (nothing of the body was sent). The route timeout
 * bounds the whole exchange, from dispatch to the response's last byte (as
 * Pomerium's route timeout does): exceeded before the response started it
 * is a 504; after, the response is cut. Resolves when the response has been
 * sent, cut, or the client went away (`failure` says why a started response
 * was cut); rejects with UpstreamError before any byte was sent.
 */
export function forward(f: ForwardRequest): Promise<Forwarded> {
  return new Promise((resolve, reject) => {
    new Exchange(f, f.selector.order(f.now()), resolve, reject).attempt(0);
  });
}

/**
 * One forwarded request, and undici's handler for it. It uses undici's
 * dispatch API with the handler interface undici calls itself (onConnect,
 * onHeaders, onData, onComplete, onError), the cheapest path it offers:
 * the response's fields arrive as the raw list they are relayed from, with
 * no adapter or header object per request, and one object holds the whole
 * exchange rather than a closure per callback.
 */
class Exchange {
  private readonly hasBody: boolean;
  private index = 0;
  private upstream!: Upstream;
  private abortUpstream: ((reason: Error) => void) | undefined;
  private resumeUpstream: (() => void) | undefined;
  private status = 0;
  /** Response body bytes relayed (the access log's `size`). */
  private bytes = 0;
  private settled = false;
  private clientGone = false;
  private timedOut = false;
  private timer: NodeJS.Timeout | undefined;
  private listening = false;

  constructor(
    private readonly f: ForwardRequest,
    private readonly candidates: readonly Upstream[],
    private readonly resolve: (r: Forwarded) => void,
    private readonly reject: (e: UpstreamError) => void,
  ) {
    const h = f.req.headers;
    this.hasBody = h['content-length'] !== undefined ? h['content-length'] !== '0' : h['transfer-encoding'] !== undefined;
  }

  attempt(index: number): void {
    const { f } = this;
    const { req, res, route } = f;
    this.index = index;
    const upstream = this.candidates[index]!;
    this.upstream = upstream;
    this.abortUpstream = undefined;
    this.resumeUpstream = undefined;
    this.status = 0;
    this.bytes = 0;
    this.settled = false;
    this.timedOut = false;
    // The client may have gone while Limen was authorizing: its response's
    // 'close' has already fired and will not fire again, so opening an
    // upstream request now would leave it paused on a dead socket, holding
    // a pooled upstream connection until the upstream times out.
    if (clientHasGone(req, res)) {
      this.resolve({ status: 499, upstream: upstream.url.origin, bytes: 0 });
      return;
    }
    // One timer for the whole exchange (undici's own timeouts bound only a phase each, at a coarse 0.5 s grain).
    this.timer = route.timeoutMs > 0 ? setTimeout(this.onTimeout, route.timeoutMs) : undefined;
    // Left on the response once settled rather than removed (a response
    // closes once, and removing a listener costs more than onClientClose's check).
    if (!this.listening) {
      this.listening = true;
      res.on('close', this.onClientClose);
    }
    f.dispatcher.dispatch({
      origin: upstream.url.origin,
      path: upstreamPath(route, upstream, req.url ?? '/'),
      method: req.method as Dispatcher.HttpMethod,
      headers: f.hostFromUpstream ? withHost(f.headers, route.hostRewrite ?? upstream.url.host) : f.headers,
      body: this.hasBody ? req : null,
      headersTimeout: 0,
      bodyTimeout: route.idleTimeoutMs,
    }, this as unknown as Dispatcher.DispatchHandler);
  }

  private readonly onTimeout = (): void => {
    this.timedOut = true;
    this.abortUpstream?.(ROUTE_TIMEOUT);
  };

  private readonly onClientClose = (): void => {
    if (this.settled || this.f.res.writableFinished) return;
    this.clientGone = true;
    this.abortUpstream?.(CLIENT_GONE);
  };

  private readonly onDrain = (): void => {
    this.resumeUpstream?.();
  };

  private settle(): boolean {
    if (this.settled) return false;
    this.settled = true;
    if (this.timer !== undefined) clearTimeout(this.timer);
    return true;
  }

  // undici's handler interface, called by undici only.

  onConnect(abort: (reason: Error) => void): void {
    this.abortUpstream = abort;
    if (this.clientGone) abort(CLIENT_GONE);
    else if (this.timedOut) abort(ROUTE_TIMEOUT);
  }

  onHeaders(statusCode: number, rawHeaders: Buffer[], resume: () => void): boolean {
    if (statusCode < 200) return true; // 1xx: informational, the real answer follows
    this.status = statusCode;
    this.resumeUpstream = resume;
    const f = this.f;
    f.res.writeHead(statusCode, buildResponseHeaders(rawHeaders, f.route, f.requestId, f.ownCookies));
    return true;
  }

  onData(chunk: Buffer): boolean {
    this.bytes += chunk.length;
    const res = this.f.res;
    if (res.write(chunk) || res.destroyed) return true;
    // Backpressure: paused until the client drains; a client that goes away
    // instead is handled by onClientClose, which aborts the paused request.
    res.once('drain', this.onDrain);
    return false;
  }

  onComplete(): void {
    if (!this.settle()) return;
    this.f.res.end();
    this.resolve({ status: this.status, upstream: this.upstream.url.origin, bytes: this.bytes });
  }

  onError(err: Error): void {
    if (!this.settle()) return;
    const { f, upstream } = this;
    const origin = upstream.url.origin;
    const code = (err as { code?: string }).code ?? '';
    if (this.clientGone) {
      // Nobody is listening: cut the response.
      f.res.destroy();
      this.resolve({ status: 499, upstream: origin, bytes: this.bytes });
      return;
    }
    const timeout = this.timedOut || code === 'UND_ERR_BODY_TIMEOUT';
    if (this.status !== 0) {
      // Headers already went out: the response can only be cut, and the log says why.
      f.res.destroy();
      this.resolve({ status: this.status, upstream: origin, failure: timeout ? 'upstream-timeout' : 'upstream-reset', bytes: this.bytes });
      return;
    }
    if (timeout || code === 'UND_ERR_HEADERS_TIMEOUT') { this.reject(new UpstreamError(504, 'upstream-timeout', err, origin)); return; }
    if (RETRYABLE_CONNECT.has(code)) {
      f.selector.markDown(upstream, f.now());
      if (!this.hasBody && this.index + 1 < this.candidates.length) { this.attempt(this.index + 1); return; }
      this.reject(new UpstreamError(502, 'upstream-unreachable', err, origin));
      return;
    }
    this.reject(new UpstreamError(502, 'upstream-reset', err, origin));
  }
}

/** True once the client's connection or response is gone: nobody would read an answer. */
function clientHasGone(req: IncomingMessage, res: ServerResponse): boolean {
  return res.destroyed || req.socket.destroyed || (req.destroyed && !req.complete);
}

/** `headers` (the request's own list, made for it) with `host` as its Host, set in place: each attempt sets its upstream's. */
function withHost(headers: string[], host: string): string[] {
  for (let i = 0; i < headers.length; i += 2) {
    if (headers[i] === 'host') { headers[i + 1] = host; return headers; }
  }
  headers.push('host', host);
  return headers;
}
