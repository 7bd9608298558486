/**
 * The global keys (CONTRACT §1): one table row per key, with Pomerium's name,
 * the documented type and default, a reader and a fallback. Rows are resolved
 * in this order, so a fallback may read any row above it.
 */

import { randomBytes } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import type { ConfigError } from '../errors/index.js';
import type { Config, EmailVerification, IdpProvider, LogLevel, SameSite, StorageType } from './types.js';
import {
  asAddress, asBool, asDuration, asEnum, asHeaderName, asHttpUrl, asInteger, asMapping, asSecretString,
  aggregate, asString, asStringList, asStringMap, canonicalHeaderName, collect, describe, fail, rejectUnknownKeys, unknownKeyError,
  type ConfigPath,
} from './check.js';
import { asNamespaces, ROOT_NAMESPACE } from './namespaces.js';
import { asRoutes } from './routes.js';
import { asBase64Pem, asBase64Secret, asSigningKeys } from './secrets.js';
import { OBSERVABILITY_KEYS } from './observability.js';
import { AUTOCERT_KEYS } from './autocert.js';
import { referenceOf, type KeyReference, type KeySpec, type KeyTable } from './table.js';
import type { GlobalContext, GlobalKeyTraits } from './global-key.js';

export type { EnvForm, GlobalContext, GlobalKeyTraits } from './global-key.js';

type GlobalFields = Omit<Config, 'source' | 'devMode' | 'warnings'>;

type GlobalTable = { readonly [F in keyof GlobalFields]: KeyTable<GlobalFields, GlobalContext>[F] & GlobalKeyTraits };

const IDP_PROVIDERS: readonly IdpProvider[] = [
  'oidc', 'google', 'azure', 'okta', 'auth0', 'github', 'gitlab', 'keycloak', 'cognito', 'onelogin', 'ping',
];
/** Issuers of providers with one public issuer; the others are per tenant and need `idp_provider_url`. */
const PROVIDER_ISSUERS: Partial<Record<IdpProvider, string>> = {
  google: 'https://accounts.google.com',
  gitlab: 'https://gitlab.com',
  // OneLogin's shared OpenID Connect issuer (Pomerium's default too);
  // per-subdomain issuers still need idp_provider_url.
  onelogin: 'https://openid-connect.onelogin.com/oidc',
};
/** Issuer shapes of per-tenant providers, for the "required" message. */
const TENANT_ISSUERS: Partial<Record<IdpProvider, string>> = {
  azure: 'https://login.microsoftonline.com/TENANT-ID/v2.0 (Microsoft\'s multi-tenant "common" issuer is not accepted: the ID token\'s iss must match exactly)',
  okta: 'https://YOUR-ORG.okta.com/oauth2/default',
  auth0: 'https://YOUR-TENANT.us.auth0.com/',
  keycloak: 'https://keycloak.example.com/realms/REALM',
  cognito: 'https://cognito-idp.REGION.amazonaws.com/POOL-ID',
  ping: 'https://auth.pingone.com/ENVIRONMENT-ID/as',
};

/**
 * Every provider but GitHub speaks OpenID Connect, which is what Limen
 * uses for all of them (discovery at `idp_provider_url`). GitHub's OAuth
 * apps issue no ID token and have no discovery document, so a config naming
 * it could never sign anyone in: refused rather than failing at sign-in.
 */
function asIdpProvider(value: unknown, at: ConfigPath): IdpProvider {
  const provider = asEnum(value, at, IDP_PROVIDERS, { caseInsensitive: true });
  if (provider === 'github') {
    fail(at, 'GitHub sign-in is OAuth 2.0 without OpenID Connect (no ID token, no discovery), which Limen does not support; use an OpenID Connect provider in front of GitHub (e.g. Dex or Keycloak) with idp_provider: oidc');
  }
  return provider;
}
const EMAIL_VERIFICATION: readonly EmailVerification[] = ['reject_unverified', 'require_verified', 'trust_idp'];
const STORAGE_TYPES: readonly StorageType[] = ['memory', 'file', 'postgres'];
const SAME_SITE: readonly SameSite[] = ['strict', 'lax', 'none'];
const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error', 'off'];
/** Pomerium's other spellings (zerolog's levels, config/log_level.go), as the level Limen has for each. */
const LOG_LEVEL_ALIASES: Readonly<Record<string, LogLevel>> = {
  '': 'info', 'trace': 'debug', 'warning': 'warn', 'critical': 'error', 'fatal': 'error', 'panic': 'error', 'none': 'off', 'disabled': 'off',
};
const ESCAPED_SLASHES_ACTIONS = ['reject_request', 'keep_unchanged', 'unescape_and_redirect', 'unescape_and_forward'] as const;
const UNDERSCORE_HEADER_ACTIONS = ['reject_request', 'drop_header', 'allow'] as const;
const MTLS_ENFORCEMENT = ['policy', 'policy_with_default_deny', 'reject_connection'] as const;

const DEFAULT_SQLITE_PATH = './data/limen.db';
const SECRET_BYTES = 32;

