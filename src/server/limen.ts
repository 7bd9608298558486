import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { readFileSync } from 'node:fs';
import type { AddressInfo, ListenOptions, Socket } from 'node:net';
import { isDeepStrictEqual } from 'node:util';
import type { Config } from '../config/index.js';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { openStoreWithRetry, ReadCachingStore, startUpkeep, type Store } from '../store/index.js';
import { AuditLog } from '../audit/index.js';
import { IdpError, Identifier, SessionStore, idpFailureFields, type IdpErrorCounts } from '../authn/index.js';
import { directoryEnricher, matchesAdministrators, routeTokenResolver, serviceAccountResolver, upsertUserFromClaims } from '../accounts/index.js';
import { createLogger, type Logger } from '../log/index.js';
import { DispatcherPool } from '../proxy/index.js';
import { bindFailureReason, ListenError, errorResponseBytes, newRequestId, STATUS_TITLES } from '../http/index.js';
import { describeReason } from '../authz/index.js';
import { buildRuntime, type Runtime, type Services } from '../web/index.js';
import { handleConnect, handleRequest, handleUpgrade, type Live } from './handler.js';
import { drainable, LOG_DRAIN_LIMIT_MS, settlesWithin } from './drain.js';
import { configChanges, pinRestartKeys } from './reload.js';
import { autocertHosts, httpsPortOf, tlsOptions } from './tls.js';
import { createObserver, Health, lineDestination, measuredStore, startListeners, type HealthReport, type LineDestination, type Observer, type ObservabilityListeners } from '../observe/index.js';
import { AutocertManager, defaultAutocertDir, LETS_ENCRYPT, LETS_ENCRYPT_STAGING, startRedirectListener, type RedirectListener } from '../autocert/index.js';

export interface StartOptions {
  readonly config: Config;
  /** Use this store instead of opening the configured one (tests). */
  readonly store?: Store;
  readonly logger?: Logger;
  readonly now?: () => number;
  /** How often open websockets are re-authorized; default one minute. */
  readonly websocketRecheckMs?: number;
  /** Where access and authorize log lines go; default standard output, or `logger` when one is given. */
  readonly accessLogDestination?: LineDestination;
  /** Automatic certificates (tests): the clock renewal is judged by, and acme-client's HTTP retries. */
  readonly autocert?: { readonly now?: () => number; readonly httpRetries?: number };
  /**
   * As one of several worker processes (issue 16): the primary serves the
   * metrics and health listeners (`observabilityListeners: false`); with
   * `reusePort` this process binds its own socket on the address (Linux
   * SO_REUSEPORT; `port` pins the one the first worker got for port 0),
   * else node:cluster shares the primary's; `logBase` goes on every access line.
   */
  readonly worker?: { readonly reusePort: boolean; readonly port?: number; readonly logBase: Readonly<Record<string, unknown>> };
}

/** What a reload did. */
export interface ReloadResult {
  /**
   * Config keys whose new value the running process cannot apply (the
   * listener, TLS, the store, ...): they keep their running value until a
   * restart. Empty when the whole config was applied.
   */
  readonly restartRequired: readonly string[];
}

/** A running Limen: its URL, a reload entry point, and close. */
export interface RunningLimen {
  readonly url: string;
  readonly port: number;
  readonly services: Services;
  runtime(): Runtime;
  /**
   * Applies a new config to new requests; throws (keeping the old one) if it
   * is invalid. Keys listed in RESTART_KEYS keep their running value and
   * are named in the result.
   */
  reload(config: Config): Promise<ReloadResult>;
  /** Counts a reload that failed before reaching `reload` (the file did not parse). */
  reloadFailed(): void;
  /** The metrics and health listeners (issue 12); closed by `close()`, closable on their own to join a drain. */
  readonly observability: ObservabilityListeners;
  /** With `autocert`: the certificate manager (issue 15). */
  readonly autocert: AutocertManager | undefined;
  /** The port of the `http_redirect_addr` listener, when there is one. */
  readonly redirectPort: number | undefined;
  /** This process's health report (the primary of several workers asks each one). */
  healthReport(kind: 'startupz' | 'readyz' | 'healthz'): Promise<HealthReport>;
  /**
   * Graceful shutdown: stops accepting, lets requests in flight finish for
   * up to `shutdown_timeout`, closes keep-alive connections without a
   * reset, then flushes the audit trail and closes the store.
   */
  close(): Promise<void>;
}

