/**
 * The typed, frozen shape of a loaded configuration. Every field maps one
 * Pomerium config key (CONTRACT §1) from snake_case to camelCase; durations
 * are milliseconds, secrets are decoded bytes. Nothing here is mutated after
 * load: a reload builds a new Config and swaps it in.
 */

export type IdpProvider =
  | 'oidc' | 'google' | 'azure' | 'okta' | 'auth0' | 'github' | 'gitlab'
  | 'keycloak' | 'cognito' | 'onelogin' | 'ping';

/**
 * What the IdP's `email_verified` claim means for the email Limen uses
 * (`idp_email_verification`): `reject_unverified` ignores an email marked
 * unverified, `require_verified` uses only one marked verified, `trust_idp`
 * uses it whatever the claim says.
 */
export type EmailVerification = 'reject_unverified' | 'require_verified' | 'trust_idp';

export type StorageType = 'memory' | 'file' | 'postgres';

export type SameSite = 'strict' | 'lax' | 'none';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'off';

/** Pomerium's access log fields (plus Limen's `ip`, `user`, `email`, `route-id`), or `headers.<lower-case name>`. */
export type AccessLogField =
  | 'authority' | 'client-certificate' | 'cluster-stat-name' | 'duration' | 'forwarded-for' | 'ip' | 'method'
  | 'path' | 'query' | 'referer' | 'request-id' | 'response-code' | 'response-code-details' | 'size'
  | 'upstream-cluster' | 'user-agent' | 'user' | 'email' | 'route-id';

/** Pomerium's authorize log fields that Limen fills, or `headers.<lower-case name>`. */
export type AuthorizeLogField =
  | 'check-request-id' | 'cluster-stat-name' | 'email' | 'envoy-route-checksum' | 'envoy-route-id' | 'headers' | 'host' | 'id-token-claims'
  | 'impersonate-email' | 'impersonate-session-id' | 'impersonate-user-id' | 'ip' | 'method' | 'path' | 'query'
  | 'removed-groups-count' | 'request-id' | 'route-checksum' | 'route-id' | 'service-account-id' | 'session-id' | 'user';

export type OtlpProtocol = 'http/protobuf' | 'http/json';

export type TracesSampler =
  | 'always_on' | 'always_off' | 'traceidratio' | 'parentbased_always_on' | 'parentbased_always_off' | 'parentbased_traceidratio';

/** A raw PPL document as written in config (a rule object or a list of rules). */
export type PolicyDocument = unknown;

export interface Upstream {
  /** Absolute http(s) URL; its path, when not `/`, is a prefix rewrite. */
  readonly url: URL;
  /** Relative weight for balancing, default 1. */
  readonly weight: number;
}

export interface RouteConfig {
  /** Index in the routes list, for error messages ("routes[3]"). */
  readonly index: number;
  /** `name`, or `from` when unnamed. */
  readonly name: string;
  readonly description: string;
  /** The `from` URL as written. */
  readonly from: string;
  readonly fromScheme: 'http' | 'https';
  /** Lower-case host without port; may start with `*.`. */
  readonly fromHost: string;
  /** Explicit port from `from`, or undefined. */
  readonly fromPort: number | undefined;
  readonly to: readonly Upstream[];
  readonly prefix: string | undefined;
  readonly path: string | undefined;
  /** `regex`, matched on a linear-time engine (RE2 syntax, whole path). */
  readonly regex: PathPattern | undefined;
  /** The route's own `policy` key, unparsed (authz compiles it). */
  readonly policy: PolicyDocument | undefined;
  readonly allowPublicUnauthenticatedAccess: boolean;
  readonly allowAnyAuthenticatedUser: boolean;
  readonly corsAllowPreflight: boolean;
  readonly allowedUsers: readonly string[];
  readonly allowedDomains: readonly string[];
  /** `allowed_idp_claims`: claim name → accepted values. */
  readonly allowedIdpClaims: Readonly<Record<string, readonly unknown[]>>;
  /** Resolved: route value, else the global `pass_identity_headers`. */
  readonly passIdentityHeaders: boolean;
  readonly setRequestHeaders: Readonly<Record<string, string>>;
  /** Lower-case header names. */
  readonly removeRequestHeaders: readonly string[];
  readonly setResponseHeaders: Readonly<Record<string, string>>;
  readonly preserveHostHeader: boolean;
  readonly hostRewrite: string | undefined;
  readonly prefixRewrite: string | undefined;
  readonly allowWebsockets: boolean;
  /** Route timeout in ms; falls back to `default_upstream_timeout`. 0 = none. */
  readonly timeoutMs: number;
  readonly idleTimeoutMs: number;
  readonly tlsSkipVerify: boolean;
  readonly tlsCustomCaFile: string | undefined;
  /** `tls_custom_ca`: PEM text (decoded from base64). */
  readonly tlsCustomCa: string | undefined;
  /** `tls_client_cert_file` / `tls_client_key_file`: client certificate presented to the upstream. */
  readonly tlsClientCertFile: string | undefined;
  /** `tls_client_cert`: PEM text (decoded from base64). */
  readonly tlsClientCert: string | undefined;
  readonly tlsClientKeyFile: string | undefined;
  /** `tls_client_key`: PEM text (decoded from base64). */
  readonly tlsClientKey: string | undefined;
  readonly tlsServerName: string | undefined;
  /** Limen: namespace name, default `global`. */
  readonly namespace: string;
}