const absent = <T>(value: T) => (): T => value;

/** Fallback for a key Limen cannot start without. */
function required(at: ConfigPath): never {
  const key = String(at[at.length - 1]);
  fail(at, `required; set it in the config file or with the ${key.toUpperCase()} environment variable`);
}

/** Fallback for a key the caller supplies in dev mode. */
function requiredUnlessDev<T>(devValue: () => T) {
  return (at: ConfigPath, ctx: GlobalContext): T => (ctx.devMode ? devValue() : required(at));
}

// RFC 6265 §4.1.1: a cookie name is an RFC 2616 token.
const COOKIE_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** The global key table, in resolution (and reference) order. */
export const GLOBAL_KEYS: GlobalTable = {
  insecureServer: {
    key: 'insecure_server', type: 'boolean', default: '`false`', env: 'text',
    description: 'Serve plain HTTP (loopback, tests, or behind a TLS load balancer). Allows `http://` routes.',
    parse: asBool, fallback: absent(false),
  },
  address: {
    key: 'address', type: 'address', default: '`:443` (`:80` with `insecure_server`)', env: 'text',
    description: 'Listen address: `:8080`, `127.0.0.1:8080` or `[::1]:8080`. An empty host (`:8080`) means all interfaces and is kept as `host: ""`.',
    parse: asAddress,
    fallback: (_at, ctx) => ({ host: '', port: ctx.value('insecureServer') ? 80 : 443 }),
  },
  certificateFile: {
    key: 'certificate_file', type: 'path', default: '', env: 'text',
    description: 'PEM certificate (chain) for TLS; needs `certificate_key_file`.',
    parse: (v, at) => asString(v, at), fallback: absent(undefined),
  },
  certificateKeyFile: {
    key: 'certificate_key_file', type: 'path', default: '', env: 'text',
    description: 'PEM private key for `certificate_file`.',
    parse: (v, at) => asString(v, at), fallback: absent(undefined),
  },
  certificate: {
    key: 'certificate', type: 'base64 PEM', default: '', env: 'text', noFileVariant: true,
    description: 'The `certificate_file` certificate (chain) inline, as base64 of PEM; needs `certificate_key`. Set this or `certificate_file`, not both.',
    parse: (v, at, ctx) => {
      if (ctx.value('certificateFile') !== undefined) fail(at, 'set certificate or certificate_file, not both', { aboutKey: true });
      return asBase64Pem(v, at);
    },
    fallback: absent(undefined),
  },
  certificateKey: {
    key: 'certificate_key', type: 'base64 PEM', default: '', env: 'text', noFileVariant: true,
    description: 'The private key for `certificate` inline, as base64 of PEM. Set this or `certificate_key_file`, not both.',
    parse: (v, at, ctx) => {
      if (ctx.value('certificateKeyFile') !== undefined) fail(at, 'set certificate_key or certificate_key_file, not both', { aboutKey: true });
      return asBase64Pem(v, at);
    },
    fallback: absent(undefined),
  },
  certificates: {
    key: 'certificates', type: 'list of {cert, key}', default: '', env: 'json',
    description: 'More TLS certificate/key file pairs, chosen by SNI.',
    parse: (v, at) => asCertificates(v, at), fallback: absent([]),
  },
  // Automatic certificates (issue 15): see src/config/autocert.ts.
  ...AUTOCERT_KEYS,
  authenticateServiceUrl: {
    key: 'authenticate_service_url', type: 'URL', default: '', env: 'text',
    description: 'Public URL of the sign-in service; `/oauth2/callback` on this host is the OIDC redirect URI. May be a route host of the same process. Required unless in dev mode.',
    parse: (v, at, ctx) => asHttpUrl(v, at, { allowHttp: ctx.value('insecureServer'), httpHint: ' (http:// needs insecure_server: true)' }),
    fallback: requiredUnlessDev(() => undefined),
  },
  idpProvider: {
    key: 'idp_provider', type: 'string', default: '`oidc`', env: 'text',
    description: `Identity provider kind: ${IDP_PROVIDERS.filter((p) => p !== 'github').map((p) => `\`${p}\``).join(', ')}. All are spoken to as OpenID Connect at \`idp_provider_url\`; ${Object.keys(PROVIDER_ISSUERS).map((p) => `\`${p}\``).join(', ')} supply its default. \`github\` is refused (not OpenID Connect).`,
    parse: (v, at) => asIdpProvider(v, at), fallback: absent('oidc'),
  },
  idpProviderUrl: {
    key: 'idp_provider_url', type: 'URL', default: Object.entries(PROVIDER_ISSUERS).map(([p, url]) => `\`${url}\` for \`${p}\``).join(', '), env: 'text',
    description: 'OIDC issuer URL; discovery reads `/.well-known/openid-configuration` under it. Required unless in dev mode.',
    // Kept as written: the ID token's `iss` must equal it exactly.
    parse: (v, at) => { asHttpUrl(v, at, { allowHttp: true }); return asString(v, at); },
    fallback: (at, ctx) => {
      const provider = ctx.value('idpProvider');
      const issuer = PROVIDER_ISSUERS[provider];
      if (issuer !== undefined || ctx.devMode) return issuer;
      const shape = TENANT_ISSUERS[provider];
      if (shape === undefined) return required(at);
      fail(at, `required for idp_provider ${provider}, whose issuer is per tenant: ${shape}; or set the IDP_PROVIDER_URL environment variable`);
    },
  },
  idpClientId: {
    key: 'idp_client_id', type: 'string', default: '', env: 'text',
    description: 'OAuth client id registered at the IdP. Required unless in dev mode.',
    parse: (v, at) => asString(v, at), fallback: requiredUnlessDev(() => undefined),
  },
  idpClientSecret: {
    key: 'idp_client_secret', type: 'string', default: '', env: 'text', secret: true,
    description: 'OAuth client secret (omit for a public client; PKCE is always used).',
    parse: (v, at) => asSecretString(v, at).trim(), fallback: absent(undefined),
  },
  idpScopes: {
    key: 'idp_scopes', type: 'list of strings', default: '`openid profile email offline_access`', env: 'text',
    description: 'Scopes requested at sign-in (comma list in the environment).',
    parse: (v, at) => asStringList(v, at), fallback: absent(['openid', 'profile', 'email', 'offline_access']),
  },
  idpRequestParams: {
    key: 'idp_request_params', type: 'map of strings', default: '', env: 'map',
    description: 'Extra query parameters on the authorization request (e.g. `prompt: select_account`).',
    parse: asStringMap, fallback: absent({}),
  },
  idpEmailVerification: {
    key: 'idp_email_verification', type: 'string', default: '`reject_unverified`', env: 'text',
    description: 'What the IdP\'s `email_verified` claim (ID token or userinfo; `true`/`false` or the strings) means for the email used by `email` and `domain` criteria, `administrators`, the directory and the assertion: `reject_unverified` treats an email marked unverified as absent; `require_verified` uses only an email marked verified (for IdPs that always send the claim); `trust_idp` uses the email whatever the claim says (an IdP without self-registration that verifies addresses another way). Applies at sign-in and refresh. **Limen:** Pomerium does not check the claim.',
    parse: (v, at) => asEnum(v, at, EMAIL_VERIFICATION), fallback: absent('reject_unverified'),
  },
  sharedSecret: {
    key: 'shared_secret', type: 'base64 (32 bytes)', default: '', env: 'text', secret: true,
    description: 'Signs session handles, service-account JWTs and signed URLs; the signing key is derived from it when `signing_key` is unset. Required (the caller supplies one in dev mode).',
    parse: (v, at) => asBase64Secret(v, at, SECRET_BYTES),
    fallback: requiredUnlessDev(() => new Uint8Array(randomBytes(SECRET_BYTES))),
  },
  cookieName: {
    key: 'cookie_name', type: 'string', default: '`_pomerium`', env: 'text',
    description: 'Name of the session cookie.',
    parse: (v, at) => {
      const name = asString(v, at);
      if (!COOKIE_NAME.test(name)) fail(at, `expected a cookie name (letters, digits and !#$%&'*+.^_\`|~-), got ${describe(name)}`);
      return name;
    },
    fallback: absent('_pomerium'),
  },
  cookieSecret: {
    key: 'cookie_secret', type: 'base64 (32 bytes)', default: '', env: 'text', secret: true,
    description: 'Encrypts OAuth state and CSRF cookies. Required (the caller supplies one in dev mode).',
    parse: (v, at) => asBase64Secret(v, at, SECRET_BYTES),
    fallback: requiredUnlessDev(() => new Uint8Array(randomBytes(SECRET_BYTES))),
  },
  cookieDomain: {
    key: 'cookie_domain', type: 'string', default: 'the request host', env: 'text',
    description: 'Domain attribute of the session cookie.',
    parse: (v, at) => {
      const domain = asString(v, at);
      if (!/^\.?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*$/.test(domain)) fail(at, `expected a domain like "example.com", got ${describe(domain)}`);
      return domain.toLowerCase();
    },
    fallback: absent(undefined),
  },
  cookieSameSite: {
    key: 'cookie_same_site', type: 'string', default: '`lax`', env: 'text',
    description: 'SameSite attribute of the session cookie: `strict`, `lax` or `none`.',
    parse: (v, at) => asEnum(v, at, SAME_SITE, { caseInsensitive: true }), fallback: absent('lax'),
  },
  cookieSecure: {
    key: 'cookie_secure', type: 'boolean', default: '`true`', env: 'text',
    description: 'Secure attribute of Limen\'s cookies, as in Pomerium: browsers send them over HTTPS only. Decided from the configured external URL (the route\'s `from`, `authenticate_service_url`), not from how the request reached Limen, so it holds behind a TLS-terminating load balancer with `insecure_server`; an `http://` URL never gets it (browsers would drop the cookie). `false` lets cookies travel in clear text; not allowed with `cookie_same_site: none`.',
    parse: (v, at, ctx) => {
      const secure = asBool(v, at);
      // Browsers drop SameSite=None cookies that are not Secure.
      if (!secure && ctx.value('cookieSameSite') === 'none') fail(at, 'cannot be false while cookie_same_site is none (browsers refuse SameSite=None cookies without Secure)');
      return secure;
    },
    fallback: absent(true),
  },
  cookieHttpOnly: {
    key: 'cookie_http_only', type: 'boolean', default: '`true`', env: 'text',
    description: 'HttpOnly attribute of the session cookie.',
    parse: asBool, fallback: absent(true),
  },
  cookieExpireMs: {
    key: 'cookie_expire', type: 'duration', default: '`14h`', env: 'text',
    description: 'Lifetime of the session cookie and of the session itself.',
    parse: (v, at) => asDuration(v, at, { positive: true }), fallback: absent(14 * 3_600_000),
  },
  signingKeys: {
    key: 'signing_key', type: 'base64 PEM', default: 'derived from `shared_secret`', env: 'text', secret: true,
    description: 'One or more EC P-256 (ES256) or RSA >= 2048-bit (RS256) private keys as base64 of PEM; the first signs, all are published in the JWKS. Unset: derived from `shared_secret` with HKDF-SHA256, so all replicas agree.',
    parse: asSigningKeys, fallback: absent([]),
  },
  jwtClaimsHeaders: {
    key: 'jwt_claims_headers', type: 'list or map', default: '', env: 'text',
    description: 'Claims also sent as headers: a list (`[email, groups]` → `X-Pomerium-Claim-Email`, `X-Pomerium-Claim-Groups`) or a map of header to claim. Environment: `email,groups` or `X-Email=email,...`. A list claim is joined with `,`; a value beyond ASCII is sent as its UTF-8 bytes (as Envoy sends it), control characters as spaces.',
    parse: (v, at) => asClaimHeaders(v, at), fallback: absent({}),
  },
  jwtIssuerFormat: {
    key: 'jwt_issuer_format', type: 'string', default: '`hostOnly`', env: 'text',
    description: '`iss` of the identity assertion: `hostOnly` (the request host) or `uri` (`https://host/`).',
    parse: (v, at) => asEnum(v, at, ['hostOnly', 'uri'] as const), fallback: absent('hostOnly'),
  },
  jwtGroupsFilter: {
    key: 'jwt_groups_filter', type: 'list of strings', default: 'all groups', env: 'text',
    description: 'Only these groups go into the assertion\'s `groups` claim.',
    parse: (v, at) => asStringList(v, at, { allowEmptyList: true }), fallback: absent(undefined),
  },
  passIdentityHeaders: {
    key: 'pass_identity_headers', type: 'boolean', default: '`false`', env: 'text',
    description: 'Default for routes\' `pass_identity_headers`.',
    parse: asBool, fallback: absent(false),
  },
  administrators: {
    key: 'administrators', type: 'list of strings', default: '', env: 'text',
    description: 'Emails, user ids or `group:NAME` entries allowed to impersonate and to use the admin console.',
    parse: (v, at) => asAdministrators(v, at), fallback: absent([]),
  },
  databrokerStorageType: {
    key: 'databroker_storage_type', type: 'string', default: '`file`', env: 'text',
    description: 'Store backend: `memory`, `file` (Limen: embedded SQLite) or `postgres`.',
    parse: (v, at) => asEnum(v, at, STORAGE_TYPES), fallback: absent('file'),
  },
  databrokerStorageConnectionString: {
    key: 'databroker_storage_connection_string', type: 'string', default: '`./data/limen.db` for `file`', env: 'text', secret: true,
    description: 'SQLite file path (`file`) or `postgres://` URL (`postgres`, required).',
    parse: (v, at, ctx) => asStorageConnection(v, at, ctx.value('databrokerStorageType')),
    fallback: (at, ctx) => {
      const type = ctx.value('databrokerStorageType');
      if (type === 'postgres') fail(at, 'required when databroker_storage_type is postgres; expected a postgres:// URL');
      return type === 'file' ? DEFAULT_SQLITE_PATH : '';
    },
  },
  databrokerStorageListenConnectionString: {
    key: 'databroker_storage_listen_connection_string', type: 'string', default: 'the connection string', env: 'text', secret: true,
    description: 'PostgreSQL: a `postgres://` URL for the one direct connection each replica keeps for `LISTEN` (change notifications), when `databroker_storage_connection_string` goes through a transaction-mode pooler such as PgBouncer, which cannot carry `LISTEN`.',
    parse: (v, at, ctx) => {
      if (ctx.value('databrokerStorageType') !== 'postgres') fail(at, 'only applies to databroker_storage_type postgres');
      return asStorageConnection(v, at, 'postgres');
    },
    fallback: absent(undefined),
  },
  databrokerStorageQueryTimeoutMs: {
    key: 'databroker_storage_query_timeout', type: 'duration', default: '`2s`', env: 'text',
    description: 'PostgreSQL: every query, and connecting, fails after this long, so a frozen database link never holds a request (it fails closed with `503`). Applies to the server\'s statements too (`statement_timeout`).',
    parse: (v, at) => asDuration(v, at, { positive: true }), fallback: absent(2000),
  },
  databrokerStoragePoolSize: {
    key: 'databroker_storage_pool_size', type: 'integer', default: '`10`', env: 'text',
    description: 'PostgreSQL: connections in each replica\'s query pool. Each replica also holds one direct connection for LISTEN; keep replicas × `workers` × (pool size + 1) under the server\'s `max_connections` (see docs/deploy.md).',
    parse: (v, at) => asInteger(v, at, 1, 1000), fallback: absent(10),
  },
  databrokerStorageMaxStalenessMs: {
    key: 'databroker_storage_max_staleness', type: 'duration', default: '`1s`', env: 'text',
    description: 'PostgreSQL: how long a change made on one replica may take to be honoured on every other (revocations, group changes, new service accounts). Each replica caches what requests read and confirms its view with a heartbeat every quarter of this; a replica that cannot confirm it within this bound stops using its cache and reads through (or fails closed while the database is unreachable).',
    parse: (v, at) => {
      const ms = asDuration(v, at, { positive: true });
      if (ms < 40 || ms > 60_000) fail(at, `expected a duration from 40ms to 1m, got ${JSON.stringify(v)}`);
      return ms;
    },
    fallback: absent(1000),
  },
  metricsAddress: {
    key: 'metrics_address', type: 'address', default: 'off', env: 'text',
    description: 'Listen address for Prometheus metrics (`GET /metrics`); see docs/operations.md.',
    parse: (v, at) => { asAddress(v, at); return asString(v, at); }, fallback: absent(undefined),
  },
  healthCheckAddr: {
    key: 'health_check_addr', type: 'address', default: 'off', env: 'text',
    description: 'Listen address for health checks: `/startupz`, `/readyz`, `/healthz` (JSON with named checks); `limen health` asks it.',
    parse: (v, at) => { asAddress(v, at); return asString(v, at); }, fallback: absent(undefined),
  },
  logLevel: {
    key: 'log_level', type: 'string', default: '`info`', env: 'text',
    description: 'Log verbosity: `debug`, `info`, `warn`, `error` or `off` (no messages, no access or authorize lines; the audit lines stay, CONTRACT §6); Pomerium\'s `trace`, `warning`, `critical`, `fatal`, `panic`, `none`, `disabled` and `""` are read as the nearest of these. Applied on reload.',
    parse: (v, at) => {
      const alias = typeof v === 'string' ? LOG_LEVEL_ALIASES[v.trim().toLowerCase()] : undefined;
      return alias ?? asEnum(v, at, LOG_LEVELS, { caseInsensitive: true });
    },
    fallback: absent('info'),
  },
  ...OBSERVABILITY_KEYS,
  timeoutReadMs: {
    key: 'timeout_read', type: 'duration', default: '`30s`', env: 'text',
    description: 'Longest time to read a whole client request; `0` for none.',
    parse: (v, at) => asDuration(v, at), fallback: absent(30_000),
  },
  timeoutWriteMs: {
    key: 'timeout_write', type: 'duration', default: '`0`', env: 'text',
    description: 'Longest time to write a whole response; `0` for none (streaming).',
    parse: (v, at) => asDuration(v, at), fallback: absent(0),
  },
  timeoutIdleMs: {
    key: 'timeout_idle', type: 'duration', default: '`5m`', env: 'text',
    description: 'Close an idle client keep-alive connection after this; `0` for none.',
    parse: (v, at) => asDuration(v, at), fallback: absent(5 * 60_000),
  },
  shutdownTimeoutMs: {
    key: 'shutdown_timeout', type: 'duration', default: '`10s`', env: 'text',
    description: 'Limen: on SIGTERM or SIGINT, how long requests in flight may take to finish before their connections are cut. Keep it below the orchestrator\'s grace period (Kubernetes: 30s).',
    parse: (v, at) => asDuration(v, at), fallback: absent(10_000),
  },
  workers: {
    key: 'workers', type: 'integer or `auto`', default: '`auto`', env: 'text',
    description: 'Limen: worker processes serving the same listeners (`limen serve --config`; the quickstart runs one), 1 to 1024. `auto` is the CPUs available to the process (`os.availableParallelism()`), or 1 on the memory store, whose sessions live in one process; a number above 1 there is refused. With 1, the process serves directly (no supervisor). See docs/deploy.md.',
    parse: (v, at, ctx) => asWorkers(v, at, ctx.value('databrokerStorageType')), fallback: absent('auto'),
  },
  defaultUpstreamTimeoutMs: {
    key: 'default_upstream_timeout', type: 'duration', default: '`30s`', env: 'text',
    description: 'Default for routes\' `timeout`.',
    parse: (v, at) => asDuration(v, at), fallback: absent(30_000),
  },
  xffNumTrustedHops: {
    key: 'xff_num_trusted_hops', type: 'integer', default: '`0`', env: 'text',
    description: 'Trusted proxies in front of Limen. The client address (the `ip` of the logs, `source_ip` in policy) is the address this many hops from the right of the `X-Forwarded-For` Limen receives; with `0`, or when the header has fewer addresses, it is the connection\'s peer. Whatever the setting, the upstream gets the received `X-Forwarded-For` with the peer\'s address appended.',
    parse: (v, at) => asInteger(v, at, 0, 100), fallback: absent(0),
  },
  // One meaning per request (CONTRACT §7): every rule refuses by default;
  // docs/security.md says what each one stops.
  normalizePath: {
    key: 'normalize_path', type: 'boolean', default: '`true`', env: 'text',
    description: 'RFC 3986 path normalization (dot segments, escapes of unreserved characters) before routing, policy and forwarding. Always on in Limen: accepted as `true` for Pomerium configs; `false` is refused, since the upstream would then resolve `/public/../admin` where Limen routed `/public/`.',
    parse: (v, at) => alwaysOn(v, at, 'Limen always normalizes paths; without it a request has two meanings'), fallback: absent(true),
  },
  mergeSlashes: {
    key: 'merge_slashes', type: 'boolean', default: '`true`', env: 'text',
    description: 'Runs of `/` in the path read as one. Always on in Limen: accepted as `true` for Pomerium configs; `false` is refused, since `//admin` would then route apart from `/admin`.',
    parse: (v, at) => alwaysOn(v, at, 'Limen always merges slashes; without it //admin routes apart from /admin'), fallback: absent(true),
  },
  pathWithEscapedSlashesAction: {
    key: 'path_with_escaped_slashes_action', type: 'string', default: '`reject_request`', env: 'text',
    description: 'A path with `%2F` or `%5C` (any case): `reject_request` (400), `unescape_and_redirect` (307 to the path with them as `/`), `unescape_and_forward` (read them as `/` for routing, policy and the upstream), or `keep_unchanged` (route on the encoded form and forward it; risk: an upstream that decodes `%2F` sees another path than the one authorized, e.g. `/public/..%2Fadmin`).',
    parse: (v, at) => asPomeriumEnum(v, at, 'PATH_WITH_ESCAPED_SLASHES_ACTION_', ESCAPED_SLASHES_ACTIONS), fallback: absent('reject_request'),
  },
  headersWithUnderscoresAction: {
    key: 'headers_with_underscores_action', type: 'string', default: '`reject_request`', env: 'text',
    description: 'A header name with `_`: `reject_request` (400), `drop_header` (never forwarded), or `allow` (forwarded, except an underscore twin of a header Limen sets or strips; risk: WSGI, CGI, PHP and Rack read `X_User` as `X-User`, so the upstream may see a header Limen never checked).',
    parse: (v, at) => asPomeriumEnum(v, at, 'HEADERS_WITH_UNDERSCORES_ACTION_', UNDERSCORE_HEADER_ACTIONS), fallback: absent('reject_request'),
  },
  allowBackslashInPath: {
    key: 'allow_backslash_in_path', type: 'boolean', default: '`false`', env: 'text',
    description: 'Limen: accept a raw `\\` in the path and forward it unchanged (default: 400). Risk: IIS, Windows file servers and WHATWG-URL parsers read `\\` as `/`, so `/public\\..\\admin` reaches a path Limen did not route.',
    parse: asBool, fallback: absent(false),
  },
  allowPathParameters: {
    key: 'allow_path_parameters', type: 'boolean', default: '`false`', env: 'text',
    description: 'Limen: accept `;` and `%3B` in the path (default: 400). Risk: Tomcat, Jetty and Spring drop `;...` from each segment, so `/public/..;/admin` is `/admin` to them.',
    parse: asBool, fallback: absent(false),
  },
  allowInvalidPathEncoding: {
    key: 'allow_invalid_path_encoding', type: 'boolean', default: '`false`', env: 'text',
    description: 'Limen: accept a `%` that starts no valid escape (forwarded as `%25`) and escapes that are not valid UTF-8, such as overlong `%C0%AF` (default: 400). Risk: upstreams repair these differently; some decode `%C0%AF` as `/`.',
    parse: asBool, fallback: absent(false),
  },
  allowDoubleEncodedPath: {
    key: 'allow_double_encoded_path', type: 'boolean', default: '`false`', env: 'text',
    description: 'Limen: accept an encoded escape such as `%252F` or `%25%32%46` (default: 400). Risk: a stack that decodes twice sees `/` where Limen routed data.',
    parse: asBool, fallback: absent(false),
  },
  allowEncodedControlCharacters: {
    key: 'allow_encoded_control_characters', type: 'boolean', default: '`false`', env: 'text',
    description: 'Limen: accept encoded control characters (`%00`-`%1F`, `%7F`) in the path (default: 400; raw ones are always refused). Risk: `%00` ends the path early in C-based upstreams, `%0A` splits log lines.',
    parse: asBool, fallback: absent(false),
  },
  programmaticRedirectDomainWhitelist: {
    key: 'programmatic_redirect_domain_whitelist', type: 'list of strings', default: '`[localhost]`', env: 'text',
    description: 'Hosts a programmatic login may redirect to (besides route hosts).',
    parse: (v, at) => asStringList(v, at, { allowEmptyList: true }).map((h) => h.toLowerCase()),
    fallback: absent(['localhost']),
  },
  namespaces: {
    key: 'namespaces', type: 'list of {name, parent}', default: '`[global]`', env: 'json',
    description: 'Limen: namespace tree for service accounts and routes, rooted at `global` (always present); `parent` defaults to `global`.',
    parse: (v, at) => asNamespaces(v, at), fallback: absent([{ name: ROOT_NAMESPACE, parent: undefined }]),
  },
  downstreamMtls: {
    key: 'downstream_mtls', type: '{ca_file, ca, enforcement}', default: 'off', env: 'json',
    description: 'Client certificates: `ca_file` (PEM CAs that sign them) or `ca` (the same as base64 of PEM), and `enforcement` (`policy`, `policy_with_default_deny` (default) or `reject_connection`).',
    parse: (v, at) => asDownstreamMtls(v, at), fallback: absent(undefined),
  },
  auditRetentionMs: {
    key: 'audit_retention', type: 'duration', default: '`30d`', env: 'text',
    description: 'Limen: how long audit events are kept (`d` = 24h is accepted here).',
    parse: (v, at) => asDuration(v, at, { positive: true }), fallback: absent(30 * 86_400_000),
  },
  routes: {
    key: 'routes', type: 'list of routes', default: '', env: 'none',
    description: 'The routes; see the route keys. `policy` is accepted as Pomerium\'s older name for this list. In the environment: `ROUTES` or Pomerium\'s `POLICY`, as YAML or JSON or base64 of it.',
    parse: (v, at, ctx) => asRoutes(v, at, {
      insecureServer: ctx.value('insecureServer'),
      passIdentityHeaders: ctx.value('passIdentityHeaders'),
      defaultUpstreamTimeoutMs: ctx.value('defaultUpstreamTimeoutMs'),
      namespaces: ctx.value('namespaces'),
      readFile: ctx.readFile,
      warn: ctx.warn,
    }),
    fallback: absent([]),
  },
};