/** Raised when the listen address cannot be bound; everything opened before is closed again. */
export { ListenError };

/** Starts the proxy on `address` with the given config. */
export async function startLimen(opts: StartOptions): Promise<RunningLimen> {
  const config = opts.config;
  const now = opts.now ?? Date.now;
  const logger = opts.logger ?? createLogger(config.logLevel);
  // IdP failures since start, counted by the IdP client of every runtime (limen_idp_errors_total).
  const idpErrors: IdpErrorCounts = { discovery: 0, exchange: 0, refresh: 0 };
  const rt0 = await buildRuntime(config, now, idpErrors);
  // observe (issue 12): metrics, access log, tracing; the store is timed below the read cache.
  const observer = await createObserver({
    config,
    destination: opts.accessLogDestination ?? (opts.logger ? lineDestination((l) => opts.logger!.record(JSON.parse(l) as Record<string, unknown>)) : undefined),
    logBase: opts.worker?.logBase,
    logger,
  });
  const rawStore = measuredStore(opts.store ?? await openStoreWithRetry({
    type: config.databrokerStorageType, connectionString: config.databrokerStorageConnectionString,
    poolSize: config.databrokerStoragePoolSize, queryTimeoutMs: config.databrokerStorageQueryTimeoutMs,
    freshnessBoundMs: config.databrokerStorageMaxStalenessMs,
    listenConnectionString: config.databrokerStorageListenConnectionString,
    onListenerError: (err) => logger.warn('store change notifications interrupted; reconnecting', { error: describeError(err) }),
  }, (err, attempt, delayMs) => {
    logger.error('store unavailable; retrying', { error: err.message, attempt, retryInMs: delayMs });
  }), observer);
  try {
    return await startOnStore(opts, config, now, logger, rt0, rawStore, observer, idpErrors);
  } catch (e) {
    // A store this function opened must not keep the process alive (a
    // PostgreSQL pool would, for minutes) when start-up fails.
    if (!opts.store) await rawStore.close().catch(() => undefined);
    throw e;
  }
}