export interface NamespaceConfig {
  readonly name: string;
  /** Parent namespace name; undefined only for `global`. */
  readonly parent: string | undefined;
}

export interface DownstreamMtlsConfig {
  readonly caFile: string | undefined;
  /** `ca`: PEM text (decoded from base64). */
  readonly ca: string | undefined;
  readonly enforcement: 'policy' | 'policy_with_default_deny' | 'reject_connection';
}

export interface Config {
  /** Path of the file this came from, if any. */
  readonly source: string | undefined;
  readonly address: { readonly host: string; readonly port: number };
  readonly insecureServer: boolean;
  readonly certificateFile: string | undefined;
  readonly certificateKeyFile: string | undefined;
  /** `certificate`: PEM text (decoded from base64). */
  readonly certificate: string | undefined;
  /** `certificate_key`: PEM text (decoded from base64); a secret. */
  readonly certificateKey: string | undefined;
  /** `certificates: [{cert, key}]` file pairs. */
  readonly certificates: readonly { readonly certFile: string; readonly keyFile: string }[];
  // Automatic certificates (issue 15): see src/config/autocert.ts.
  readonly autocert: boolean;
  /** Undefined: `$XDG_DATA_HOME/pomerium` or `$HOME/.local/share/pomerium`, resolved at start. */
  readonly autocertDir: string | undefined;
  readonly autocertUseStaging: boolean;
  /** ACME directory URL; undefined: Let's Encrypt (staging with `autocertUseStaging`). */
  readonly autocertCa: string | undefined;
  readonly autocertEmail: string | undefined;
  readonly autocertEabKeyId: string | undefined;
  readonly autocertEabMacKey: string | undefined;
  /** Only false is accepted (no OCSP stapling). */
  readonly autocertMustStaple: false;
  /** PEM text of the CAs trusted for the ACME server (`autocert_trusted_ca`). */
  readonly autocertTrustedCa: string | undefined;
  readonly autocertTrustedCaFile: string | undefined;
  /** The plain-HTTP redirect and ACME challenge listener; `:80` by default with autocert. */
  readonly httpRedirectAddr: { readonly host: string; readonly port: number } | undefined;
  readonly authenticateServiceUrl: URL | undefined;
  readonly idpProvider: IdpProvider;
  readonly idpProviderUrl: string | undefined;
  readonly idpClientId: string | undefined;
  readonly idpClientSecret: string | undefined;
  readonly idpScopes: readonly string[];
  readonly idpRequestParams: Readonly<Record<string, string>>;
  /** `idp_email_verification`. */
  readonly idpEmailVerification: EmailVerification;
  /** 32 bytes. */
  readonly sharedSecret: Uint8Array;
  readonly cookieName: string;
  /** 32 bytes. */
  readonly cookieSecret: Uint8Array;
  readonly cookieDomain: string | undefined;
  readonly cookieSameSite: SameSite;
  readonly cookieHttpOnly: boolean;
  /** Secure on cookies for https external URLs (Pomerium's `cookie_secure`, default true). */
  readonly cookieSecure: boolean;
  /** Cookie and session lifetime in ms, default 14h. */
  readonly cookieExpireMs: number;
  /** PEM text of each configured signing key, in order; empty = derive. */
  readonly signingKeys: readonly string[];
  /** Header name (canonical, e.g. `X-Pomerium-Claim-Email`) → claim name. */
  readonly jwtClaimsHeaders: Readonly<Record<string, string>>;
  readonly jwtIssuerFormat: 'hostOnly' | 'uri';
  /** Undefined = all groups. */
  readonly jwtGroupsFilter: readonly string[] | undefined;
  readonly passIdentityHeaders: boolean;
  /** Emails, user ids, or `group:NAME` entries. */
  readonly administrators: readonly string[];
  readonly databrokerStorageType: StorageType;
  /** SQLite path or postgres:// URL. */
  readonly databrokerStorageConnectionString: string;
  /** PostgreSQL: a direct connection for LISTEN (default: the connection string). */
  readonly databrokerStorageListenConnectionString: string | undefined;
  /** PostgreSQL: queries and connecting fail after this long (ms). */
  readonly databrokerStorageQueryTimeoutMs: number;
  /** PostgreSQL: connections in this replica's query pool. */
  readonly databrokerStoragePoolSize: number;
  /** PostgreSQL: how stale a replica's cached view of other replicas' changes may be (ms). */
  readonly databrokerStorageMaxStalenessMs: number;
  readonly metricsAddress: string | undefined;
  readonly healthCheckAddr: string | undefined;
  readonly logLevel: LogLevel;
  // Observability (issue 12): see src/config/observability.ts.
  readonly metricsBasicAuth: { readonly user: string; readonly password: string } | undefined;
  readonly accessLogFields: readonly (AccessLogField | `headers.${string}`)[];
  readonly authorizeLogFields: readonly (AuthorizeLogField | `headers.${string}`)[];
  readonly otelExporterOtlpEndpoint: string | undefined;
  readonly otelExporterOtlpTracesEndpoint: string | undefined;
  /** OTEL_SDK_DISABLED: tracing off whatever the other keys say (then `otelTracesExporter` is 'none'). */
  readonly otelSdkDisabled: boolean;
  readonly otelTracesExporter: 'none' | 'otlp';
  readonly otelExporterOtlpProtocol: OtlpProtocol;
  readonly otelExporterOtlpTracesProtocol: OtlpProtocol;
  readonly otelExporterOtlpHeaders: Readonly<Record<string, string>>;
  readonly otelExporterOtlpTracesHeaders: Readonly<Record<string, string>>;
  readonly otelExporterOtlpTimeoutMs: number;
  readonly otelExporterOtlpTracesTimeoutMs: number;
  readonly otelTracesSampler: TracesSampler;
  readonly otelTracesSamplerArg: number;
  readonly otelServiceName: string;
  readonly otelResourceAttributes: Readonly<Record<string, string>>;
  readonly otelBspScheduleDelayMs: number;
  readonly otelBspMaxExportBatchSize: number;
  readonly otelAttributeValueLengthLimit: number;
  readonly timeoutReadMs: number;
  readonly timeoutWriteMs: number;
  readonly timeoutIdleMs: number;
  /** Limen: drain bound on SIGTERM/SIGINT in ms, default 10 s. */
  readonly shutdownTimeoutMs: number;
  /** Limen: worker processes for `limen serve --config`; `auto` = the CPUs available (1 on the memory store). */
  readonly workers: number | 'auto';
  readonly defaultUpstreamTimeoutMs: number;
  readonly xffNumTrustedHops: number;
  /** Pomerium's `normalize_path` and `merge_slashes`: always on in Limen (only `true` is accepted). */
  readonly normalizePath: true;
  readonly mergeSlashes: true;
  /** One meaning per request (CONTRACT §7, docs/security.md): each relaxes one refusal. */
  readonly pathWithEscapedSlashesAction: 'reject_request' | 'keep_unchanged' | 'unescape_and_redirect' | 'unescape_and_forward';
  readonly headersWithUnderscoresAction: 'reject_request' | 'drop_header' | 'allow';
  readonly allowBackslashInPath: boolean;
  readonly allowPathParameters: boolean;
  readonly allowInvalidPathEncoding: boolean;
  readonly allowDoubleEncodedPath: boolean;
  readonly allowEncodedControlCharacters: boolean;
  readonly programmaticRedirectDomainWhitelist: readonly string[];
  readonly routes: readonly RouteConfig[];
  /** Limen: namespace tree, always containing `global`. */
  readonly namespaces: readonly NamespaceConfig[];
  readonly downstreamMtls: DownstreamMtlsConfig | undefined;
  /** Limen: audit retention in ms, default 30 days. */
  readonly auditRetentionMs: number;
  /** Limen: run the embedded development IdP and demo upstream. */
  readonly devMode: boolean;
  /** Pomerium keys accepted but ignored, each with why; logged once at start. */
  readonly warnings?: readonly ConfigWarning[];
}

/** A key accepted with a warning (see src/config/fate.ts). */
export interface ConfigWarning {
  /** Key path, e.g. `routes[0].logo_url`. */
  readonly key: string;
  /** The same as a path into the document. */
  readonly path: readonly (string | number)[];
  readonly message: string;
  readonly line?: number;
  readonly column?: number;
}

/** A route path pattern (`regex`): the whole path must match; linear time. */
export interface PathPattern {
  readonly source: string;
  test(path: string): boolean;
}
