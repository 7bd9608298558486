/**
 * Limen's Prometheus metrics (prom-client), one registry per process. Every
 * metric is listed in docs/operations.md. Labels are bounded: routes by
 * name (never a request path), methods folded into a fixed set, status by
 * class, reasons from Limen's own closed set of reason codes.
 *
 * The request path pays for a few array increments: counts are handed to
 * prom-client at scrape time, and the two per-route latency histograms keep
 * their buckets in arrays read when scraped (route-histogram.ts).
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { RouteConfig } from '../config/index.js';
import { RouteHistogram, type HistogramSeries } from './route-histogram.js';

/** Route label for requests Limen answered without proxying them on a route (endpoints, sign-in, refusals before routing). */
export const UNROUTED = '(limen)';

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'CONNECT', 'TRACE', 'OTHER'] as const;
const METHOD_INDEX: Readonly<Record<string, number>> = Object.fromEntries(METHODS.map((m, i) => [m, i]));
const STATUS_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx', 'other'] as const;
const REASON = /^[a-z0-9][a-z0-9-]{0,63}$/;

/** Limen's own time: from the request's arrival to its response, less the upstream's time. */
const OWN_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
const UPSTREAM_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const STORE_BUCKETS = [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5];

type CounterChild = ReturnType<Counter<string>['labels']>;

interface DecisionCount {
  readonly result: string;
  readonly reason: string;
  n: number;
  child?: CounterChild;
}

/** Distinct reasons remembered per route and result (see RouteMetrics.decision). */
const MAX_REASONS_KEPT = 256;

/**
 * One route's metrics. Counts are kept here as plain numbers on the
 * request path and handed to prom-client when it is scraped (each counter's
 * `collect`): a prom-client `inc` hashes its labels on every call, which
 * cost more than everything else the metrics do per request. The latency
 * series are resolved once and observed directly.
 */
export class RouteMetrics {
  /** Requests not yet handed over, by method index × status class. */
  private readonly requestCounts = new Float64Array(METHODS.length * STATUS_CLASSES.length);
  private readonly requestChildren: (CounterChild | undefined)[] = [];
  /** Decision counts by result: by label value, and looked up by the reason as given (folded once, when first seen). */
  private readonly decisions = new Map<string, { readonly labels: Map<string, DecisionCount>; readonly byReason: Map<string | undefined, DecisionCount> }>();
  private readonly credentials = new Map<string, { n: number; child?: CounterChild }>();
  readonly own: HistogramSeries;
  readonly upstream: HistogramSeries;

  constructor(private readonly m: Metrics, readonly name: string) {
    this.own = m.ownDuration.route(name);
    this.upstream = m.upstreamDuration.route(name);
  }

  /** Counts one finished request; `method` as sent, `status` 0 when no response was started. */
  request(method: string, status: number): void {
    const mi = METHOD_INDEX[method] ?? METHOD_INDEX.OTHER!;
    const ci = status >= 100 && status < 600 ? Math.floor(status / 100) - 1 : 5;
    this.requestCounts[mi * STATUS_CLASSES.length + ci]! += 1;
  }

  /** Counts one policy decision by result and its first reason. */
  decision(result: string, reason: string | undefined): void {
    let r = this.decisions.get(result);
    if (r === undefined) {
      r = { labels: new Map(), byReason: new Map() };
      this.decisions.set(result, r);
    }
    let d = r.byReason.get(reason);
    if (d === undefined) {
      // First sight of this reason: fold it to its label value once.
      const label = reason !== undefined && REASON.test(reason) ? reason : reason === undefined ? 'none' : 'other';
      d = r.labels.get(label);
      if (d === undefined) {
        d = { result, reason: label, n: 0 };
        r.labels.set(label, d);
      }
      // Reasons are Limen's own codes; past this many, odd ones are folded again each time rather than remembered.
      if (r.byReason.size < MAX_REASONS_KEPT) r.byReason.set(reason, d);
    }
    d.n++;
  }

  /** Counts a request made with a service account or a route-scoped token. */
  credential(kind: string): void {
    const c = this.credentials.get(kind);
    if (c === undefined) this.credentials.set(kind, { n: 1 });
    else c.n++;
  }

  /** Hands the request counts over to prom-client (at scrape). */
  collectRequests(): void {
    const counts = this.requestCounts;
    for (let i = 0; i < counts.length; i++) {
      const n = counts[i]!;
      if (n === 0) continue;
      counts[i] = 0;
      let child = this.requestChildren[i];
      if (child === undefined) {
        child = this.m.requests.labels(this.name, METHODS[Math.floor(i / STATUS_CLASSES.length)]!, STATUS_CLASSES[i % STATUS_CLASSES.length]!);
        this.requestChildren[i] = child;
      }
      child.inc(n);
    }
  }

  /** Hands the decision counts over to prom-client (at scrape). */
  collectDecisions(): void {
    for (const r of this.decisions.values()) {
      for (const d of r.labels.values()) {
        if (d.n === 0) continue;
        (d.child ??= this.m.decisions.labels(this.name, d.result, d.reason)).inc(d.n);
        d.n = 0;
      }
    }
  }

