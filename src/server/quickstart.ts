import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfig, type Config } from '../config/index.js';
import { startDemoUpstream, startDevIdp } from '../devidp/index.js';
import type { Logger } from '../log/index.js';
import { ListenError, startLimen, type RunningLimen } from './limen.js';

export interface QuickstartOptions {
  /** Limen's port on 127.0.0.1 (default 8080); the dev IdP takes the next one. */
  readonly port?: number;
  readonly idpPort?: number;
  readonly dataDir?: string;
  readonly env?: Record<string, string | undefined>;
  readonly logger: Logger;
}

export interface Quickstart {
  readonly limen: RunningLimen;
  readonly config: Config;
  /** URL to open in a browser. */
  readonly openUrl: string;
  readonly idpUrl: string;
  close(): Promise<void>;
}

export interface DevSecrets { shared_secret: string; cookie_secret: string; client_secret: string }

/** Secrets for development, generated once and kept in the data directory (mode 0600). */
function devSecrets(dataDir: string): DevSecrets {
  const file = join(dataDir, 'dev-secrets.json');
  if (existsSync(file)) {
    const s = JSON.parse(readFileSync(file, 'utf8')) as DevSecrets;
    if (s.shared_secret && s.cookie_secret && s.client_secret) return s;
  }
  mkdirSync(dataDir, { recursive: true });
  const s: DevSecrets = {
    shared_secret: randomBytes(32).toString('base64'),
    cookie_secret: randomBytes(32).toString('base64'),
    client_secret: randomBytes(24).toString('base64url'),
  };
  writeFileSync(file, JSON.stringify(s, null, 2), { mode: 0o600 });
  return s;
}

/** What the quickstart's document is built from: its ports and the parts it starts. */
export interface QuickstartParts {
  readonly port: number;
  /** `http://authenticate.localhost:<port>`. */
  readonly authOrigin: string;
  readonly idpIssuer: string;
  readonly upstreamUrl: string;
  readonly dataDir: string;
  readonly secrets: DevSecrets;
}

/**
 * The config document the quickstart runs on (before the environment is
 * applied), as a config file would hold it: what `limen serve
 * --print-config` shows when there is no --config.
 */
export function quickstartDocument(p: QuickstartParts): Record<string, unknown> {
  const { port, authOrigin, dataDir, secrets } = p;
  return {
    address: `127.0.0.1:${port}`,
    insecure_server: true,
    authenticate_service_url: authOrigin,
    idp_provider: 'oidc',
    idp_provider_url: p.idpIssuer,
    idp_client_id: 'limen-quickstart',
    idp_client_secret: secrets.client_secret,
    shared_secret: secrets.shared_secret,
    cookie_secret: secrets.cookie_secret,
    databroker_storage_type: 'file',
    databroker_storage_connection_string: join(dataDir, 'limen.db'),
    // One process: the quickstart's identity provider and demo upstream live in it.
    workers: 1,
    administrators: ['admin@example.com'],
    jwt_claims_headers: ['email', 'groups'],
    programmatic_redirect_domain_whitelist: ['localhost', '127.0.0.1'],
    routes: [
      {
        name: 'app',
        description: 'Demo upstream for any signed-in user',
        from: `http://app.localhost:${port}`,
        to: p.upstreamUrl,
        allow_any_authenticated_user: true,
        pass_identity_headers: true,
        allow_websockets: true,
      },
      {
        name: 'staff',
        description: 'Demo upstream only for @example.com emails',
        from: `http://staff.localhost:${port}`,
        to: p.upstreamUrl,
        policy: { allow: { or: [{ domain: { is: 'example.com' } }] } },
        pass_identity_headers: true,
      },
    ],
  };
}

/**
 * Runs Limen on its embedded defaults: the development identity provider,
 * the demo upstream and two demo routes, SQLite under `./data`.
 * For development only; every page of the dev IdP says so.
 */
export async function startQuickstart(o: QuickstartOptions): Promise<Quickstart> {
  const port = o.port ?? 8080;
  const idpPort = o.idpPort ?? (port === 0 ? 0 : port + 1);
  const dataDir = o.dataDir ?? './data';
  const secrets = devSecrets(dataDir);
  const authOrigin = `http://authenticate.localhost:${port}`;
  // Each part started is closed again if a later one fails (a port in use),
  // so a failed quickstart exits instead of hanging on open listeners.
  const started: { close(): Promise<void> }[] = [];
  try {
    return await startParts(o, port, idpPort, dataDir, secrets, authOrigin, started);
  } catch (e) {
    for (const part of started.reverse()) await part.close().catch(() => undefined);
    throw e;
  }
}

async function startParts(
  o: QuickstartOptions, port: number, idpPort: number, dataDir: string, secrets: DevSecrets, authOrigin: string,
  started: { close(): Promise<void> }[],
): Promise<Quickstart> {
  const upstream = await startDemoUpstream({ host: '127.0.0.1', port: 0 });
  started.push(upstream);
  const idp = await startDevIdp({
    host: '127.0.0.1',
    port: idpPort,
    clients: [{
      clientId: 'limen-quickstart',
      clientSecret: secrets.client_secret,
      redirectUris: [`${authOrigin}/oauth2/callback`],
      postLogoutRedirectUris: [`${authOrigin}/.pomerium/signed_out`],
    }],
    users: { 'admin@example.com': { name: 'Ada Admin', groups: ['everyone', 'staff', 'admins'] } },
    log: (line) => o.logger.warn(line.trim()),
  }).catch((e: NodeJS.ErrnoException) => {
    throw e.code === 'EADDRINUSE' ? new ListenError(`127.0.0.1:${idpPort}`, 'address already in use (the quickstart\'s identity provider takes the port after --port)', e) : e;
  });
  started.push(idp);
  const raw = quickstartDocument({ port, authOrigin, idpIssuer: idp.issuer, upstreamUrl: upstream.url, dataDir, secrets });
  const config = parseConfig(raw, o.env ?? {}, { source: 'quickstart (embedded defaults)', devMode: true });
  const limen = await startLimen({ config, logger: o.logger });
  const openUrl = `http://app.localhost:${limen.port}/`;
  return {
    limen, config, openUrl, idpUrl: idp.url,
    async close() {
      await limen.close();
      await idp.close();
      await upstream.close();
    },
  };
}