/** Every global row, in table order. */
export function globalSpecs(): (KeySpec<unknown, unknown> & GlobalKeyTraits)[] {
  return Object.values(GLOBAL_KEYS) as (KeySpec<unknown, unknown> & GlobalKeyTraits)[];
}

/** The global keys (not `routes`) whose effective values differ between two configs, by key name. */
export function changedGlobalKeys(a: Config, b: Config): string[] {
  const keys: string[] = [];
  for (const [field, spec] of Object.entries(GLOBAL_KEYS)) {
    if (field !== 'routes' && !isDeepStrictEqual(a[field as keyof Config], b[field as keyof Config])) keys.push(spec.key);
  }
  return keys;
}

/** The global keys for the configuration reference, in table order; secrets also list their `_file` key. */
export function configReference(): KeyReference[] {
  const rows: KeyReference[] = [];
  for (const row of referenceOf(GLOBAL_KEYS)) {
    rows.push(row);
    const spec = globalSpecs().find((s) => s.key === row.key);
    if (spec?.secret === true) {
      rows.push({ key: `${row.key}_file`, type: 'path', default: '', description: `File holding \`${row.key}\` (trailing newline ignored); keeps the secret out of the config file.` });
    }
  }
  return rows;
}

/** A Pomerium boolean Limen does not let be turned off. */
function alwaysOn(value: unknown, at: ConfigPath, why: string): true {
  if (!asBool(value, at)) fail(at, `only true is accepted: ${why} (docs/security.md)`);
  return true;
}