  /** Hands the credential counts over to prom-client (at scrape). */
  collectCredentials(): void {
    for (const [kind, c] of this.credentials) {
      if (c.n === 0) continue;
      (c.child ??= this.m.credentialUses.labels(this.name, kind)).inc(c.n);
      c.n = 0;
    }
  }
}

/** Things read at scrape time rather than counted on the request path. */
export interface ScrapeSources {
  /** Events queued for the store and total dropped since start. */
  audit?(): { queued: number; dropped: number };
  /** Standard output's lines lost since start (dropped behind a slow reader, or failed to write). */
  logLinesLost?(): number;
  /** Read-cache hits and misses since start. */
  cache?(): { hits: number; misses: number };
  /** Sessions in the store (may be slow: throttled by the caller). */
  activeSessions?(): Promise<number>;
  /** IdP failures by operation since start, over every IdP client the reloads built. */
  idpErrors?(): Readonly<Record<'discovery' | 'exchange' | 'refresh', number>>;
}

export class Metrics {
  readonly registry = new Registry();
  readonly requests: Counter<string>;
  readonly ownDuration: RouteHistogram;
  readonly upstreamDuration: RouteHistogram;
  readonly decisions: Counter<string>;
  readonly credentialUses: Counter<string>;
  readonly signIns: Counter<string>;
  readonly signInFailures: Counter<string>;
  readonly idpErrors: Counter<string>;
  readonly sessionRefreshes: Counter<string>;
  readonly storeDuration: Histogram<string>;
  readonly storeErrors: Counter<string>;
  readonly configReloads: Counter<string>;
  readonly configReloadTime: Gauge<string>;
  readonly configReloadOk: Gauge<string>;
  private readonly routes = new Map<string, RouteMetrics>();
  private readonly byConfig = new WeakMap<RouteConfig, RouteMetrics>();
  private sources: ScrapeSources = {};
  private readonly countedIdpErrors = new Map<string, number>();
  readonly unrouted: RouteMetrics;

  constructor(info: { version: string }) {
    const registers = [this.registry];
    const self = this;
    const counter = (name: string, help: string, labelNames: string[] = []) => new Counter({ name, help, labelNames, registers });
    // Counted per route on the request path, handed over here when scraped (see RouteMetrics).
    const routes = (): RouteMetrics[] => [self.unrouted, ...self.routes.values()];
    this.requests = new Counter({ name: 'limen_http_requests_total', help: 'Requests answered, by route name, method and status class.', labelNames: ['route', 'method', 'status_class'], registers,
      collect() { for (const r of routes()) r.collectRequests(); } });
    this.ownDuration = new RouteHistogram('limen_request_duration_seconds', 'Limen\'s own time per request (total time less the upstream\'s), by route.', OWN_BUCKETS, this.registry);
    this.upstreamDuration = new RouteHistogram('limen_upstream_duration_seconds', 'Upstream time per proxied request, from dispatch to the end of the relayed response, by route.', UPSTREAM_BUCKETS, this.registry);
    this.decisions = new Counter({ name: 'limen_authorize_decisions_total', help: 'Policy decisions by route, result (allow, deny, login) and first reason.', labelNames: ['route', 'result', 'reason'], registers,
      collect() { for (const r of routes()) r.collectDecisions(); } });
    this.credentialUses = new Counter({ name: 'limen_credential_uses_total', help: 'Requests authenticated by a service account or a route-scoped token, by route and kind.', labelNames: ['route', 'kind'], registers,
      collect() { for (const r of routes()) r.collectCredentials(); } });
    this.signIns = counter('limen_sign_ins_total', 'Completed sign-ins (sessions created).');
    this.signInFailures = counter('limen_sign_in_failures_total', 'Sign-ins that failed at the callback, by reason.', ['reason']);
    // Collected (not only in scrape()) so a worker's registry read by the primary's aggregator counts them too.
    this.idpErrors = new Counter({ name: 'limen_idp_errors_total', help: 'Identity provider failures by operation (discovery, exchange, refresh).', labelNames: ['operation'], registers, collect() { self.countIdpErrors(); } });
    this.sessionRefreshes = counter('limen_session_refreshes_total', 'Session refreshes with the IdP, by result (success, failure).', ['result']);
    this.storeDuration = new Histogram({ name: 'limen_store_operation_duration_seconds', help: 'Store operation latency by operation (reads served by the read cache are not counted).', labelNames: ['operation'], buckets: STORE_BUCKETS, registers });
    this.storeErrors = counter('limen_store_operation_errors_total', 'Store operations that failed, by operation.', ['operation']);
    // With several workers (issue 16) each applies every reload: the group's count is the largest, the state the worst, the time the oldest.
    this.configReloads = new Counter({ name: 'limen_config_reloads_total', help: 'Config reloads by result (success, failure).', labelNames: ['result'], registers, aggregator: 'max' });
    this.configReloadTime = new Gauge({ name: 'limen_config_last_reload_success_timestamp_seconds', help: 'Unix time of the last successful config load or reload.', registers, aggregator: 'min' });
    this.configReloadOk = new Gauge({ name: 'limen_config_last_reload_success', help: '1 if the last config reload succeeded, 0 if it failed (the old config is still in use).', registers, aggregator: 'min' });
    new Gauge({
      name: 'limen_active_sessions', help: 'Sessions in the store (recounted per scrape, at most as often as 20 times the count\'s own duration, at least once a minute).', registers,
      aggregator: 'max', // every worker counts the same store
      // A store that cannot count (it is down) keeps the last count: the scrape, with the store errors it shows, must still answer.
      async collect() { if (self.sources.activeSessions) { try { this.set(await self.sources.activeSessions()); } catch { /* the last count stays */ } } },
    });
    new Gauge({
      name: 'limen_audit_queue_depth', help: 'Audit events waiting to be written to the store.', registers,
      collect() { const a = self.sources.audit?.(); if (a) this.set(a.queued); },
    });
    new Counter({
      name: 'limen_audit_events_dropped_total', help: 'Audit events dropped because the store was not keeping up.', registers,
      collect() { const a = self.sources.audit?.(); if (a) { this.reset(); this.inc(a.dropped); } },
    });
    new Counter({
      name: 'limen_log_lines_dropped_total', help: 'Lines of standard output lost (log, audit, access and authorize lines): dropped while standard output was too slow to take them (more than 16 MiB waiting), or failed to write.', registers,
      collect() { const n = self.sources.logLinesLost?.(); if (n !== undefined) { this.reset(); this.inc(n); } },
    });
    new Counter({
      name: 'limen_store_cache_requests_total', help: 'Reads of per-request record types by the read cache, by result (hit, miss). Hit ratio: hit / (hit + miss).', labelNames: ['result'], registers,
      collect() {
        const c = self.sources.cache?.();
        if (!c) return;
        this.reset();
        this.labels('hit').inc(c.hits);
        this.labels('miss').inc(c.misses);
      },
    });
    const build = new Gauge({ name: 'limen_build_info', help: 'Always 1; labels give Limen\'s and Node.js\'s versions.', labelNames: ['version', 'nodejs_version'], registers, aggregator: 'first' });
    build.labels(info.version, process.versions.node).set(1);
    collectDefaultMetrics({ register: this.registry });
    this.unrouted = new RouteMetrics(this, UNROUTED);
    // Known label values start at 0, so increase() sees the first event (labels() alone writes no series).
    for (const op of ['discovery', 'exchange', 'refresh']) this.idpErrors.labels(op).inc(0);
    for (const r of ['success', 'failure']) { this.sessionRefreshes.labels(r).inc(0); this.configReloads.labels(r).inc(0); }
  }

