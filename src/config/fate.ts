/**
 * The fate of every key in Pomerium's configuration reference that Limen's
 * key tables do not read (CONTRACT §1: config written for Pomerium runs
 * unchanged, or is refused for a stated reason). A key is one of:
 * - supported: a row of the global or route key table (globals.ts, routes.ts);
 * - ignored: accepted with one warning at start, because it configures
 *   something Limen does not have (a split deployment, Envoy, a feature
 *   Pomerium itself removed); ignoring it neither weakens security nor
 *   changes what a request gets;
 * - refused: an error saying it is a Pomerium setting Limen does not
 *   implement and what to use instead, because ignoring it would weaken
 *   security or change behaviour.
 * A few refused keys accept the one value that is what Limen does anyway
 * (`allow_spdy: false`); that value is ignored with a warning.
 * Key lists were taken from Pomerium's config package (options.go, policy.go,
 * options_check.go and the structs they embed) and its documentation.
 */

export type Fate = 'supported' | 'ignored' | 'refused';

export interface FateRule {
  readonly fate: 'ignored' | 'refused';
  /** Ignored: why it does not apply. Refused: what to do instead. */
  readonly why: string;
  /** Refused keys: values that are what Limen does anyway; accepted with a warning. */
  readonly harmless?: readonly unknown[];
}

const ignore = (why: string): FateRule => ({ fate: 'ignored', why });
const refuse = (why: string, harmless?: readonly unknown[]): FateRule => ({ fate: 'refused', why, ...(harmless === undefined ? {} : { harmless }) });

const SPLIT = 'Limen runs every service in one process, so there is no internal service to address';
const ENVOY = 'Limen has no Envoy inside';
const DNS = 'Envoy\'s DNS resolver tuning; Limen resolves upstream names with the system resolver';
const REMOVED = 'removed from Pomerium';
const BRANDING = 'branding of Pomerium\'s pages; Limen\'s pages are not branded';