async function startOnStore(
  opts: StartOptions, config: Config, now: () => number, logger: Logger, rt0: Runtime, rawStore: Store, observer: Observer, idpErrors: IdpErrorCounts,
): Promise<RunningLimen> {
  const metrics = observer.metrics;
  // Records read on every request are cached: exactly invalidated on memory
  // and SQLite, within databroker_storage_max_staleness on PostgreSQL (see
  // ReadCachingStore), which says when it stops and starts trusting itself.
  const store = new ReadCachingStore(rawStore, isHotType, {
    onFreshnessChange: (fresh, bound) => {
      if (fresh) logger.info('store read cache trusted again: every change of other replicas confirmed', { maxStalenessMs: bound });
      else logger.warn('store read cache not trusted: changes of other replicas cannot be confirmed within the bound; reading through', { maxStalenessMs: bound });
    },
  });
  // Cluster-wide upkeep (expired records, audit retention) on one replica at a time.
  const replicaName = `${hostname()}/${process.pid}/${randomBytes(4).toString('hex')}`;
  const upkeep = startUpkeep(store, {
    holder: replicaName, now,
    onError: (err) => logger.warn('store upkeep failed', { error: String((err as Error)?.message ?? err) }),
  });
  const sessions = new SessionStore(store, rt0.tokenKey, now);
  const audit = new AuditLog({
    store, logger, retentionMs: config.auditRetentionMs, now,
    lease: () => store.tryLease('audit-retention', replicaName, 2 * 3_600_000, now()),
    onEvent: metrics ? (e) => { // observe: sign-ins from the audit trail
      if (e.kind === 'sign_in') metrics.signIns.inc();
      else if (e.kind === 'sign_in_failed') metrics.signInFailures.labels(/^[A-Za-z0-9_-]{1,64}$/.test(String(e.details.reason)) ? String(e.details.reason) : 'other').inc();
    } : undefined,
  });
  let current: Runtime = rt0;
  const svc: Services = {
    store, sessions, audit, logger, now,
    websocketRecheckMs: opts.websocketRecheckMs ?? 60_000,
    dispatchers: new DispatcherPool(),
    observer,
    onSignIn: (s) => {
      void upsertUserFromClaims(store, { id: s.userId, email: s.email, name: s.name, groups: s.groups }, now()).catch(() => undefined);
    },
  };
  // Bearer tokens beyond session handles: stored service accounts, then route-scoped tokens (`limen token`).
  const tokenResolvers = [
    serviceAccountResolver({
      store, now,
      namespaces: () => current.config.namespaces,
      onAccessWriteFailed: (e) => logger.warn('service account access time not recorded', { error: String((e as Error)?.message ?? e) }),
    }),
    routeTokenResolver({ store, now }),
  ];
  // The directory's groups on every identity; deactivated users refused.
  const enrich = directoryEnricher(store);
  const makeIdentifier = (rt: Runtime): Identifier => new Identifier({
    sessions,
    sharedSecret: rt.config.sharedSecret,
    cookieName: rt.config.cookieName,
    oidc: rt.oidc,
    now,
    tokenResolvers,
    enrich,
    generation: () => store.changeGeneration(),
    handleAudience: { authHost: rt.authHost, cookieDomain: rt.config.cookieDomain },
    onRefreshFailed: (s, reason, e) => {
      metrics?.sessionRefreshes.labels('failure').inc();
      const idpError = e instanceof IdpError ? e.idpError : undefined;
      audit.emit({ kind: 'refresh_failed', userId: s.userId, email: s.email, details: { session_id: s.id, reason, ...(idpError === undefined ? {} : { idp_error: idpError }) } });
      // Why, for the runbook: the IdP's OAuth error (invalid_grant: a revoked refresh token) or what failed underneath.
      if (e !== undefined) logger.warn('session refresh failed', { reason, ...(idpError === undefined ? {} : { idp_error: idpError }), ...idpFailureFields(e) });
    },
    mayImpersonate: (actor) => matchesAdministrators(rt.config.administrators, actor),
    onImpersonationEnded: (s, reason) => {
      // The administrator lost their rights mid-impersonation: it ended on that request.
      if (s.impersonation) audit.emit({ kind: 'impersonate_stop', userId: s.impersonation.user, email: s.impersonation.email, actor: s.email || s.userId, details: { session_id: s.id, reason } });
    },
    onRefreshed: (before, after) => {
      metrics?.sessionRefreshes.labels('success').inc(); // observe
      // CONTRACT §4: a refresh ends impersonation; the audit trail says so.
      if (before.impersonation && !after.impersonation) {
        audit.emit({ kind: 'impersonate_stop', userId: before.impersonation.user, email: before.impersonation.email, actor: before.email || before.userId, details: { session_id: before.id, reason: 'session-refreshed' } });
      }
      void upsertUserFromClaims(store, { id: after.userId, email: after.email, name: after.name, groups: after.groups }, now()).catch(() => undefined);
    },
  });
  const live: Live = { rt: rt0, identifier: makeIdentifier(rt0) };

  const onRequest = (req: IncomingMessage, res: ServerResponse): void => {
    connections.trackRequest(req, res);
    limitWriteTime(res, live.rt.config.timeoutWriteMs, logger);
    void handleRequest(live, svc, req, res);
  };
  // After the listener: flush the audit trail, drop upstream connections,
  // stop caching and upkeep (the store itself is closed by whoever opened it).
  const closeServices = async (): Promise<void> => {
    upkeep.stop();
    await audit.close();
    await svc.dispatchers.close();
    store.detach();
  };
  // Automatic certificates (issue 15): served by SNI beside the configured ones, which win for the names they cover.
  const autocert = config.autocert ? await AutocertManager.create({
    dir: config.autocertDir ?? defaultAutocertDir(process.env),
    directoryUrl: config.autocertCa ?? (config.autocertUseStaging ? LETS_ENCRYPT_STAGING : LETS_ENCRYPT),
    email: config.autocertEmail,
    eab: config.autocertEabKeyId !== undefined && config.autocertEabMacKey !== undefined ? { kid: config.autocertEabKeyId, hmacKey: config.autocertEabMacKey } : undefined,
    trustedCa: config.autocertTrustedCa ?? (config.autocertTrustedCaFile !== undefined ? readFileSync(config.autocertTrustedCaFile, 'utf8') : undefined),
    logger, holder: replicaName,
    now: opts.autocert?.now ?? now,
    httpRetries: opts.autocert?.httpRetries,
    clientCa: config.downstreamMtls?.caFile !== undefined ? readFileSync(config.downstreamMtls.caFile) : undefined,
  }) : undefined;
  let server: Server;
  try {
    server = config.insecureServer
      ? createHttpServer(serverOptions(config), onRequest)
      : createHttpsServer({ ...serverOptions(config), ...tlsOptions(config, autocert) }, onRequest);
  } catch (e) {
    await closeServices();
    throw e;
  }
  const connections = drainable(server);
  server.on('upgrade', (req, socket, head) => {
    connections.trackUpgrade(socket);
    void handleUpgrade(live, svc, req, socket, head);
  });
  server.on('connect', (req, socket) => {
    connections.trackUpgrade(socket);
    handleConnect(live, svc, req, socket);
  });
  // Malformed requests (bad chunking, conflicting Content-Length and
  // Transfer-Encoding, oversized headers) never reach a handler or upstream;
  // they get the same error page as any refusal.
  server.on('clientError', (err: NodeJS.ErrnoException & { rawPacket?: Buffer }, socket: Socket) => {
    // A response already under way on this socket (pipelining) cannot be
    // followed by another. A request being answered whose body broke off
    // because the client left (EOF mid-body) is observed as itself (the
    // client leaving): no answer or count here, nobody would read it.
    const inFlight = (socket as { _httpMessage?: { headersSent?: boolean } | null })._httpMessage;
    if (!socket.writable || err.code === 'ECONNRESET' || inFlight?.headersSent || (inFlight && err.code === 'HPE_INVALID_EOF_STATE')) { socket.destroy(); return; }
    const { status, reason } = parserRefusal(err.code);
    const page = {
      status, title: STATUS_TITLES[status] ?? 'Bad Request', requestId: newRequestId(),
      message: status === 431 ? 'The request headers are too large.' : status === 408 ? 'The request took too long to arrive.' : 'The request is not valid HTTP/1.1.',
      reasons: [reason], explanations: [describeReason(reason)],
      ...(err.code && err.code.startsWith('HPE_') ? { details: { parser_error: err.code } } : {}),
    };
    const bytes = errorResponseBytes(page, err.rawPacket?.toString('latin1') ?? '');
    socket.end(bytes);
    observer.refused(socket, page.requestId, status, Buffer.byteLength(bytes), live.rt.config, reason); // observe: its access line, count and span
  });
  try {
    await listen(server, opts.worker?.port !== undefined ? { ...config.address, port: opts.worker.port } : config.address, opts.worker?.reusePort === true);
  } catch (e) {
    await closeServices();
    throw e;
  }
  const port = (server.address() as AddressInfo).port;
  // issue 15: the HTTP-01 challenge and redirect listener, then the certificates (missing ones are issued in the background).
  let redirect: RedirectListener | undefined;
  try {
    if (config.httpRedirectAddr !== undefined) {
      const address = config.httpRedirectAddr;
      redirect = await startRedirectListener({
        address,
        challengeAnswer: (token) => autocert?.challengeAnswer(token),
        httpsPort: (host) => httpsPortOf(live.rt.config, host),
      }).catch((e: NodeJS.ErrnoException) => {
        throw new ListenError(`${address.host.includes(':') ? `[${address.host}]` : address.host}:${address.port} (http_redirect_addr)`, bindFailureReason(e), e);
      });
    }
    autocert?.start(autocertHosts(config, logger));
  } catch (e) {
    await redirect?.close();
    server.close();
    await closeServices();
    throw e;
  }
  // observe (issue 12): health and metrics listeners, and what they read at probe/scrape time.
  const health = new Health({
    probeStore: () => rawStore.get('limen_health', 'probe'),
    discoverIdp: () => live.rt.oidc?.ready(),
    autocert: autocert && (() => autocert.status()),
  });
  health.markConfigLoaded();
  health.markListenersUp(true);
  metrics?.configLoaded(true, now());
  // Counting sessions reads them all: recounted per scrape, but no more often than 20× the last count's own time (at most once a minute).
  let sessionsCount: { at: number; n: Promise<number>; tookMs: number } | undefined;
  metrics?.setSources({
    audit: () => audit.stats(),
    logLinesLost: () => observer.accessLog?.lost() ?? 0,
    cache: () => ({ hits: store.hits, misses: store.misses }),
    idpErrors: () => idpErrors,
    activeSessions: () => {
      if (!sessionsCount || Date.now() - sessionsCount.at >= Math.min(60_000, 20 * sessionsCount.tookMs)) {
        const t0 = Date.now();
        const c = { at: t0, tookMs: 60_000, n: rawStore.list('session', undefined, now()).then((l) => { c.tookMs = Date.now() - t0; return l.length; }) };
        // A failed count is not kept: the next scrape counts again.
        c.n.catch(() => { if (sessionsCount === c) sessionsCount = undefined; });
        sessionsCount = c;
      }
      return sessionsCount.n;
    },
  });
  const reloadFailed = (): void => {
    metrics?.configReloads.labels('failure').inc();
    metrics?.configLoaded(false, now());
  };
  let observability: ObservabilityListeners;
  try {
    observability = await startListeners({
      // A worker's metrics and health are served by its primary (issue 16).
      metricsAddress: opts.worker ? undefined : config.metricsAddress, healthAddress: opts.worker ? undefined : config.healthCheckAddr, metrics, health,
      basicAuth: config.metricsBasicAuth,
      onError: (what, e) => logger.error(what, { error: (e as Error)?.message }),
    });
  } catch (e) {
    await autocert?.close();
    await redirect?.close();
    server.close();
    await closeServices();
    throw e;
  }
  const host = config.address.host || '127.0.0.1';
  const url = `${config.insecureServer ? 'http' : 'https'}://${host.includes(':') ? `[${host}]` : host}:${port}`;

  return {
    url, port, services: svc, observability, autocert, redirectPort: redirect?.port,
    runtime: () => live.rt,
    reloadFailed,
    healthReport: (kind) => health.report(kind),
    async reload(next: Config): Promise<ReloadResult> {
      const { config: applied, restartRequired } = pinRestartKeys(live.rt.config, next);
      // Worked out only when it is logged: it compares every key and route.
      const changes = applied.logLevel === 'debug' ? configChanges(live.rt.config, applied) : undefined;
      let rt: Runtime;
      try { rt = await buildRuntime(applied, now, idpErrors); } catch (e) { reloadFailed(); throw e; } // observe
      metrics?.configReloads.labels('success').inc(); // observe
      metrics?.configLoaded(true, now()); // observe
      current = rt;
      live.identifier = makeIdentifier(rt);
      live.rt = rt;
      applyServerTimeouts(server, applied);
      logger.setLevel?.(applied.logLevel);
      if (autocert) { autocert.setHosts(autocertHosts(applied, logger)); void autocert.check(); }
      if (changes) logger.debug('config reload: what changed', { keys: changes.keys, routes_added: changes.routesAdded, routes_removed: changes.routesRemoved, routes_changed: changes.routesChanged });
      if (restartRequired.length > 0) {
        logger.warn('config reloaded, except changes that need a restart: those keys keep their running values', { restart_required: restartRequired, routes: applied.routes.length });
      } else {
        logger.info('config reloaded', { routes: applied.routes.length });
      }
      return { restartRequired };
    },
    async close(): Promise<void> {
      health.markListenersUp(false); // observe: /readyz fails from here on
      const timeoutMs = live.rt.config.shutdownTimeoutMs;
      const inFlight = connections.inFlight();
      logger.info('shutting down: draining connections', { in_flight: inFlight, shutdown_timeout_ms: timeoutMs });
      const { cut, upgradesClosed } = await connections.drain(timeoutMs);
      if (cut > 0) logger.warn('shutdown_timeout passed: connections still open were cut', { cut });
      await autocert?.close();
      await redirect?.close();
      await closeServices();
      await observability.close(); // observe
      await observer.tracer?.close(); // observe
      // observe: every line written before the process ends, unless standard output has stopped taking them.
      if (observer.accessLog && !(await settlesWithin(observer.accessLog.drain(), LOG_DRAIN_LIMIT_MS))) {
        logger.warn('standard output did not take every line before shutdown: the lines still waiting are lost', { waited_ms: LOG_DRAIN_LIMIT_MS });
      }
      if (!opts.store) await rawStore.close();
      logger.info('shut down', { drained: inFlight, cut, websockets_closed: upgradesClosed });
    },
  };
}

