/**
 * The operator-facing listeners: Prometheus metrics at `metrics_address`
 * (`GET /metrics`, with `metrics_basic_auth` when set) and health at
 * `health_check_addr` (`/startupz`, `/readyz`, `/healthz`). Separate from
 * the proxy's listener so they can stay off the public network. The same
 * address for both serves both.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { timingSafeEqual, createHash } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import type { HealthReport } from './health.js';
import { bindFailureReason, ListenError } from '../http/index.js';

/** What the metrics listener serves: one process's registry, or the sum of a cluster's workers (issue 16). */
export interface MetricsExposition {
  scrape(): Promise<string>;
  readonly contentType: string;
}

/** What the health listener asks: one process's checks, or its workers' combined. */
export interface HealthReporter {
  report(kind: 'startupz' | 'readyz' | 'healthz'): Promise<HealthReport>;
}

export interface ListenerOptions {
  readonly metricsAddress?: string | undefined;
  readonly healthAddress?: string | undefined;
  readonly metrics?: MetricsExposition | undefined;
  readonly health: HealthReporter;
  readonly basicAuth?: { readonly user: string; readonly password: string } | undefined;
  readonly onError?: (what: string, e: unknown) => void;
}

export interface ObservabilityListeners {
  /** `http://host:port` of each listener that is on. */
  readonly metricsUrl: string | undefined;
  readonly healthUrl: string | undefined;
  /** Stops both listeners; idempotent. */
  close(): Promise<void>;
}

/** `:9090`, `127.0.0.1:9090`, `[::1]:9090` → host and port ('' = all interfaces). */
export function splitAddress(address: string): { host: string; port: number } {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]\s]*)):(\d{1,5})$/.exec(address);
  if (!m) throw new TypeError(`not a listen address: ${address}`);
  return { host: m[1] ?? m[2] ?? '', port: Number(m[3]) };
}

function digest(s: string): Buffer {
  return createHash('sha256').update(s).digest();
}

/** RFC 7617 Basic credentials, compared in constant time (over digests, so lengths leak nothing). */
function authorized(req: IncomingMessage, auth: ListenerOptions['basicAuth']): boolean {
  if (!auth) return true;
  const h = req.headers.authorization ?? '';
  const m = /^Basic +([A-Za-z0-9+/=]+)$/i.exec(h);
  const given = m ? Buffer.from(m[1]!, 'base64').toString('utf8') : '';
  return timingSafeEqual(digest(given), digest(`${auth.user}:${auth.password}`));
}

function send(res: ServerResponse, status: number, type: string, body: string, extra?: Record<string, string>): void {
  res.writeHead(status, { 'content-type': type, 'cache-control': 'no-store', 'content-length': Buffer.byteLength(body), ...extra });
  res.end(body);
}

async function serveMetrics(o: ListenerOptions, req: IncomingMessage, res: ServerResponse): Promise<boolean> {
  if (!o.metrics || (req.url ?? '').split('?')[0] !== '/metrics') return false;
  if (!authorized(req, o.basicAuth)) {
    send(res, 401, 'text/plain', 'Unauthorized\n', { 'www-authenticate': 'Basic realm="metrics"' });
    return true;
  }
  send(res, 200, o.metrics.contentType, await o.metrics.scrape());
  return true;
}

async function serveHealth(o: ListenerOptions, req: IncomingMessage, res: ServerResponse): Promise<boolean> {
  const path = (req.url ?? '').split('?')[0];
  if (path !== '/startupz' && path !== '/readyz' && path !== '/healthz') return false;
  const report = await o.health.report(path.slice(1) as 'startupz' | 'readyz' | 'healthz');
  send(res, report.status === 'ok' ? 200 : 503, 'application/json', JSON.stringify(report) + '\n');
  return true;
}

async function listen(key: string, address: string, handle: (req: IncomingMessage, res: ServerResponse) => Promise<boolean>, onError: ListenerOptions['onError']): Promise<{ server: Server; url: string }> {
  const { host, port } = splitAddress(address);
  const server = createServer((req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') { send(res, 405, 'text/plain', 'Method Not Allowed\n', { allow: 'GET, HEAD' }); return; }
    handle(req, res).then((done) => {
      if (!done) send(res, 404, 'text/plain', 'Not Found\n');
    }, (e: unknown) => {
      onError?.('observability request failed', e);
      if (!res.headersSent) send(res, 500, 'text/plain', 'Internal Server Error\n');
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve, reject) => {
    const failed = (e: NodeJS.ErrnoException): void => reject(new ListenError(`${address} (${key})`, bindFailureReason(e), e));
    server.once('error', failed);
    server.listen(port, host || undefined, () => { server.off('error', failed); resolve(); });
  });
  const a = server.address() as AddressInfo;
  const shown = host || '127.0.0.1';
  return { server, url: `http://${shown.includes(':') ? `[${shown}]` : shown}:${a.port}` };
}

/** Starts the metrics and health listeners that are configured. */
export async function startListeners(o: ListenerOptions): Promise<ObservabilityListeners> {
  const servers: Server[] = [];
  let metricsUrl: string | undefined;
  let healthUrl: string | undefined;
  try {
    if (o.metricsAddress !== undefined && o.metricsAddress === o.healthAddress) {
      const both = await listen('metrics_address and health_check_addr', o.metricsAddress, async (req, res) => (await serveMetrics(o, req, res)) || serveHealth(o, req, res), o.onError);
      servers.push(both.server);
      metricsUrl = healthUrl = both.url;
    } else {
      if (o.metricsAddress !== undefined) {
        const m = await listen('metrics_address', o.metricsAddress, (req, res) => serveMetrics(o, req, res), o.onError);
        servers.push(m.server);
        metricsUrl = m.url;
      }
      if (o.healthAddress !== undefined) {
        const h = await listen('health_check_addr', o.healthAddress, (req, res) => serveHealth(o, req, res), o.onError);
        servers.push(h.server);
        healthUrl = h.url;
      }
    }
  } catch (e) {
    await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
    throw e;
  }
  let closed: Promise<void> | undefined;
  return {
    metricsUrl, healthUrl,
    close(): Promise<void> {
      closed ??= Promise.all(servers.map((s) => new Promise<void>((resolve) => {
        s.close(() => resolve());
        s.closeAllConnections();
      }))).then(() => undefined);
      return closed;
    },
  };
}