/** Pomerium's global keys that are not rows of the global key table. */
export const GLOBAL_FATES: Readonly<Record<string, FateRule>> = {
  // Deployment mode (split services, clustering).
  services: refuse('Limen runs every service in one process; omit services or set it to all', ['all']),
  authenticate_internal_service_url: ignore(SPLIT),
  authorize_service_url: ignore(SPLIT),
  authorize_service_urls: ignore(SPLIT),
  authorize_internal_service_url: ignore(SPLIT),
  databroker_service_url: ignore(`${SPLIT}; replicas share state through databroker_storage_type postgres`),
  databroker_service_urls: ignore(`${SPLIT}; replicas share state through databroker_storage_type postgres`),
  databroker_internal_service_url: ignore(SPLIT),
  databroker_cluster_leader_id: ignore('Limen replicas share state through PostgreSQL, not a Raft cluster'),
  databroker_cluster_node_id: ignore('Limen replicas share state through PostgreSQL, not a Raft cluster'),
  databroker_cluster_nodes: ignore('Limen replicas share state through PostgreSQL, not a Raft cluster'),
  databroker_raft_bind_address: ignore('Limen replicas share state through PostgreSQL, not a Raft cluster'),
  grpc_address: ignore('Limen serves no gRPC between services'),
  grpc_insecure: ignore('Limen serves no gRPC between services'),
  grpc_client_timeout: ignore('Limen makes no gRPC calls between services'),
  grpc_server_max_connection_age: ignore(`Limen serves no gRPC between services (${REMOVED})`),
  grpc_server_max_connection_age_grace: ignore(`Limen serves no gRPC between services (${REMOVED})`),
  override_certificate_name: ignore('it names the certificate of internal gRPC services, which Limen does not have'),
  cache_service_url: ignore(`${SPLIT} (${REMOVED})`),
  // Envoy.
  envoy_admin_address: ignore(ENVOY),
  envoy_admin_access_log_path: ignore(ENVOY),
  envoy_admin_profile_path: ignore(ENVOY),
  envoy_bind_config_freebind: ignore(ENVOY),
  envoy_bind_config_source_address: ignore(ENVOY),
  envoy_dynamic_extensions: ignore(ENVOY),
  proxy_log_level: ignore(`${ENVOY}; log_level sets Limen's log level`),
  codec_type: ignore(`${ENVOY}; Limen's listener chooses the HTTP version itself`),
  dns_lookup_family: ignore(DNS),
  dns_failure_refresh_rate: ignore(DNS),
  dns_query_timeout: ignore(DNS),
  dns_query_tries: ignore(DNS),
  dns_refresh_rate: ignore(DNS),
  dns_udp_max_queries: ignore(DNS),
  dns_use_tcp: ignore(DNS),
  dns_resolvers: refuse('Limen resolves upstream names with the system resolver; set the resolvers in /etc/resolv.conf'),
  // Process plumbing that Limen does not have.
  debug_address: ignore('Limen has no debug (pprof) listener'),
  runtime_flags: ignore('Pomerium feature flags; Limen has none'),
  installation_id: ignore('identifies an installation to Pomerium\'s hosted services'),
  health_check_systemd_disabled: ignore('Limen does not notify systemd; health_check_addr serves the health checks'),
  otel_log_level: ignore('log level of Pomerium\'s OpenTelemetry SDK; Limen logs failed trace exports as warnings, at most once a minute'),
  auto_apply_changesets: ignore('Pomerium Enterprise console setting'),
  // Branding (Pomerium Enterprise).
  primary_color: ignore(BRANDING),
  secondary_color: ignore(BRANDING),
  darkmode_primary_color: ignore(BRANDING),
  darkmode_secondary_color: ignore(BRANDING),
  logo_url: ignore(BRANDING),
  favicon_url: ignore(BRANDING),
  error_message_first_paragraph: ignore(BRANDING),
  // Removed from Pomerium; nothing left to configure.
  pomerium_debug: ignore(`${REMOVED}; Limen's log_level: debug is its nearest relative`),
  forward_auth_url: ignore(`${REMOVED} (forward-auth mode); Limen is the proxy in front of the routes`),
  idp_service_account: ignore(`${REMOVED} (directory sync); groups come from the IdP's claims or Limen's directory`),
  idp_refresh_directory_timeout: ignore(`${REMOVED} (directory sync)`),
  idp_refresh_directory_interval: ignore(`${REMOVED} (directory sync)`),
  idp_qps: ignore(`${REMOVED} (directory sync)`),
  tracing_provider: ignore(`${REMOVED}; Limen traces with the otel_* keys`),
  tracing_sample_rate: ignore(`${REMOVED}; Limen traces with the otel_* keys`),
  tracing_datadog_address: ignore(`${REMOVED}; Limen traces with the otel_* keys`),
  tracing_jaeger_collector_endpoint: ignore(`${REMOVED}; Limen traces with the otel_* keys`),
  tracing_jaeger_agent_endpoint: ignore(`${REMOVED}; Limen traces with the otel_* keys`),
  tracing_zipkin_endpoint: ignore(`${REMOVED}; Limen traces with the otel_* keys`),
  // Refused: ignoring them would weaken security or change behaviour.
  client_ca: refuse('set downstream_mtls.ca (base64 PEM) instead'),
  client_ca_file: refuse('set downstream_mtls.ca_file instead'),
  certificate_authority: refuse('Limen does not add a global CA for upstreams; set tls_custom_ca on each route that needs it'),
  certificate_authority_file: refuse('Limen does not add a global CA for upstreams; set tls_custom_ca_file on each route that needs it'),
  tls_derive: refuse('Limen does not derive certificates from the shared secret; set certificate_file and certificate_key_file'),
  use_proxy_protocol: refuse('Limen does not read the PROXY protocol; let the load balancer send X-Forwarded-For and set xff_num_trusted_hops', [false]),
  skip_xff_append: refuse('Limen always appends the connection\'s peer address to X-Forwarded-For', [false]),
  set_response_headers: refuse('Limen has no global response headers; set set_response_headers on each route'),
  headers: refuse('set set_response_headers on each route'),
  signout_redirect_url: refuse('Limen shows its own signed-out page after sign-out'),
  authenticate_callback_path: refuse('Limen\'s callback is always /oauth2/callback on authenticate_service_url; register that URL at the IdP', ['/oauth2/callback']),
  policy_file: refuse('put the routes in this file\'s routes list'),
  identity_providers: refuse('Limen signs in with one IdP (idp_provider)'),
  idp_access_token_allowed_audiences: refuse('Limen does not accept IdP access tokens as bearer tokens; use service accounts'),
  bearer_token_format: refuse('Limen reads Pomerium service-account and session tokens only', ['default']),
  jwt_groups_filter_infer_from_ppl: refuse('list the groups in jwt_groups_filter'),
  metrics_certificate: refuse('Limen serves metrics over plain HTTP; keep metrics_address on a private address or protect it with metrics_basic_auth'),
  metrics_certificate_file: refuse('Limen serves metrics over plain HTTP; keep metrics_address on a private address or protect it with metrics_basic_auth'),
  metrics_certificate_key: refuse('Limen serves metrics over plain HTTP; keep metrics_address on a private address or protect it with metrics_basic_auth'),
  metrics_certificate_key_file: refuse('Limen serves metrics over plain HTTP; keep metrics_address on a private address or protect it with metrics_basic_auth'),
  metrics_client_ca: refuse('Limen does not ask metrics clients for certificates; use metrics_basic_auth'),
  metrics_client_ca_file: refuse('Limen does not ask metrics clients for certificates; use metrics_basic_auth'),
  google_cloud_serverless_authentication_service_account: refuse('Limen does not sign Google Cloud serverless requests'),
  circuit_breaker_thresholds: refuse('Limen has no circuit breakers; bound upstream time with timeout'),
  allow_upgrades: refuse('Limen upgrades only websockets, per route with allow_websockets'),
  blob_storage: refuse('Limen keeps no blobs; the store is databroker_storage_type'),
  session_recording_concurrency: refuse('Limen does not record sessions'),
  mcp_allowed_as_metadata_domains: refuse('Limen does not serve MCP'),
  mcp_allowed_client_id_domains: refuse('Limen does not serve MCP'),
  ssh_address: refuse('Limen does not proxy SSH'),
  ssh_host_keys: refuse('Limen does not proxy SSH'),
  ssh_host_key_files: refuse('Limen does not proxy SSH'),
  ssh_user_ca_key: refuse('Limen does not proxy SSH'),
  ssh_user_ca_key_file: refuse('Limen does not proxy SSH'),
  ssh_rls_enabled: refuse('Limen does not proxy SSH'),
  ssh_rls_additional_entries: refuse('Limen does not proxy SSH'),
};

