import type { RouteTable, TableRoute } from '../proxy/index.js';

/**
 * Limen's own endpoints, which no route policy decides (CONTRACT §3, §4):
 * - `health`: `/ping` and `/healthz`, on any host;
 * - `jwks`: `/.well-known/pomerium/jwks.json`, on any host, so verifiers
 *   can reach the public keys by address as well as by route host;
 * - `authenticate`: the authenticate service on its own host (sign-in, the
 *   OAuth callback, sign-out, SCIM, the admin API, the admin console);
 * - `route-host`: `/.pomerium/*` and `/.well-known/pomerium/*` on a host
 *   that has routes: Limen's, never the upstream's.
 */
export type LimenEndpoint = 'health' | 'jwks' | 'authenticate' | 'route-host';

/**
 * What a request addresses: one of Limen's endpoints, a route (whose
 * policy then decides), or nothing (`no-route`: 404 `route-not-found`).
 * A route is returned as the table's own object and the rest as constant
 * strings, so classifying allocates nothing on the request path.
 */
export type RequestTarget<P> = LimenEndpoint | 'no-route' | TableRoute<P>;

/** What classification reads from a runtime: its route table and the authenticate host. */
export interface TargetSite<P> {
  readonly table: Pick<RouteTable<P>, 'match' | 'hasHost'>;
  /** Lower-case host of `authenticate_service_url`, if any. */
  readonly authHost: string | undefined;
}

export const JWKS_PATH = '/.well-known/pomerium/jwks.json';
/** The admin console's base path on the authenticate host (src/web/console). */
export const CONSOLE_PATH = '/.pomerium/admin';

/** `/.pomerium/admin` and everything under it: the admin console, on the authenticate host. */
export function isConsolePath(path: string): boolean {
  return path === CONSOLE_PATH || path.startsWith(`${CONSOLE_PATH}/`);
}

/**
 * The authenticate service's paths on its host. The server's
 * `handleAuthenticateHost` serves exactly these; a path added there must be
 * added here, or requests for it are routed like any other.
 */
export function isAuthenticatePath(path: string): boolean {
  switch (path) {
    case '/.pomerium/sign_in':
    case '/oauth2/callback':
    case '/.pomerium/sign_out':
    case '/.pomerium/signed_out':
    case '/scim/v2':
      return true;
    default:
      if (isConsolePath(path)) return true;
      // The admin API; programmatic login is a route-host endpoint even there.
      return path.startsWith('/scim/v2/') || (path.startsWith('/.pomerium/api/v1/') && path !== '/.pomerium/api/v1/login');
  }
}

/** `/.pomerium`, `/.pomerium/*` and `/.well-known/pomerium*`: Limen's on every route host. */
export function isLimenPath(path: string): boolean {
  return path.startsWith('/.') && (path === '/.pomerium' || path.startsWith('/.pomerium/') || path.startsWith('/.well-known/pomerium'));
}

/**
 * Classifies a request by its canonical host, port and path, in the order
 * the server serves them: health, JWKS, the authenticate service, Limen's
 * paths on a route host, then the route table. Pure.
 */
export function requestTarget<P>(site: TargetSite<P>, host: string, port: number | undefined, path: string): RequestTarget<P> {
  if (path === '/ping' || path === '/healthz') return 'health';
  if (path === JWKS_PATH) return 'jwks';
  if (host === site.authHost && isAuthenticatePath(path)) return 'authenticate';
  const route = site.table.match(host, port, path);
  if (isLimenPath(path) && (route !== undefined || site.table.hasHost(host))) return 'route-host';
  return route ?? 'no-route';
}
