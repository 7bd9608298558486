import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import { readFileSync } from 'node:fs';
import type { AddressInfo, Socket } from 'node:net';
import type { Config } from '../config/index.js';
import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { openStoreWithRetry, ReadCachingStore, startUpkeep, type Store } from '../store/index.js';
import { AuditLog } from '../audit/index.js';
import { Identifier, SessionStore, type TokenResolver, type IdentityEnricher, type Caller } from '../authn/index.js';
import type { AdminEndpoint } from './admin.js';
import { upsertUserFromClaims } from '../accounts/index.js';
import { createLogger, type Logger } from '../log/index.js';
import { DispatcherPool } from '../proxy/index.js';
import { newRequestId } from '../http/index.js';
import { buildRuntime, type Runtime } from './runtime.js';
import { handleRequest, handleUpgrade, type Live } from './handler.js';
import type { Services } from './context.js';
import { createObserver, Health, lineDestination, measuredStore, startListeners, type ObservabilityListeners } from '../observe/index.js';
import type { DestinationStream } from 'pino';

export interface StartOptions {
  readonly config: Config;
  /** Use this store instead of opening the configured one (tests). */
  readonly store?: Store;
  readonly logger?: Logger;
  readonly now?: () => number;
  /** Extra bearer-token kinds (service accounts, CLI tokens). */
  readonly tokenResolvers?: (svc: Services, rt: () => Runtime) => TokenResolver[];
  /** Adds directory data to identities. */
  readonly enrich?: (svc: Services) => IdentityEnricher;
  /** Admin API endpoints served on the authenticate host. */
  readonly adminEndpoints?: (svc: Services, rt: () => Runtime) => AdminEndpoint[];
  /** How often open websockets are re-authorized; default one minute. */
  readonly websocketRecheckMs?: number;
  /** Whether a service-account caller holds the admin role. */
  readonly isServiceAccountAdmin?: (c: Caller) => boolean;
  /** Where access and authorize log lines go; default standard output, or `logger` when one is given. */
  readonly accessLogDestination?: DestinationStream;
}

/** A running Limen: its URL, a reload entry point, and close. */
export interface RunningLimen {
  readonly url: string;
  readonly port: number;
  readonly services: Services;
  runtime(): Runtime;
  /** Applies a new config to new requests; throws (keeping the old one) if it is invalid. */
  reload(config: Config): Promise<void>;
  /** Counts a reload that failed before reaching `reload` (the file did not parse). */
  reloadFailed(): void;
  /** The metrics and health listeners (issue 12); closed by `close()`, closable on their own to join a drain. */
  readonly observability: ObservabilityListeners;
  close(): Promise<void>;
}