/**
 * A Pomerium enum value: the short form in any case (`reject_request`) or
 * the protobuf name (`PATH_WITH_ESCAPED_SLASHES_ACTION_REJECT_REQUEST`).
 */
function asPomeriumEnum<T extends string>(value: unknown, at: ConfigPath, protoPrefix: string, allowed: readonly T[]): T {
  const short = typeof value === 'string' && value.toUpperCase().startsWith(protoPrefix) ? value.slice(protoPrefix.length) : value;
  return asEnum(short, at, allowed, { caseInsensitive: true });
}

function asCertificates(value: unknown, at: ConfigPath): { certFile: string; keyFile: string }[] {
  if (!Array.isArray(value)) fail(at, `expected a list of {cert, key} file pairs, got ${describe(value)}`);
  return value.map((item, i) => {
    const pair = asMapping(item, [...at, i]);
    rejectUnknownKeys(pair, ['cert', 'key'], [...at, i]);
    if (pair.cert === undefined) fail([...at, i, 'cert'], 'required');
    if (pair.key === undefined) fail([...at, i, 'key'], 'required');
    return { certFile: asString(pair.cert, [...at, i, 'cert']), keyFile: asString(pair.key, [...at, i, 'key']) };
  });
}

/**
 * `jwt_claims_headers`: a list of claims (`email` → `X-Pomerium-Claim-Email`,
 * `_` read as `-`) or a map of header → claim. In a list, `Header=claim`
 * items are the map form (how the environment spells it).
 */