/** A driver error as a log field: its code and message, never an object that may carry a connection string. */
function describeError(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown } | null;
  return [typeof e?.code === 'string' ? e.code : undefined, typeof e?.message === 'string' ? e.message.replace(/postgres(ql)?:\/\/\S*/g, 'postgres://…') : String(err)].filter(Boolean).join(': ');
}

/** Binds `server`, turning a bind failure into a one-line ListenError. */
function listen(server: Server, address: Config['address'], reusePort: boolean): Promise<void> {
  const shown = `${address.host.includes(':') ? `[${address.host}]` : address.host}:${address.port}`;
  return new Promise<void>((resolve, reject) => {
    const onError = (e: NodeJS.ErrnoException): void => {
      server.close(() => undefined);
      reject(new ListenError(shown, bindFailureReason(e), e));
    };
    server.once('error', onError);
    const done = (): void => { server.off('error', onError); resolve(); };
    // reusePort (Node >= 22.12, Linux): this worker's own socket; `exclusive` keeps node:cluster from sharing the primary's.
    if (reusePort) server.listen({ port: address.port, host: address.host || undefined, exclusive: true, reusePort } as ListenOptions, done);
    else server.listen(address.port, address.host || undefined, done);
  });
}

/**
 * `timeout_write`: the longest a response may take to be written, counted
 * from the request's arrival (Go's http.Server WriteTimeout, which Pomerium
 * uses). Past it the connection is closed; 0 means no bound (streaming).
 */
