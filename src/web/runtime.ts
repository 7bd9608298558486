import type { Config, RouteConfig } from '../config/index.js';
import { compileRoutePolicy, type CompiledPolicy } from '../authz/index.js';
import { AssertionSigner, jwksDocument, loadKeySet, type JwksDocument, type KeySet } from '../identity/index.js';
import { RouteTable, UpstreamSelector, type TableRoute } from '../proxy/index.js';
import { OidcClient, deriveKey, signInNonceCookieName, type IdpErrorCounts } from '../authn/index.js';

/** Per-route state compiled once per config load. */
export interface RouteRuntime {
  readonly policy: CompiledPolicy;
  readonly selector: UpstreamSelector;
}

/**
 * Everything derived from one Config. A reload builds a new Runtime and
 * swaps the reference; requests in flight keep the one they started with.
 */
export interface Runtime {
  readonly config: Config;
  readonly table: RouteTable<RouteRuntime>;
  readonly keys: KeySet;
  readonly jwks: JwksDocument;
  readonly signer: AssertionSigner;
  readonly oidc: OidcClient | undefined;
  /** Lower-case host (no port) of `authenticate_service_url`. */
  readonly authHost: string | undefined;
  readonly authOrigin: string | undefined;
  /** Seals the route-host hand-off (shared by all replicas). */
  readonly handoffKey: Uint8Array;
  /** Seals OAuth state / CSRF cookies (`cookie_secret`). */
  readonly csrfKey: Uint8Array;
  /** Seals IdP tokens at rest. */
  readonly tokenKey: Uint8Array;
  /** Cookies that never reach an upstream, and that no upstream may set: the session, CSRF and sign-in nonce cookies. */
  readonly limenCookies: ReadonlySet<string>;
  /** Lower-case header name → claim, for `jwt_claims_headers`. */
  readonly claimHeaders: readonly (readonly [string, string])[];
}

/**
 * Builds the runtime for a config; throws PolicyError/ConfigError on a bad
 * config. `idpErrors` is the process's tally of IdP failures, which the IdP
 * client of every runtime counts into (so a reload loses none).
 */
export async function buildRuntime(config: Config, now: () => number, idpErrors?: IdpErrorCounts): Promise<Runtime> {
  const routes: TableRoute<RouteRuntime>[] = config.routes.map((r: RouteConfig) => ({
    config: r,
    compiled: { policy: compileRoutePolicy(r), selector: new UpstreamSelector(r.to) },
  }));
  const keys = await loadKeySet(config.signingKeys, config.sharedSecret);
  const auth = config.authenticateServiceUrl;
  const oidc = config.idpProviderUrl && auth
    ? new OidcClient(config, new URL('/oauth2/callback', auth).href, now, idpErrors)
    : undefined;
  return Object.freeze({
    config,
    table: new RouteTable(routes),
    keys,
    jwks: jwksDocument(keys),
    signer: new AssertionSigner(keys, {
      issuerFormat: config.jwtIssuerFormat,
      groupsFilter: config.jwtGroupsFilter,
      claimsHeaders: config.jwtClaimsHeaders,
    }, now),
    oidc,
    authHost: auth?.hostname.toLowerCase(),
    authOrigin: auth?.origin,
    handoffKey: deriveKey(config.sharedSecret, 'handoff'),
    csrfKey: deriveKey(config.cookieSecret, 'csrf'),
    tokenKey: deriveKey(config.sharedSecret, 'session-tokens'),
    limenCookies: new Set([config.cookieName, `${config.cookieName}_csrf`, signInNonceCookieName(config)]),
    claimHeaders: Object.entries(config.jwtClaimsHeaders).map(([h, c]) => [h.toLowerCase(), c] as const),
  });
}