function asClaimHeaders(value: unknown, at: ConfigPath): Record<string, string> {
  const pairs: { header: string; claim: string; at: ConfigPath }[] = [];
  if (Array.isArray(value) || typeof value === 'string') {
    asStringList(value, at, { allowEmptyList: true }).forEach((item, i) => {
      const itemAt = typeof value === 'string' ? at : [...at, i];
      const eq = item.indexOf('=');
      if (eq >= 0) {
        pairs.push({ header: item.slice(0, eq).trim(), claim: item.slice(eq + 1).trim(), at: itemAt });
      } else {
        pairs.push({ header: `X-Pomerium-Claim-${item.replaceAll('_', '-')}`, claim: item, at: itemAt });
      }
    });
  } else {
    for (const [header, claim] of Object.entries(asMapping(value, at))) {
      pairs.push({ header, claim: asString(claim, [...at, header]), at: [...at, header] });
    }
  }
  const out: Record<string, string> = {};
  for (const pair of pairs) {
    if (pair.claim === '') fail(pair.at, 'expected a claim name, got an empty string');
    const header = canonicalHeaderName(asHeaderName(pair.header, pair.at));
    if (out[header] !== undefined) fail(pair.at, `header ${header} is given twice`);
    out[header] = pair.claim;
  }
  return out;
}

