/**
 * A whole Limen for end-to-end tests: the real dev identity provider, the
 * demo upstream and Limen itself, each on a loopback port, with routes
 * under `*.localhost` (the test HTTP client maps every name to 127.0.0.1).
 */
import { randomBytes } from 'node:crypto';
import { parseConfig, type Config } from '../src/config/index.js';
import { startDemoUpstream, startDevIdp } from '../src/devidp/index.js';
import { startLimen, type RunningLimen } from '../src/server/index.js';
import { MemoryStore, type Store } from '../src/store/index.js';
import { createLogger, type Logger } from '../src/log/index.js';
import { lineDestination } from '../src/observe/index.js';
import { freePort } from './support/index.js';

export { freePort };

export interface StackOptions {
  /** Routes; `UPSTREAM` in a `to` is replaced by the demo upstream URL, `PORT` in `from` by Limen's port. */
  readonly routes: readonly Record<string, unknown>[];
  /** Other global config keys. */
  readonly config?: Record<string, unknown>;
  readonly store?: Store;
  readonly now?: () => number;
  readonly users?: Record<string, { name?: string; groups?: string[]; sub?: string; emailVerified?: boolean | null }>;
  readonly accessTokenTtl?: number;
  /** Collects log lines (for the no-secrets-in-logs check). */
  readonly logLines?: string[];
  readonly websocketRecheckMs?: number;
  /** `authenticate_service_url` when browsers reach Limen through something in front (a TLS load balancer); default `http://authenticate.localhost:PORT`. */
  readonly authOrigin?: string;
}

export interface Stack {
  readonly limen: RunningLimen;
  readonly config: Config;
  readonly port: number;
  /** `http://authenticate.localhost:PORT`, or StackOptions.authOrigin */
  readonly authOrigin: string;
  readonly upstreamUrl: string;
  readonly idpUrl: string;
  /** The IdP client secret Limen was given (for the no-secrets-in-logs checks). */
  readonly clientSecret: string;
  readonly store: Store;
  readonly logger: Logger;
  /** `http://<name>.localhost:PORT` */
  origin(name: string): string;
  /** Builds a config from the same settings with other routes/keys (for reload tests). */
  configWith(routes: readonly Record<string, unknown>[], extra?: Record<string, unknown>): Config;
  /** Stops the IdP alone (an outage); close() then leaves it stopped. */
  stopIdp(): Promise<void>;
  close(): Promise<void>;
}

export const SHARED_SECRET = randomBytes(32).toString('base64');
export const COOKIE_SECRET = randomBytes(32).toString('base64');

/** Starts IdP, upstream and Limen; close() stops all three. */
export async function startStack(o: StackOptions): Promise<Stack> {
  const port = await freePort();
  const authOrigin = o.authOrigin ?? `http://authenticate.localhost:${port}`;
  const upstream = await startDemoUpstream({ host: '127.0.0.1', port: 0 });
  const clientSecret = randomBytes(16).toString('hex');
  const idp = await startDevIdp({
    clients: [{
      clientId: 'limen-test', clientSecret,
      redirectUris: [`${authOrigin}/oauth2/callback`],
      postLogoutRedirectUris: [`${authOrigin}/.pomerium/signed_out`],
    }],
    ...(o.users ? { users: o.users } : {}),
    ...(o.accessTokenTtl ? { accessTokenTtl: o.accessTokenTtl } : {}),
    log: () => {},
  });
  const lines = o.logLines;
  const logger = createLogger('debug', (l) => { lines?.push(l); });
  const build = (routes: readonly Record<string, unknown>[], extra?: Record<string, unknown>): Config => parseConfig({
    address: `127.0.0.1:${port}`,
    insecure_server: true,
    authenticate_service_url: authOrigin,
    idp_provider_url: idp.issuer,
    idp_client_id: 'limen-test',
    idp_client_secret: clientSecret,
    shared_secret: SHARED_SECRET,
    cookie_secret: COOKIE_SECRET,
    databroker_storage_type: 'memory',
    ...o.config,
    ...extra,
    routes: routes.map((r) => ({
      ...r,
      from: String(r.from).replace('PORT', String(port)),
      to: typeof r.to === 'string' ? r.to.replace('UPSTREAM', upstream.url) : r.to,
    })),
  }, {});
  const config = build(o.routes);
  const store = o.store ?? new MemoryStore();
  const limen = await startLimen({
    config, store, logger,
    // Access and authorize lines join the collected log lines (and stay off the test's stdout).
    accessLogDestination: lineDestination((l) => { lines?.push(l); }),
    ...(o.now ? { now: o.now } : {}),
    ...(o.websocketRecheckMs ? { websocketRecheckMs: o.websocketRecheckMs } : {}),
  });
  let idpUp = true;
  const stopIdp = async (): Promise<void> => {
    if (!idpUp) return;
    idpUp = false;
    await idp.close();
  };
  return {
    limen, config, port, authOrigin, store, logger, clientSecret,
    upstreamUrl: upstream.url,
    idpUrl: idp.url,
    origin: (name) => `http://${name}.localhost:${port}`,
    configWith: build,
    stopIdp,
    async close() {
      await limen.close();
      await stopIdp();
      await upstream.close();
      if (!o.store) await store.close();
    },
  };
}
