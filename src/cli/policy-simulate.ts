/**
 * A request as `limen policy explain` and `limen policy test` imagine it:
 * a URL, method, client address, time, client certificate and (maybe) an
 * identity, decided by the server's own decision core (src/decision) on
 * the runtime the server builds (`buildRuntime`), with external data read
 * from the configured store. No HTTP server and no session store: the
 * identity is taken as given, standing in for what the identifier finds.
 */
import { isIP } from 'node:net';
import { normalizePath, type ClientCertificateInfo, type Decision, type IdentityInfo } from '../authz/index.js';
import type { Caller, IdentifyResult } from '../authn/index.js';
import { namespaceCovers } from '../accounts/index.js';
import type { Config, NamespaceConfig, RouteConfig } from '../config/index.js';
import { decideRoute, policyRequest, requestTarget, type LimenEndpoint, type RequestHeaders } from '../decision/index.js';
import { normalizeIp, parseHostHeader } from '../http/index.js';
import type { Runtime } from '../server/index.js';
import { openStore, type Store } from '../store/index.js';

/** Who is asking; every field optional (an IdP may omit any of them). */
export interface SimulatedIdentity {
  readonly user?: string | undefined;
  readonly email?: string | undefined;
  readonly groups?: readonly string[] | undefined;
  readonly claims?: Readonly<Record<string, unknown>> | undefined;
  /** Set for a service account: the namespace it was created in (it works there and below only). */
  readonly namespace?: string | undefined;
}

/** The client certificate presented: none, one that does not chain to the downstream CA, or one that does. */
export type SimulatedCertificate = 'none' | 'invalid' | 'valid';
export const CERTIFICATE_CHOICES: readonly SimulatedCertificate[] = ['none', 'invalid', 'valid'];

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
  /** Only read when the config has `downstream_mtls`; default `none`. */
  readonly clientCertificate?: SimulatedCertificate | undefined;
}

export type Simulation =
  | { readonly kind: 'decision'; readonly route: RouteConfig; readonly decision: Decision; readonly who: IdentifyResult }
  /** No route for this host and path: the request gets 404 `route-not-found`. */
  | { readonly kind: 'no-route'; readonly host: string; readonly path: string }
  /** Limen serves this path itself (`/.pomerium/*`, sign-in, `/ping`); no route policy applies. */
  | { readonly kind: 'limen-endpoint'; readonly host: string; readonly path: string; readonly endpoint: LimenEndpoint };

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

/**
 * What the server's identifier would find for this identity on a route of
 * `routeNamespace`: a signed-in caller, or a service account outside its
 * namespace (refused with `namespace-unauthorized`, CONTRACT §6).
 */
export function simulatedCaller(id: SimulatedIdentity | null, routeNamespace: string, namespaces: readonly NamespaceConfig[]): IdentifyResult {
  if (id === null) return { caller: null, credential: 'none' };
  const policy = identityInfo(id);
  const caller: Caller = {
    kind: id.namespace === undefined ? 'session' : 'service_account',
    policy,
    assertion: {
      cacheKey: SIMULATED_SESSION_ID, user: policy.user, email: policy.email, name: '',
      groups: policy.groups, sid: SIMULATED_SESSION_ID, claims: policy.claims,
    },
  };
  if (id.namespace === undefined) return { caller, credential: 'cookie' };
  if (!namespaceCovers(namespaces, id.namespace, routeNamespace)) {
    return { caller: null, credential: 'bearer', failure: 'namespace-unauthorized', outOfScope: caller };
  }
  return { caller, credential: 'bearer' };
}

/** The certificate information the server reads from a TLS connection, for a simulated choice. */
export function simulatedCertificate(choice: SimulatedCertificate): ClientCertificateInfo {
  return { presented: choice !== 'none', valid: choice === 'valid', fingerprint: '', spkiHash: '', sanEmail: [], sanDns: [], sanUri: [] };
}

/** A client address as the request pipeline normalizes it; undefined if it is not one. */
export function parseClientIp(text: string): string | undefined {
  const bare = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
  const ip = normalizeIp(bare);
  return isIP(ip) === 0 ? undefined : ip;
}

const NO_HEADERS: RequestHeaders = {};
// What a browser sends with a preflight; the values do not matter to policy.
const PREFLIGHT_HEADERS: RequestHeaders = { origin: 'null', 'access-control-request-method': 'GET' };

/**
 * Decides the request as the server would: the decision core classifies
 * it (Limen's own endpoint, a route, or no route) and, for a route,
 * decides it with the route's compiled policy, external data read through
 * `store` and the clock at `req.time`.
 */
export async function simulateRequest(rt: Runtime, req: SimulatedRequest, store: Pick<Store, 'get'>): Promise<Simulation> {
  const parsed = parseHostHeader(req.url.host);
  const host = parsed?.host ?? req.url.hostname.toLowerCase();
  // The path as the server canonicalizes a request target before routing.
  const path = normalizePath(req.url.pathname);
  const target = requestTarget(rt, host, parsed?.port, path);
  if (target === 'no-route') return { kind: 'no-route', host, path };
  if (typeof target === 'string') return { kind: 'limen-endpoint', host, path, endpoint: target };
  const cert = rt.config.downstreamMtls ? simulatedCertificate(req.clientCertificate ?? 'none') : undefined;
  const request = policyRequest(req.method, host, path, req.ip, req.corsPreflight === true ? PREFLIGHT_HEADERS : NO_HEADERS, cert);
  const who = simulatedCaller(req.identity, target.config.namespace, rt.config.namespaces);
  const a = await decideRoute(rt, { store, now: () => req.time }, target.compiled.policy, request, who);
  return { kind: 'decision', route: target.config, decision: a.decision, who: a.who };
}

/** Reads records from the configured store, opened on first use; `close()` when done. */
export interface ConfiguredStore {
  readonly store: Pick<Store, 'get'>;
  close(): Promise<void>;
}

/** The store the server uses (`databroker_storage_*`), opened only if a policy reads records. */
export function configuredStore(config: Config): ConfiguredStore {
  let opened: Promise<Store> | undefined;
  return {
    store: {
      async get(type, id, now) {
        opened ??= openStore({ type: config.databrokerStorageType, connectionString: config.databrokerStorageConnectionString });
        return (await opened).get(type, id, now);
      },
    },
    async close() {
      if (opened) await opened.then((s) => s.close(), () => undefined);
    },
  };
}
