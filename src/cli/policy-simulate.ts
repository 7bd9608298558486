/**
 * A request as `limen policy explain` and `limen policy test` imagine it:
 * a URL, method, client address, time and (maybe) an identity, run through
 * the same route lookup and compiled policies the server builds
 * (`buildRuntime`), with external data read from the configured store as
 * the request pipeline reads it. No HTTP server, no session store: the
 * identity is taken as given.
 */
import { isIP } from 'node:net';
import { evaluate, type DataRecord, type Decision, type IdentityInfo, type PolicyInput } from '../authz/index.js';
import type { Config, RouteConfig } from '../config/index.js';
import { normalizeIp, parseHostHeader } from '../http/index.js';
import { getRecord } from '../records/index.js';
import type { Runtime } from '../server/index.js';
import { openStore, type Store } from '../store/index.js';

/** Who is asking; every field optional (an IdP may omit any of them). */
export interface SimulatedIdentity {
  readonly user?: string | undefined;
  readonly email?: string | undefined;
  readonly groups?: readonly string[] | undefined;
  readonly claims?: Readonly<Record<string, unknown>> | undefined;
}

export interface SimulatedRequest {
  readonly url: URL;
  /** Upper-case. */
  readonly method: string;
  /** Client address as the policy sees it (after `xff_num_trusted_hops`). */
  readonly ip: string;
  /** ms since epoch. */
  readonly time: number;
  /** null: a request without a session or token. */
  readonly identity: SimulatedIdentity | null;
  /** An OPTIONS request with Origin and Access-Control-Request-Method. */
  readonly corsPreflight?: boolean;
}

/** Reads one external-data record; the request pipeline's `getRecord`. */
export type RecordReader = (type: string, id: string) => Promise<DataRecord | undefined>;

export type Simulation =
  | { readonly kind: 'decision'; readonly route: RouteConfig; readonly decision: Decision; readonly input: PolicyInput }
  /** No route for this host and path: the request gets 404 `route-not-found`. */
  | { readonly kind: 'no-route'; readonly host: string; readonly path: string }
  /** Limen serves this path itself (`/.pomerium/*`, sign-in, `/ping`); no route policy applies. */
  | { readonly kind: 'limen-endpoint'; readonly host: string; readonly path: string };

const AUTH_HOST_PATHS = new Set(['/oauth2/callback', '/.pomerium/sign_in', '/.pomerium/sign_out', '/.pomerium/signed_out']);

/** Session id given to a simulated identity (never a real session's). */
export const SIMULATED_SESSION_ID = 'policy-simulation';

/**
 * The identity the policy sees. Claims get `sub`, `email` and `groups` from
 * the other fields unless given, as an IdP's ID token would carry them.
 */
export function identityInfo(id: SimulatedIdentity): IdentityInfo {
  const claims: Record<string, unknown> = { ...id.claims };
  if (id.user !== undefined && claims.sub === undefined) claims.sub = id.user;
  if (id.email !== undefined && claims.email === undefined) claims.email = id.email;
  if (id.groups !== undefined && claims.groups === undefined) claims.groups = [...id.groups];
  return {
    user: id.user ?? '',
    email: id.email ?? '',
    groups: id.groups ?? [],
    claims,
    sessionId: SIMULATED_SESSION_ID,
  };
}

/** A client address as the request pipeline normalizes it; undefined if it is not one. */
export function parseClientIp(text: string): string | undefined {
  const bare = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
  const ip = normalizeIp(bare);
  return isIP(ip) === 0 ? undefined : ip;
}

function isLimenEndpoint(rt: Runtime, host: string, path: string, hasRoute: boolean): boolean {
  if (path === '/ping' || path === '/healthz' || path === '/.well-known/pomerium/jwks.json') return true;
  if (rt.authHost !== undefined && host === rt.authHost) {
    if (AUTH_HOST_PATHS.has(path) || path === '/scim/v2' || path.startsWith('/scim/v2/') || path.startsWith('/.pomerium/api/v1/')) return true;
  }
  const own = path === '/.pomerium' || path.startsWith('/.pomerium/') || path.startsWith('/.well-known/pomerium');
  return own && (hasRoute || rt.table.hasHost(host));
}

/**
 * Picks the route as the server would for this URL and decides the request
 * with its compiled policy. External data is read through `records` only
 * when the route's policy has `record` criteria, keyed as the server keys
 * them (user id, email, client address or host).
 */
export async function simulateRequest(rt: Runtime, req: SimulatedRequest, records: RecordReader | undefined): Promise<Simulation> {
  const parsed = parseHostHeader(req.url.host);
  const host = parsed?.host ?? req.url.hostname.toLowerCase();
  const path = req.url.pathname;
  const r = rt.table.match(host, parsed?.port, path);
  if (isLimenEndpoint(rt, host, path, r !== undefined)) return { kind: 'limen-endpoint', host, path };
  if (!r) return { kind: 'no-route', host, path };

  const identity = req.identity === null ? null : identityInfo(req.identity);
  const policy = r.compiled.policy;
  let lookup: PolicyInput['records'];
  if (policy.recordLookups.length > 0) {
    const found = new Map<string, DataRecord>();
    for (const { type, key } of policy.recordLookups) {
      const id = key === 'user' ? identity?.user : key === 'email' ? identity?.email : key === 'ip' ? req.ip : host;
      if (!id || records === undefined) continue;
      const rec = await records(type, id);
      if (rec) found.set(`${type}\u0000${id}`, rec);
    }
    lookup = (type, id) => found.get(`${type}\u0000${id}`);
  }
  const input: PolicyInput = {
    request: {
      method: req.method,
      host,
      path,
      ip: req.ip,
      corsPreflight: req.corsPreflight === true,
      clientCertificate: undefined,
    },
    identity,
    ...(lookup ? { records: lookup } : {}),
  };
  return { kind: 'decision', route: r.config, decision: evaluate(policy, input, req.time), input };
}

/** Reads records from the configured store, opened on first use; `close()` when done. */
export interface ConfiguredRecords {
  readonly read: RecordReader;
  close(): Promise<void>;
}

/** The store the server uses (`databroker_storage_*`), opened only if a policy needs records. */
export function configuredRecords(config: Config): ConfiguredRecords {
  let store: Promise<Store> | undefined;
  return {
    read: async (type, id) => {
      store ??= openStore({ type: config.databrokerStorageType, connectionString: config.databrokerStorageConnectionString });
      return getRecord(await store, type, id);
    },
    async close() {
      if (store) await store.then((s) => s.close(), () => undefined);
    },
  };
}