function asAdministrators(value: unknown, at: ConfigPath): string[] {
  const list = asStringList(value, at, { allowEmptyList: true });
  list.forEach((entry, i) => {
    if (entry.startsWith('group:') && entry.slice('group:'.length).trim() === '') {
      fail(typeof value === 'string' ? at : [...at, i], 'expected a group name after "group:"');
    }
  });
  return list;
}

function asStorageConnection(value: unknown, at: ConfigPath, type: StorageType): string {
  if (type === 'memory') fail(at, 'not used with databroker_storage_type memory (nothing is stored outside the process); remove it, or set databroker_storage_type to file or postgres');
  const text = asSecretString(value, at).trim();
  if (type === 'postgres' && !/^postgres(ql)?:\/\//.test(text)) {
    fail(at, 'expected a postgres:// or postgresql:// URL for databroker_storage_type postgres');
  }
  if (type === 'file' && /^[a-z][a-z0-9+.-]*:\/\//i.test(text)) {
    fail(at, 'expected a file path for databroker_storage_type file, got a URL');
  }
  return text;
}

/** `workers`: a whole number from 1, or `auto`; more than one process on the memory store would split its sessions, so it is refused. */
function asWorkers(value: unknown, at: ConfigPath, storage: StorageType): number | 'auto' {
  if (typeof value === 'string' && value.trim().toLowerCase() === 'auto') return 'auto';
  if (typeof value === 'string' && !/^\d+$/.test(value.trim())) fail(at, `expected a whole number from 1 or auto, got ${describe(value)}`);
  const n = asInteger(typeof value === 'string' ? value.trim() : value, at, 1, 1024);
  if (n > 1 && storage === 'memory') {
    fail(at, `${n} worker processes cannot share the memory store (each would hold its own sessions and revocations); set workers: 1, or databroker_storage_type: file or postgres`);
  }
  return n;
}