const ROUTE_DISPLAY = 'shown on Pomerium\'s pages; Limen shows name and description';

/** Pomerium's route keys that are not rows of the route key table. */
export const ROUTE_FATES: Readonly<Record<string, FateRule>> = {
  id: ignore('Limen names routes by their position and name'),
  logo_url: ignore(ROUTE_DISPLAY),
  show_error_details: ignore('Limen\'s error pages always show the reason and a request id, never internals'),
  allow_spdy: refuse('Limen does not tunnel SPDY upgrades; use allow_websockets for websockets', [false]),
  regex_rewrite_pattern: refuse('use prefix_rewrite, or a path in the to URL'),
  regex_rewrite_substitution: refuse('use prefix_rewrite, or a path in the to URL'),
  host_rewrite_header: refuse('use host_rewrite or preserve_host_header'),
  host_path_regex_rewrite_pattern: refuse('use host_rewrite or preserve_host_header'),
  host_path_regex_rewrite_substitution: refuse('use host_rewrite or preserve_host_header'),
  rewrite_response_headers: refuse('set fixed headers with set_response_headers'),
  regex_priority_order: refuse('Limen matches routes in file order; order the routes instead'),
  load_balancing_policy: refuse('Limen picks among the to URLs by their weights (weighted random with failover)', ['ROUND_ROBIN', 'round_robin', 'RANDOM', 'random']),
  health_checks: refuse('Limen does not probe upstreams; it fails over to the next to URL when one refuses the connection'),
  outlier_detection: refuse('Limen does not eject upstreams; it fails over to the next to URL when one refuses the connection'),
  healthy_panic_threshold: refuse('Limen does not eject upstreams'),
  circuit_breaker_thresholds: refuse('Limen has no circuit breakers; bound upstream time with timeout'),
  max_request_bytes: refuse('Limen does not limit request bodies per route; limit them at the upstream'),
  kubernetes_service_account_token: refuse('send the token with set_request_headers (Authorization: Bearer ...)'),
  kubernetes_service_account_token_file: refuse('send the token with set_request_headers (Authorization: Bearer ...)'),
  enable_google_cloud_serverless_authentication: refuse('Limen does not sign Google Cloud serverless requests', [false]),
  tls_downstream_client_ca: refuse('client certificates are checked for every route with the global downstream_mtls'),
  tls_downstream_client_ca_file: refuse('client certificates are checked for every route with the global downstream_mtls'),
  tls_downstream_server_name: refuse('Limen chooses its certificate by the request\'s SNI'),
  tls_upstream_allow_renegotiation: refuse('Limen does not renegotiate TLS with upstreams', [false]),
  allowed_groups: refuse('removed from Pomerium; write a policy with groups: {has: NAME}'),
  set_authorization_header: refuse('removed from Pomerium; send the assertion with pass_identity_headers'),
  sub_policies: refuse('write the rules in policy (PPL)'),
  idp_client_id: refuse('Limen signs in with one IdP for every route (idp_client_id at the top level)'),
  idp_client_secret: refuse('Limen signs in with one IdP for every route (idp_client_secret at the top level)'),
  identity_providers: refuse('Limen signs in with one IdP for every route'),
  idp_access_token_allowed_audiences: refuse('Limen does not accept IdP access tokens as bearer tokens; use service accounts'),
  bearer_token_format: refuse('Limen reads Pomerium service-account and session tokens only', ['default']),
  jwt_issuer_format: refuse('set jwt_issuer_format at the top level'),
  jwt_groups_filter: refuse('set jwt_groups_filter at the top level'),
  jwt_groups_filter_infer_from_ppl: refuse('list the groups in the top-level jwt_groups_filter'),
  allow_upgrades: refuse('Limen upgrades only websockets, with allow_websockets'),
  redirect: refuse('Limen proxies every route to an upstream; serve the redirect from an upstream'),
  response: refuse('Limen proxies every route to an upstream; serve the response from an upstream'),
  depends_on: refuse('Limen signs in on authenticate_service_url only'),
  mcp: refuse('Limen does not serve MCP'),
  upstream_oauth2: refuse('Limen does not sign in to upstreams with OAuth 2.0'),
  upstream_tunnel: refuse('Limen does not tunnel to upstreams'),
  session_recording: refuse('Limen does not record sessions'),
  ssh_policy: refuse('Limen does not proxy SSH'),
  ssh_policy_rego: refuse('Limen does not proxy SSH'),
};