function limitWriteTime(res: ServerResponse, timeoutMs: number, logger: Logger): void {
  if (timeoutMs <= 0) return;
  const timer = setTimeout(() => {
    if (res.writableFinished) return;
    logger.warn('timeout_write passed before the response was written; closing the connection', { timeout_write_ms: timeoutMs });
    res.destroy();
  }, timeoutMs);
  timer.unref();
  res.once('close', () => clearTimeout(timer));
}

/** The status and reason for a request Node's HTTP parser refused. */
function parserRefusal(code: string | undefined): { status: 400 | 408 | 431; reason: string } {
  if (code === 'HPE_HEADER_OVERFLOW') return { status: 431, reason: 'request-headers-too-large' };
  if (code === 'ERR_HTTP_REQUEST_TIMEOUT') return { status: 408, reason: 'request-timeout' };
  return { status: 400, reason: 'request-malformed' };
}

/** Record types the request path reads every time. */
function isHotType(type: string): boolean {
  return type === 'session' || type === 'user' || type === 'group' || type === 'service_account'
    || type === 'revoked_token' || type === 'service_account_access' || type.startsWith('record:');
}

function serverOptions(c: Config) {
  return {
    ...serverTimeouts(c),
    // How often requestTimeout/headersTimeout are checked (Node's default is
    // 30 s, which would let a short timeout_read run far past its value).
    connectionsCheckingInterval: 1_000,
    maxHeaderSize: 16 * 1024,
    // A missing Host is refused by the request canonicalizer (host-missing),
    // with Limen's error page rather than Node's empty 400.
    requireHostHeader: false,
  };
}

function serverTimeouts(c: Config): { requestTimeout: number; headersTimeout: number; keepAliveTimeout: number } {
  return {
    // timeout_read bounds reading a request (headers and body); 0 = none.
    requestTimeout: c.timeoutReadMs,
    headersTimeout: c.timeoutReadMs > 0 ? Math.min(c.timeoutReadMs, 60_000) : 60_000,
    // timeout_idle closes an idle keep-alive connection; 0 = none.
    keepAliveTimeout: c.timeoutIdleMs,
  };
}

/** The timeouts are read per connection, so a reload applies them to new ones. */
function applyServerTimeouts(server: Server, c: Config): void {
  const t = serverTimeouts(c);
  server.requestTimeout = t.requestTimeout;
  server.headersTimeout = t.headersTimeout;
  server.keepAliveTimeout = t.keepAliveTimeout;
}