function asDownstreamMtls(value: unknown, at: ConfigPath): Config['downstreamMtls'] {
  const map = asMapping(value, at);
  const refused: Record<string, string> = {
    crl: 'Limen does not check certificate revocation lists; remove revoked certificates\' CA or shorten their lifetime',
    crl_file: 'Limen does not check certificate revocation lists; remove revoked certificates\' CA or shorten their lifetime',
    match_subject_alt_names: 'Limen does not match client certificate names at the handshake; write a policy with client_certificate',
    max_verify_depth: 'Limen verifies the whole chain up to ca or ca_file',
  };
  const problems: ConfigError[] = [];
  for (const key of Object.keys(map)) {
    if (refused[key] !== undefined) problems.push(captured([...at, key], `a Pomerium setting Limen does not implement: ${refused[key]}`));
    else if (!['ca', 'ca_file', 'enforcement'].includes(key)) problems.push(unknownKeyError(key, ['ca', 'ca_file', 'enforcement', ...Object.keys(refused)], at));
  }
  if (map.ca !== undefined && map.ca_file !== undefined) problems.push(captured([...at, 'ca'], 'set ca or ca_file, not both'));
  const result = collect(problems, () => ({
    caFile: map.ca_file === undefined ? undefined : asString(map.ca_file, [...at, 'ca_file']),
    ca: map.ca === undefined ? undefined : asBase64Pem(map.ca, [...at, 'ca']),
    enforcement: map.enforcement === undefined ? 'policy_with_default_deny' as const : asEnum(map.enforcement, [...at, 'enforcement'], MTLS_ENFORCEMENT),
  }));
  if (problems.length > 0 || result === undefined) throw aggregate(problems);
  return result;
}

/** The ConfigError fail() would throw for `at`, as a value. */
function captured(at: ConfigPath, detail: string): ConfigError {
  try {
    fail(at, detail, { aboutKey: true });
  } catch (error) {
    return error as ConfigError;
  }
}