/** The fate rule of a global key not in the key table, or undefined for an unknown key. */
export function globalFate(key: string, supported: ReadonlySet<string>): FateRule | undefined {
  if (supported.has(key)) return undefined;
  return Object.hasOwn(GLOBAL_FATES, key) ? GLOBAL_FATES[key] : undefined;
}

/** The fate rule of a route key not in the route table, or undefined for an unknown key. */
export function routeFate(key: string): FateRule | undefined {
  return Object.hasOwn(ROUTE_FATES, key) ? ROUTE_FATES[key] : undefined;
}

/** Whether `value` is one of the rule's harmless values (strings compared case-sensitively, as written). */
export function isHarmless(rule: FateRule, value: unknown): boolean {
  return rule.harmless?.some((h) => h === value || (typeof h === 'boolean' && typeof value === 'string' && value === String(h))) === true;
}

/** The message for a refused key. */
export function refusalMessage(rule: FateRule): string {
  return `a Pomerium setting Limen does not implement: ${rule.why}`;
}

/** The message for an ignored key (or a harmless value of a refused one). */
export function ignoredMessage(rule: FateRule, harmlessValue: boolean): string {
  return harmlessValue
    ? 'ignored: this value is what Limen does anyway'
    : `ignored: ${rule.why}`;
}

/** One row of the fate table in docs/configuration.md. */
export interface FateRow {
  readonly key: string;
  readonly scope: 'global' | 'route';
  readonly fate: Fate;
  readonly note: string;
}

/** Every fate rule as table rows, with the supported keys given by the caller. */
export function fateRows(supportedGlobal: readonly string[], supportedRoute: readonly string[]): FateRow[] {
  const rows: FateRow[] = [];
  for (const key of supportedGlobal) rows.push({ key, scope: 'global', fate: 'supported', note: '' });
  for (const [key, rule] of Object.entries(GLOBAL_FATES)) rows.push({ key, scope: 'global', ...noteOf(rule) });
  for (const key of supportedRoute) rows.push({ key, scope: 'route', fate: 'supported', note: '' });
  for (const [key, rule] of Object.entries(ROUTE_FATES)) rows.push({ key, scope: 'route', ...noteOf(rule) });
  return rows.sort((a, b) => (a.scope === b.scope ? a.key.localeCompare(b.key) : a.scope === 'global' ? -1 : 1));
}

function noteOf(rule: FateRule): { fate: Fate; note: string } {
  const harmless = rule.harmless === undefined ? '' : ` (${rule.harmless.map((h) => `\`${String(h)}\``).join(', ')} accepted with a warning)`;
  return { fate: rule.fate, note: `${rule.why}${harmless}` };
}