/** Starts the proxy on `address` with the given config. */
export async function startLimen(opts: StartOptions): Promise<RunningLimen> {
  const config = opts.config;
  const now = opts.now ?? Date.now;
  const logger = opts.logger ?? createLogger(config.logLevel);
  const rt0 = await buildRuntime(config, now);
  // observe (issue 12): metrics, access log, tracing; the store is timed below the read cache.
  const observer = await createObserver({
    config,
    destination: opts.accessLogDestination ?? (opts.logger ? lineDestination((l) => opts.logger!.record(JSON.parse(l) as Record<string, unknown>)) : undefined),
  });
  const metrics = observer.metrics;
  const rawStore = measuredStore(opts.store ?? await openStoreWithRetry({
    type: config.databrokerStorageType, connectionString: config.databrokerStorageConnectionString,
    poolSize: config.databrokerStoragePoolSize, queryTimeoutMs: config.databrokerStorageQueryTimeoutMs,
    freshnessBoundMs: config.databrokerStorageMaxStalenessMs,
    listenConnectionString: config.databrokerStorageListenConnectionString,
    onListenerError: (err) => logger.warn('store change notifications interrupted; reconnecting', { error: describeError(err) }),
  }, (err, attempt, delayMs) => {
    logger.error('store unavailable; retrying', { error: err.message, attempt, retryInMs: delayMs });
  }), observer);
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
  const adminEndpoints: AdminEndpoint[] = [];
  let current: Runtime = rt0;
  const svc: Services = {
    store, sessions, audit, logger, now,
    adminEndpoints,
    websocketRecheckMs: opts.websocketRecheckMs ?? 60_000,
    isServiceAccountAdmin: opts.isServiceAccountAdmin ?? (() => false),
    dispatchers: new DispatcherPool(),
    observer,
    onSignIn: (s) => {
      void upsertUserFromClaims(store, { id: s.userId, email: s.email, name: s.name, groups: s.groups }, now()).catch(() => undefined);
    },
  };
  adminEndpoints.push(...(opts.adminEndpoints?.(svc, () => current) ?? []));
  const makeIdentifier = (rt: Runtime): Identifier => new Identifier({
    sessions,
    sharedSecret: rt.config.sharedSecret,
    cookieName: rt.config.cookieName,
    oidc: rt.oidc,
    now,
    tokenResolvers: opts.tokenResolvers?.(svc, () => current) ?? [],
    enrich: opts.enrich?.(svc),
    generation: () => store.changeGeneration(),
    onRefreshFailed: (s, reason) => (metrics?.sessionRefreshes.labels('failure').inc(), audit.emit({ kind: 'refresh_failed', userId: s.userId, email: s.email, details: { session_id: s.id, reason } })),
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
    void handleRequest(live, svc, req, res);
  };
  const server: Server = config.insecureServer
    ? createHttpServer(serverOptions(config), onRequest)
    : createHttpsServer({ ...serverOptions(config), ...tlsOptions(config) }, onRequest);
  server.on('upgrade', (req, socket, head) => { void handleUpgrade(live, svc, req, socket, head); });
  // Malformed requests (bad chunking, conflicting Content-Length and
  // Transfer-Encoding, oversized headers) never reach a handler or upstream.
  server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) => {
    if (!socket.writable || (err as { code?: string }).code === 'ECONNRESET') { socket.destroy(); return; }
    const tooLarge = err.code === 'HPE_HEADER_OVERFLOW';
    const status = tooLarge ? 431 : 400;
    const body = JSON.stringify({ status, error: tooLarge ? 'Request Header Fields Too Large' : 'Bad Request', reason: err.code ?? 'malformed-request', request_id: newRequestId() });
    socket.end(`HTTP/1.1 ${status} ${tooLarge ? 'Request Header Fields Too Large' : 'Bad Request'}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
  });
  const sockets = new Set<Socket>();
  server.on('connection', (s: Socket) => { sockets.add(s); s.once('close', () => sockets.delete(s)); });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.address.port, config.address.host || undefined, () => { server.off('error', reject); resolve(); });
  });
  const port = (server.address() as AddressInfo).port;
  // observe (issue 12): health and metrics listeners, and what they read at probe/scrape time.
  const health = new Health({
    probeStore: () => rawStore.get('limen_health', 'probe'),
    discoverIdp: () => live.rt.oidc?.ready(),
  });
  health.markConfigLoaded();
  health.markListenersUp(true);
  metrics?.configLoaded(true, now());
  // Counting sessions reads them all: recounted per scrape, but no more often than 20× the last count's own time (at most once a minute).
  let sessionsCount: { at: number; n: Promise<number>; tookMs: number } | undefined;
  metrics?.setSources({
    audit: () => audit.stats(),
    cache: store instanceof ReadCachingStore ? () => ({ hits: store.hits, misses: store.misses }) : undefined,
    idpErrors: () => (live.rt.oidc ? { client: live.rt.oidc, counts: live.rt.oidc.errors } : undefined),
    activeSessions: () => {
      if (!sessionsCount || Date.now() - sessionsCount.at >= Math.min(60_000, 20 * sessionsCount.tookMs)) {
        const t0 = Date.now();
        const c = { at: t0, tookMs: 60_000, n: rawStore.list('session', undefined, now()).then((l) => { c.tookMs = Date.now() - t0; return l.length; }) };
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
      metricsAddress: config.metricsAddress, healthAddress: config.healthCheckAddr, metrics, health,
      basicAuth: config.metricsBasicAuth,
      onError: (what, e) => logger.error(what, { error: (e as Error)?.message }),
    });
  } catch (e) {
    server.close();
    throw e;
  }

  const host = config.address.host || '127.0.0.1';
  const url = `${config.insecureServer ? 'http' : 'https'}://${host.includes(':') ? `[${host}]` : host}:${port}`;

  return {
    url, port, services: svc, observability,
    runtime: () => live.rt,
    reloadFailed,
    async reload(next: Config): Promise<void> {
      let rt: Runtime;
      try { rt = await buildRuntime(next, now); } catch (e) { reloadFailed(); throw e; } // observe
      metrics?.configReloads.labels('success').inc(); // observe
      metrics?.configLoaded(true, now()); // observe
      current = rt;
      live.identifier = makeIdentifier(rt);
      live.rt = rt;
      logger.info('config reloaded', { routes: next.routes.length });
    },
    async close(): Promise<void> {
      health.markListenersUp(false); // observe: /readyz fails from here on
      // Stop accepting, let requests in flight finish for up to 2 s, then cut the rest.
      await new Promise<void>((resolve) => {
        const force = setTimeout(() => { for (const s of sockets) s.destroy(); }, 2000);
        server.close(() => { clearTimeout(force); resolve(); });
        server.closeIdleConnections?.();
      });
      upkeep.stop();
      await audit.close();
      await svc.dispatchers.close();
      await observability.close(); // observe
      await observer.tracer?.close(); // observe
      observer.accessLog?.flush(); // observe
      if (!opts.store) await store.close();
      else store.detach();
    },
  };
}

/** A driver error as a log field: its code and message, never an object that may carry a connection string. */
function describeError(err: unknown): string {
  const e = err as { code?: unknown; message?: unknown } | null;
  return [typeof e?.code === 'string' ? e.code : undefined, typeof e?.message === 'string' ? e.message.replace(/postgres(ql)?:\/\/\S*/g, 'postgres://…') : String(err)].filter(Boolean).join(': ');
}

/** Record types the request path reads every time. */
function isHotType(type: string): boolean {
  return type === 'session' || type === 'user' || type === 'group' || type === 'service_account'
    || type === 'revoked_token' || type === 'service_account_access' || type.startsWith('record:');
}

function serverOptions(c: Config) {
  return {
    // timeout_read bounds reading a request (headers and body); 0 = none.
    requestTimeout: c.timeoutReadMs,
    headersTimeout: c.timeoutReadMs > 0 ? Math.min(c.timeoutReadMs, 60_000) : 60_000,
    keepAliveTimeout: c.timeoutIdleMs,
    maxHeaderSize: 16 * 1024,
    requireHostHeader: true,
  };
}

function tlsOptions(c: Config): { cert: Buffer[]; key: Buffer[]; requestCert?: boolean; rejectUnauthorized?: boolean; ca?: Buffer } {
  const pairs = [
    ...(c.certificateFile && c.certificateKeyFile ? [{ certFile: c.certificateFile, keyFile: c.certificateKeyFile }] : []),
    ...c.certificates,
  ];
  const mtls = c.downstreamMtls;
  return {
    cert: pairs.map((p) => readFileSync(p.certFile)),
    key: pairs.map((p) => readFileSync(p.keyFile)),
    // Downstream mTLS: ask for a client certificate; `reject_connection`
    // refuses the handshake without a valid one, the other modes leave the
    // decision to policy (`client_certificate`, `invalid_client_certificate`).
    ...(mtls?.caFile ? { requestCert: true, rejectUnauthorized: mtls.enforcement === 'reject_connection', ca: readFileSync(mtls.caFile) } : {}),
  };
}