  /** The children of a route, keyed by its name (`name`, else `from`). */
  route(r: RouteConfig): RouteMetrics {
    let m = this.byConfig.get(r);
    if (m === undefined) {
      m = this.routes.get(r.name);
      if (m === undefined) {
        m = new RouteMetrics(this, r.name);
        this.routes.set(r.name, m);
      }
      this.byConfig.set(r, m);
    }
    return m;
  }

  setSources(s: ScrapeSources): void {
    this.sources = s;
  }

  /** Records a config load or reload. */
  configLoaded(ok: boolean, nowMs: number): void {
    this.configReloadOk.set(ok ? 1 : 0);
    if (ok) this.configReloadTime.set(nowMs / 1000);
  }

  /** Text exposition for a scrape. */
  scrape(): Promise<string> {
    return (this.scraping ??= this.registry.metrics().finally(() => { this.scraping = undefined; }));
  }

  /** The registry as JSON, for the primary of several workers to sum; shared by concurrent asks as scrape() is. */
  json(): ReturnType<Registry['getMetricsAsJSON']> {
    return (this.collectingJson ??= this.registry.getMetricsAsJSON().finally(() => { this.collectingJson = undefined; }));
  }

  /**
   * A collection under way, shared by whoever asks meanwhile: two scrapes at
   * once (a highly available pair of Prometheus servers) interleaved
   * prom-client's event-loop collector, which resets its histogram on each
   * collection, and one of them read a minimum lag of 9.2e9 s and NaN.
   */
  private scraping: Promise<string> | undefined;
  private collectingJson: ReturnType<Registry['getMetricsAsJSON']> | undefined;

  /** Adds the tally's growth since the last scrape (the tally outlives reloads, so nothing is lost or counted twice). */
  private countIdpErrors(): void {
    const counts = this.sources.idpErrors?.();
    if (!counts) return;
    for (const [op, n] of Object.entries(counts)) {
      const delta = n - (this.countedIdpErrors.get(op) ?? 0);
      if (delta > 0) {
        this.idpErrors.labels(op).inc(delta);
        this.countedIdpErrors.set(op, n);
      }
    }
  }

  /** Names of every metric family this registry exports (for the dashboard test). */
  metricNames(): string[] {
    return this.registry.getMetricsAsArray().map((m) => m.name);
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
