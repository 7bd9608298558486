import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { generateKeyPairSync, createPrivateKey } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../errors/index.js';
import { configReference, parseConfig, routeReference, type Config } from './index.js';

const SECRET = Buffer.alloc(32, 7).toString('base64');
const OTHER_SECRET = Buffer.alloc(32, 9).toString('base64url');

/** Test-only certificate and key (src/config/testdata). */
const TLS_CERT = fileURLToPath(new URL('./testdata/tls.pem', import.meta.url));
const TLS_KEY = fileURLToPath(new URL('./testdata/tls.key', import.meta.url));

const TLS_KEYS = ['insecure_server', 'certificate_file', 'certificate_key_file', 'certificates'];

/** The smallest valid production document (with the test certificate unless `extra` sets TLS keys itself). */
function minimal(extra: Record<string, unknown> = {}): Record<string, unknown> {
  const tls = TLS_KEYS.some((k) => k in extra) ? {} : { certificate_file: TLS_CERT, certificate_key_file: TLS_KEY };
  return {
    ...tls,
    shared_secret: SECRET,
    cookie_secret: SECRET,
    idp_provider_url: 'https://idp.example.com',
    idp_client_id: 'limen',
    authenticate_service_url: 'https://authenticate.example.com',
    ...extra,
  };
}

/** Runs `fn`, expecting a ConfigError; returns it. */
function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof ConfigError, `expected ConfigError, got ${String(error)}`);
    assert.equal(error.code, 'ERR_CONFIG_INVALID');
    assert.ok(error.message.startsWith(`${error.key}: `), `message names the key: ${error.message}`);
    return error;
  }
  assert.fail('expected a ConfigError, nothing was thrown');
}

describe('defaults (CONTRACT §1)', () => {
  const config = parseConfig(minimal(), {});
  const defaults: [keyof Config, unknown][] = [
    ['source', undefined],
    ['address', { host: '', port: 443 }],
    ['insecureServer', false],
    // minimal() names the test certificate: serving HTTPS needs one.
    ['certificateFile', TLS_CERT],
    ['certificateKeyFile', TLS_KEY],
    ['certificates', []],
    // Automatic certificates (issue 15): off, and so is the redirect listener.
    ['autocert', false], ['autocertDir', undefined], ['autocertUseStaging', false], ['autocertCa', undefined],
    ['autocertEmail', undefined], ['autocertEabKeyId', undefined], ['autocertEabMacKey', undefined],
    ['autocertMustStaple', false], ['autocertTrustedCa', undefined], ['autocertTrustedCaFile', undefined], ['httpRedirectAddr', undefined],
    ['idpProvider', 'oidc'],
    ['idpClientSecret', undefined],
    ['idpScopes', ['openid', 'profile', 'email', 'offline_access']],
    ['idpRequestParams', {}],
    ['idpEmailVerification', 'reject_unverified'],
    ['cookieName', '_pomerium'],
    ['cookieDomain', undefined],
    ['cookieSameSite', 'lax'],
    ['cookieHttpOnly', true],
    ['cookieSecure', true],
    ['cookieExpireMs', 14 * 3_600_000],
    ['signingKeys', []],
    ['jwtClaimsHeaders', {}],
    ['jwtIssuerFormat', 'hostOnly'],
    ['jwtGroupsFilter', undefined],
    ['passIdentityHeaders', false],
    ['administrators', []],
    ['databrokerStorageType', 'file'],
    ['databrokerStorageConnectionString', './data/limen.db'],
    ['databrokerStorageListenConnectionString', undefined],
    ['databrokerStorageQueryTimeoutMs', 2000],
    ['databrokerStoragePoolSize', 10],
    ['databrokerStorageMaxStalenessMs', 1000],
    ['metricsAddress', undefined],
    ['healthCheckAddr', undefined],
    ['logLevel', 'info'],
    // Observability (issue 12): src/config/observability.test.ts covers the values.
    ['metricsBasicAuth', undefined],
    ['accessLogFields', ['authority', 'duration', 'forwarded-for', 'ip', 'method', 'path', 'referer', 'request-id', 'response-code', 'response-code-details', 'size', 'upstream-cluster', 'user-agent', 'user', 'email', 'route-id']],
    ['authorizeLogFields', ['check-request-id', 'email', 'envoy-route-checksum', 'envoy-route-id', 'host', 'impersonate-email', 'impersonate-session-id', 'impersonate-user-id', 'ip', 'method', 'path', 'removed-groups-count', 'request-id', 'route-checksum', 'route-id', 'service-account-id', 'session-id', 'user']],
    ['otelExporterOtlpEndpoint', undefined],
    ['otelExporterOtlpTracesEndpoint', undefined],
    ['otelSdkDisabled', false],
    ['otelTracesExporter', 'none'],
    ['otelExporterOtlpProtocol', 'http/protobuf'],
    ['otelExporterOtlpTracesProtocol', 'http/protobuf'],
    ['otelExporterOtlpHeaders', {}],
    ['otelExporterOtlpTracesHeaders', {}],
    ['otelExporterOtlpTimeoutMs', 10_000],
    ['otelExporterOtlpTracesTimeoutMs', 10_000],
    ['otelTracesSampler', 'parentbased_traceidratio'],
    ['otelTracesSamplerArg', 1],
    ['otelServiceName', 'limen'],
    ['otelResourceAttributes', {}],
    ['otelBspScheduleDelayMs', 5000],
    ['otelBspMaxExportBatchSize', 512],
    ['otelAttributeValueLengthLimit', 256],
    ['timeoutReadMs', 30_000],
    ['timeoutWriteMs', 0],
    ['timeoutIdleMs', 300_000],
    ['shutdownTimeoutMs', 10_000],
    ['workers', 'auto'],
    ['defaultUpstreamTimeoutMs', 30_000],
    ['xffNumTrustedHops', 0],
    ['normalizePath', true],
    ['mergeSlashes', true],
    ['pathWithEscapedSlashesAction', 'reject_request'],
    ['headersWithUnderscoresAction', 'reject_request'],
    ['allowBackslashInPath', false],
    ['allowPathParameters', false],
    ['allowInvalidPathEncoding', false],
    ['allowDoubleEncodedPath', false],
    ['allowEncodedControlCharacters', false],
    ['programmaticRedirectDomainWhitelist', ['localhost']],
    ['routes', []],
    ['namespaces', [{ name: 'global', parent: undefined }]],
    ['downstreamMtls', undefined],
    ['auditRetentionMs', 30 * 86_400_000],
    ['devMode', false],
    ['certificate', undefined],
    ['certificateKey', undefined],
    ['warnings', []],
  ];
  for (const [field, want] of defaults) {
    test(`${field} defaults to ${JSON.stringify(want)}`, () => {
      assert.deepEqual(config[field], want);
    });
  }

  test('every Config field has a default row above', () => {
    const covered = new Set<string>([...defaults.map(([f]) => f), 'sharedSecret', 'cookieSecret', 'idpProviderUrl', 'idpClientId', 'authenticateServiceUrl']);
    assert.deepEqual(Object.keys(config).filter((k) => !covered.has(k)), []);
  });

  test('address defaults to :80 with insecure_server', () => {
    assert.deepEqual(parseConfig(minimal({ insecure_server: true }), {}).address, { host: '', port: 80 });
  });

  test('google needs no idp_provider_url', () => {
    const { idp_provider_url: _, ...doc } = minimal({ idp_provider: 'google' });
    assert.equal(parseConfig(doc, {}).idpProviderUrl, 'https://accounts.google.com');
  });

  test('secrets decode to their bytes; std and url-safe base64 both work', () => {
    const c = parseConfig(minimal({ cookie_secret: OTHER_SECRET }), {});
    assert.deepEqual([...c.sharedSecret], [...Buffer.alloc(32, 7)]);
    assert.deepEqual([...c.cookieSecret], [...Buffer.alloc(32, 9)]);
  });

  test('source is recorded', () => {
    assert.equal(parseConfig(minimal(), {}, { source: '/etc/limen.yaml' }).source, '/etc/limen.yaml');
  });
});

describe('required keys', () => {
  for (const key of ['shared_secret', 'cookie_secret', 'idp_provider_url', 'idp_client_id', 'authenticate_service_url']) {
    test(`${key} is required outside dev mode`, () => {
      const doc = minimal();
      delete doc[key];
      const err = configError(() => parseConfig(doc, {}));
      assert.equal(err.key, key);
      assert.match(err.message, /required/);
      assert.match(err.message, new RegExp(key.toUpperCase()));
    });
  }

  test('dev mode needs none of them, and makes 32-byte secrets', () => {
    const c = parseConfig({ insecure_server: true }, {}, { devMode: true });
    assert.equal(c.devMode, true);
    assert.equal(c.sharedSecret.length, 32);
    assert.equal(c.cookieSecret.length, 32);
    assert.notDeepEqual([...c.sharedSecret], [...c.cookieSecret]);
    assert.equal(c.idpProviderUrl, undefined);
    assert.equal(c.authenticateServiceUrl, undefined);
  });

  test('dev mode keeps secrets the caller supplies', () => {
    const c = parseConfig({ insecure_server: true }, { SHARED_SECRET: SECRET }, { devMode: true });
    assert.deepEqual([...c.sharedSecret], [...Buffer.alloc(32, 7)]);
  });

  test('postgres needs a connection string', () => {
    const err = configError(() => parseConfig(minimal({ databroker_storage_type: 'postgres' }), {}));
    assert.equal(err.key, 'databroker_storage_connection_string');
  });

  test('certificate_file and certificate_key_file come together', () => {
    assert.equal(configError(() => parseConfig(minimal({ certificate_file: 'c.pem' }), {})).key, 'certificate_key_file');
    assert.equal(configError(() => parseConfig(minimal({ certificate_key_file: 'k.pem' }), {})).key, 'certificate_file');
  });

  test('an empty document or null is an empty mapping; anything else at the top is not', () => {
    assert.equal(parseConfig(null, { INSECURE_SERVER: 'true' }, { devMode: true }).cookieName, '_pomerium');
    for (const bad of [[], 'x', 3]) {
      const err = configError(() => parseConfig(bad, {}, { devMode: true, source: 'limen.yaml' }));
      assert.equal(err.key, 'limen.yaml');
    }
  });
});

describe('values that are read', () => {
  const cases: { doc: Record<string, unknown>; field: keyof Config; want: unknown }[] = [
    { doc: { address: ':8080' }, field: 'address', want: { host: '', port: 8080 } },
    { doc: { address: '127.0.0.1:8080' }, field: 'address', want: { host: '127.0.0.1', port: 8080 } },
    { doc: { address: '[::1]:8080' }, field: 'address', want: { host: '::1', port: 8080 } },
    { doc: { address: 'localhost:0' }, field: 'address', want: { host: 'localhost', port: 0 } },
    { doc: { cookie_expire: '1h30m' }, field: 'cookieExpireMs', want: 5_400_000 },
    { doc: { cookie_same_site: 'Strict' }, field: 'cookieSameSite', want: 'strict' },
    { doc: { cookie_http_only: false }, field: 'cookieHttpOnly', want: false },
    { doc: { cookie_domain: '.Example.com' }, field: 'cookieDomain', want: '.example.com' },
    { doc: { idp_scopes: ['openid', 'email'] }, field: 'idpScopes', want: ['openid', 'email'] },
    { doc: { idp_request_params: { prompt: 'select_account', max_age: 30 } }, field: 'idpRequestParams', want: { prompt: 'select_account', max_age: '30' } },
    { doc: { idp_provider: 'Keycloak' }, field: 'idpProvider', want: 'keycloak' },
    { doc: { idp_email_verification: 'require_verified' }, field: 'idpEmailVerification', want: 'require_verified' },
    { doc: { idp_email_verification: 'trust_idp' }, field: 'idpEmailVerification', want: 'trust_idp' },
    { doc: { idp_client_id: 123456 }, field: 'idpClientId', want: '123456' },
    { doc: { idp_client_secret: 'shh' }, field: 'idpClientSecret', want: 'shh' },
    { doc: { jwt_claims_headers: ['email', 'groups', 'given_name'] }, field: 'jwtClaimsHeaders', want: { 'X-Pomerium-Claim-Email': 'email', 'X-Pomerium-Claim-Groups': 'groups', 'X-Pomerium-Claim-Given-Name': 'given_name' } },
    { doc: { jwt_claims_headers: { 'x-user-email': 'email', 'X-Team': 'org.team' } }, field: 'jwtClaimsHeaders', want: { 'X-User-Email': 'email', 'X-Team': 'org.team' } },
    { doc: { jwt_issuer_format: 'uri' }, field: 'jwtIssuerFormat', want: 'uri' },
    { doc: { jwt_groups_filter: ['admins'] }, field: 'jwtGroupsFilter', want: ['admins'] },
    { doc: { jwt_groups_filter: [] }, field: 'jwtGroupsFilter', want: [] },
    { doc: { administrators: ['ada@example.com', 'u-1', 'group:admins'] }, field: 'administrators', want: ['ada@example.com', 'u-1', 'group:admins'] },
    { doc: { databroker_storage_type: 'memory' }, field: 'databrokerStorageConnectionString', want: '' },
    { doc: { databroker_storage_type: 'postgres', databroker_storage_connection_string: 'postgres://postgres@127.0.0.1:5432/test' }, field: 'databrokerStorageConnectionString', want: 'postgres://postgres@127.0.0.1:5432/test' },
    { doc: { databroker_storage_connection_string: '/var/lib/limen/db.sqlite' }, field: 'databrokerStorageConnectionString', want: '/var/lib/limen/db.sqlite' },
    { doc: { databroker_storage_type: 'postgres', databroker_storage_connection_string: 'postgres://limen@db/limen', databroker_storage_query_timeout: '500ms' }, field: 'databrokerStorageQueryTimeoutMs', want: 500 },
    { doc: {}, field: 'databrokerStorageQueryTimeoutMs', want: 2000 },
    { doc: { databroker_storage_type: 'postgres', databroker_storage_connection_string: 'postgres://limen@db/limen', databroker_storage_pool_size: 4 }, field: 'databrokerStoragePoolSize', want: 4 },
    { doc: {}, field: 'databrokerStoragePoolSize', want: 10 },
    { doc: { databroker_storage_type: 'postgres', databroker_storage_connection_string: 'postgres://limen@db/limen', databroker_storage_max_staleness: '250ms' }, field: 'databrokerStorageMaxStalenessMs', want: 250 },
    { doc: {}, field: 'databrokerStorageMaxStalenessMs', want: 1000 },
    { doc: { databroker_storage_type: 'postgres', databroker_storage_connection_string: 'postgres://limen@pgbouncer:6432/limen', databroker_storage_listen_connection_string: 'postgres://limen@db:5432/limen' }, field: 'databrokerStorageListenConnectionString', want: 'postgres://limen@db:5432/limen' },
    { doc: {}, field: 'databrokerStorageListenConnectionString', want: undefined },
    { doc: { metrics_address: ':9090' }, field: 'metricsAddress', want: ':9090' },
    { doc: { log_level: 'DEBUG' }, field: 'logLevel', want: 'debug' },
    // Pomerium's other spellings (config/log_level.go), as the nearest level Limen has.
    ...([['trace', 'debug'], ['warning', 'warn'], ['WARNING', 'warn'], ['critical', 'error'], ['fatal', 'error'], ['panic', 'error'],
      ['off', 'off'], ['none', 'off'], ['disabled', 'off'], ['', 'info']] as const).map(([v, want]) => ({ doc: { log_level: v }, field: 'logLevel' as const, want })),
    { doc: { timeout_write: '0' }, field: 'timeoutWriteMs', want: 0 },
    { doc: { timeout_write: 0 }, field: 'timeoutWriteMs', want: 0 },
    { doc: { xff_num_trusted_hops: 2 }, field: 'xffNumTrustedHops', want: 2 },
    { doc: { normalize_path: true }, field: 'normalizePath', want: true },
    { doc: { merge_slashes: 'true' }, field: 'mergeSlashes', want: true },
    { doc: { path_with_escaped_slashes_action: 'keep_unchanged' }, field: 'pathWithEscapedSlashesAction', want: 'keep_unchanged' },
    { doc: { path_with_escaped_slashes_action: 'UNESCAPE_AND_FORWARD' }, field: 'pathWithEscapedSlashesAction', want: 'unescape_and_forward' },
    { doc: { path_with_escaped_slashes_action: 'PATH_WITH_ESCAPED_SLASHES_ACTION_UNESCAPE_AND_REDIRECT' }, field: 'pathWithEscapedSlashesAction', want: 'unescape_and_redirect' },
    { doc: { headers_with_underscores_action: 'drop_header' }, field: 'headersWithUnderscoresAction', want: 'drop_header' },
    { doc: { headers_with_underscores_action: 'HEADERS_WITH_UNDERSCORES_ACTION_ALLOW' }, field: 'headersWithUnderscoresAction', want: 'allow' },
    { doc: { allow_backslash_in_path: true }, field: 'allowBackslashInPath', want: true },
    { doc: { allow_path_parameters: 'true' }, field: 'allowPathParameters', want: true },
    { doc: { allow_invalid_path_encoding: true }, field: 'allowInvalidPathEncoding', want: true },
    { doc: { allow_double_encoded_path: true }, field: 'allowDoubleEncodedPath', want: true },
    { doc: { allow_encoded_control_characters: true }, field: 'allowEncodedControlCharacters', want: true },
    { doc: { programmatic_redirect_domain_whitelist: ['Localhost', 'cli.example.com'] }, field: 'programmaticRedirectDomainWhitelist', want: ['localhost', 'cli.example.com'] },
    { doc: { certificates: [{ cert: TLS_CERT, key: TLS_KEY }] }, field: 'certificates', want: [{ certFile: TLS_CERT, keyFile: TLS_KEY }] },
    { doc: { downstream_mtls: { ca_file: TLS_CERT } }, field: 'downstreamMtls', want: { caFile: TLS_CERT, ca: undefined, enforcement: 'policy_with_default_deny' } },
    { doc: { downstream_mtls: { ca_file: TLS_CERT, enforcement: 'reject_connection' } }, field: 'downstreamMtls', want: { caFile: TLS_CERT, ca: undefined, enforcement: 'reject_connection' } },
    { doc: { audit_retention: '90d' }, field: 'auditRetentionMs', want: 90 * 86_400_000 },
    { doc: { insecure_server: 'true' }, field: 'insecureServer', want: true },
  ];
  for (const { doc, field, want } of cases) {
    test(`${JSON.stringify(doc)} → ${field}`, () => {
      assert.deepEqual(parseConfig(minimal(doc), {})[field], want);
    });
  }

  test('authenticate_service_url is a URL; http only with insecure_server', () => {
    assert.equal(parseConfig(minimal(), {}).authenticateServiceUrl?.href, 'https://authenticate.example.com/');
    const http = { authenticate_service_url: 'http://authenticate.localhost:8080' };
    assert.equal(parseConfig(minimal({ ...http, insecure_server: true }), {}).authenticateServiceUrl?.port, '8080');
    const err = configError(() => parseConfig(minimal(http), {}));
    assert.equal(err.key, 'authenticate_service_url');
    assert.match(err.message, /insecure_server/);
  });
});

describe('unknown keys name the nearest known key', () => {
  const cases: [Record<string, unknown>, string, string][] = [
    [{ sharedsecret: SECRET }, 'sharedsecret', 'shared_secret'],
    [{ cookie_expires: '1h' }, 'cookie_expires', 'cookie_expire'],
    [{ 'idp-client-id': 'x' }, 'idp-client-id', 'idp_client_id'],
    [{ adress: ':80' }, 'adress', 'address'],
    [{ insecure_sever: true }, 'insecure_sever', 'insecure_server'],
    [{ route: [] }, 'route', 'routes'],
    [{ namespace: [] }, 'namespace', 'namespaces'],
    [{ downstream_mtls: { ca_flie: 'x' } }, 'downstream_mtls.ca_flie', 'ca_file'],
    [{ namespaces: [{ name: 'a', parnet: 'global' }] }, 'namespaces[0].parnet', 'parent'],
    [{ certificates: [{ cert: 'a', keyfile: 'b' }] }, 'certificates[0].keyfile', 'key'],
  ];
  for (const [extra, key, suggestion] of cases) {
    test(`${key} → did you mean "${suggestion}"?`, () => {
      const err = configError(() => parseConfig(minimal(extra), {}));
      assert.equal(err.key, key);
      assert.equal(err.message, `${key}: unknown key; did you mean "${suggestion}"?`);
    });
  }

  test('every key in the reference is a known key', () => {
    for (const { key } of configReference()) {
      try {
        parseConfig(minimal({ [key]: { not: 'valid' } }), {});
      } catch (error) {
        assert.ok(error instanceof ConfigError);
        // A bad value may have unknown sub-keys, but the key itself is known.
        if (/unknown key/.test(error.message)) assert.notEqual(error.key, key);
      }
    }
  });
});

describe('bad values name the key and what was expected', () => {
  const ALL = [0, -1, '', null, [], {}];
  const cases: { key: string; bad: unknown[] }[] = [
    { key: 'insecure_server', bad: [...ALL, 'yes', 'on'] },
    { key: 'address', bad: [...ALL, '8080', ':99999', '[::1]', 'a:b:1', ':', 'host:'] },
    { key: 'authenticate_service_url', bad: [...ALL, 'authenticate.example.com', 'ftp://a.example.com', 'https://a.example.com/?x=1', 'https://u:p@a.example.com'] },
    { key: 'idp_provider', bad: [...ALL, 'saml'] },
    { key: 'idp_provider_url', bad: [...ALL, 'idp.example.com', 'mailto:a@b'] },
    { key: 'idp_client_id', bad: ['', null, [], {}] },
    { key: 'idp_client_secret', bad: [0, -1, '', '  ', null, [], {}] },
    { key: 'idp_scopes', bad: [...ALL, [''], [{}]] },
    { key: 'idp_request_params', bad: [0, -1, '', null, [], { a: null }, { a: [] }] },
    { key: 'idp_email_verification', bad: [...ALL, 'true', 'verified', 'TRUST_IDP'] },
    { key: 'shared_secret', bad: ALL },
    { key: 'cookie_secret', bad: ALL },
    { key: 'cookie_name', bad: ['', null, [], {}, 'has space', 'semi;colon'] },
    { key: 'cookie_domain', bad: ['', null, [], {}, 'exa mple.com', 'a;b'] },
    { key: 'cookie_same_site', bad: [...ALL, 'sometimes'] },
    { key: 'cookie_http_only', bad: ALL },
    { key: 'cookie_expire', bad: [...ALL, 'soon', '14', '-1h', '14 h'] },
    { key: 'signing_key', bad: ALL },
    { key: 'jwt_claims_headers', bad: [0, -1, null, [''], ['a b'], { 'X-A': '' }, { 'bad header': 'email' }, ['email', 'X-Pomerium-Claim-Email=email']] },
    { key: 'jwt_issuer_format', bad: [...ALL, 'hostonly', 'URI'] },
    { key: 'jwt_groups_filter', bad: [0, -1, null, {}, [null]] },
    { key: 'pass_identity_headers', bad: ALL },
    { key: 'administrators', bad: [0, -1, null, {}, ['group:'], [{}]] },
    { key: 'databroker_storage_type', bad: [...ALL, 'redis', 'inmemory'] },
    { key: 'databroker_storage_query_timeout', bad: [...ALL, '2', 'fast', '-1s'] },
    { key: 'databroker_storage_pool_size', bad: [...ALL, 1001, 2.5, 'ten'] },
    { key: 'databroker_storage_max_staleness', bad: [...ALL, '10ms', '2m', 'never'] },
    { key: 'databroker_storage_listen_connection_string', bad: [...ALL, 'postgres://db/x'] },
    { key: 'databroker_storage_connection_string', bad: [0, -1, '', null, [], {}, 'mysql://x/y', '/var/lib/db'] },
    { key: 'metrics_address', bad: [...ALL, '9090'] },
    { key: 'health_check_addr', bad: [...ALL, 'localhost'] },
    { key: 'log_level', bad: [0, -1, null, [], {}, 'verbose'] }, // '' is Pomerium's info
    { key: 'timeout_read', bad: [-1, '', null, [], {}, '5', 'soon', '-5s'] },
    { key: 'timeout_write', bad: [-1, '', null, [], {}, 30] },
    { key: 'timeout_idle', bad: [-1, '', null, [], {}] },
    { key: 'default_upstream_timeout', bad: [-1, '', null, [], {}] },
    { key: 'xff_num_trusted_hops', bad: [-1, '', null, [], {}, 1.5, 'x', 1000] },
    { key: 'normalize_path', bad: [false, 'false', 0, null, [], {}] },
    { key: 'merge_slashes', bad: [false, 'false', 0, null, [], {}] },
    { key: 'path_with_escaped_slashes_action', bad: [...ALL, 'reject', 'unescape', 'PATH_WITH_ESCAPED_SLASHES_ACTION_UNKNOWN'] },
    { key: 'headers_with_underscores_action', bad: [...ALL, 'drop', 'HEADERS_WITH_UNDERSCORES_ACTION_UNKNOWN'] },
    { key: 'allow_backslash_in_path', bad: [0, 'yes', null, [], {}] },
    { key: 'allow_path_parameters', bad: [0, 'yes', null, [], {}] },
    { key: 'allow_invalid_path_encoding', bad: [0, 'yes', null, [], {}] },
    { key: 'allow_double_encoded_path', bad: [0, 'yes', null, [], {}] },
    { key: 'allow_encoded_control_characters', bad: [0, 'yes', null, [], {}] },
    { key: 'programmatic_redirect_domain_whitelist', bad: [0, -1, null, {}, [null]] },
    { key: 'certificates', bad: [0, -1, '', null, {}, [{}], [{ cert: 'a' }], ['a.pem']] },
    { key: 'namespaces', bad: [0, -1, '', null, {}, [{}], ['a'], [{ name: '' }], [{ name: 'has space' }]] },
    { key: 'downstream_mtls', bad: [0, -1, '', null, [], { enforcement: 'strict' }, { ca_file: '' }] },
    { key: 'audit_retention', bad: [...ALL, '30 days'] },
    { key: 'routes', bad: [0, -1, '', null, {}, [0], [null], ['https://a.example.com']] },
  ];
  for (const { key, bad } of cases) {
    test(key, () => {
      // databroker_storage_connection_string is checked against the type.
      const base = key === 'databroker_storage_connection_string' ? minimal({ databroker_storage_type: 'postgres' }) : minimal();
      for (const value of bad) {
        const err = configError(() => parseConfig({ ...base, [key]: value }, {}));
        assert.ok(err.key === key || err.key.startsWith(`${key}[`) || err.key.startsWith(`${key}.`), `${JSON.stringify(value)} gave key ${err.key}`);
        assert.doesNotMatch(err.message, /unknown key/);
      }
    });
  }

  test('the message says what was expected and what came', () => {
    const err = configError(() => parseConfig(minimal({ cookie_expire: 'soon' }), {}));
    assert.equal(err.message, 'cookie_expire: expected a duration like "14h" or "30m", got "soon"');
    assert.deepEqual((err.cause as { path: unknown }).path, ['cookie_expire']);
  });
});

describe('secrets are never echoed', () => {
  // Recognizable values: base64 of the wrong length, and text that is not base64.
  const SHORT = Buffer.from('TOP-SECRET-PASSPHRASE').toString('base64');
  const NOT_BASE64 = 'TOP*SECRET*PASSPHRASE';
  const LONG = Buffer.alloc(48, 'S').toString('base64');
  const cases: { name: string; value: string; want: RegExp }[] = [
    { name: 'wrong length', value: SHORT, want: /decodes to 21 bytes/ },
    { name: 'too long', value: LONG, want: /decodes to 48 bytes/ },
    { name: 'not base64', value: NOT_BASE64, want: /not valid base64/ },
    { name: 'bad padding', value: `${SECRET}==`, want: /not valid base64/ },
    { name: 'one character short', value: SECRET.slice(0, -2), want: /decodes to 31 bytes/ },
    { name: 'an impossible length', value: `${SECRET.slice(0, -1)}AB`, want: /not valid base64/ },
  ];
  for (const key of ['shared_secret', 'cookie_secret']) {
    for (const { name, value, want } of cases) {
      test(`${key}: ${name}`, () => {
        for (const [doc, env] of [
          [minimal({ [key]: value }), {}],
          [minimal(), { [key.toUpperCase()]: value }],
        ] as const) {
          const err = configError(() => parseConfig(doc, env));
          assert.equal(err.key, key);
          assert.match(err.message, want);
          assert.ok(!err.message.includes(value), err.message);
          assert.ok(!err.message.includes('SECRET-PASS') && !err.message.includes('SECRET*PASS'), err.message);
          assert.ok(!JSON.stringify(err.cause).includes(value));
        }
      });
    }
  }

  test('idp_client_secret and a postgres URL with a password are not echoed', () => {
    const err = configError(() => parseConfig(minimal({ databroker_storage_type: 'postgres', databroker_storage_connection_string: 'mysql://u:HUNTER2@db/x' }), {}));
    assert.ok(!err.message.includes('HUNTER2'), err.message);
    const err2 = configError(() => parseConfig(minimal({ idp_client_secret: ['HUNTER2'] }), {}));
    assert.ok(!err2.message.includes('HUNTER2'), err2.message);
  });
});

describe('signing_key', () => {
  const pem = (key: ReturnType<typeof generateKeyPairSync>['privateKey'], type: 'pkcs8' | 'sec1' | 'pkcs1' = 'pkcs8') =>
    key.export({ type, format: 'pem' }).toString();
  const b64 = (text: string) => Buffer.from(text).toString('base64');
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const ec2 = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });

  test('one EC P-256 key, base64 of PEM, becomes PKCS#8 PEM', () => {
    const keys = parseConfig(minimal({ signing_key: b64(pem(ec.privateKey, 'sec1')) }), {}).signingKeys;
    assert.equal(keys.length, 1);
    assert.match(keys[0] ?? '', /^-----BEGIN PRIVATE KEY-----/);
    assert.ok(createPrivateKey(keys[0] ?? '').equals(ec.privateKey));
  });

  test('several keys keep their order; RSA >= 2048 is accepted; EC PARAMETERS blocks are skipped', () => {
    const params = '-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n';
    const text = params + pem(ec.privateKey, 'sec1') + pem(rsa.privateKey, 'pkcs1') + pem(ec2.privateKey);
    const keys = parseConfig(minimal({ signing_key: b64(text) }), {}).signingKeys;
    assert.equal(keys.length, 3);
    assert.ok(createPrivateKey(keys[0] ?? '').equals(ec.privateKey));
    assert.ok(createPrivateKey(keys[1] ?? '').equals(rsa.privateKey));
    assert.ok(createPrivateKey(keys[2] ?? '').equals(ec2.privateKey));
  });

  test('base64 wrapped at 76 columns (as `base64` writes it) and raw PEM both work', () => {
    const wrapped = b64(pem(ec.privateKey)).replace(/(.{76})/g, '$1\n');
    assert.equal(parseConfig(minimal({ signing_key: wrapped }), {}).signingKeys.length, 1);
    assert.equal(parseConfig(minimal({ signing_key: pem(ec.privateKey) }), {}).signingKeys.length, 1);
  });

  const p384 = generateKeyPairSync('ec', { namedCurve: 'P-384' });
  const rsa1024 = generateKeyPairSync('rsa', { modulusLength: 1024 });
  const ed = generateKeyPairSync('ed25519');
  const encrypted = ec.privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'pw' }).toString();
  const bad: { name: string; value: string; want: RegExp }[] = [
    { name: 'EC P-384', value: b64(pem(ec.privateKey) + pem(p384.privateKey)), want: /PEM block 2 of 2 is an EC key on curve secp384r1; expected EC P-256 or RSA/ },
    { name: 'RSA 1024', value: b64(pem(rsa1024.privateKey)), want: /PEM block 1 of 1 is an RSA key of 1024 bits/ },
    { name: 'Ed25519', value: b64(pem(ed.privateKey)), want: /PEM block 1 of 1 is an ed25519 key/ },
    { name: 'public key', value: b64(ec.publicKey.export({ type: 'spki', format: 'pem' }).toString()), want: /PEM block 1 of 1 is a PUBLIC KEY; expected a private key/ },
    { name: 'encrypted key', value: b64(encrypted), want: /PEM block 1 of 1 is encrypted/ },
    { name: 'garbage inside a PEM block', value: b64('-----BEGIN PRIVATE KEY-----\nTUlJU0VDUkVU\n-----END PRIVATE KEY-----\n'), want: /PEM block 1 of 1 does not parse as a private key/ },
    { name: 'no PEM at all', value: b64('MIISECRET'), want: /holds no PEM block/ },
    { name: 'not base64', value: 'MII*SECRET', want: /not valid base64/ },
  ];
  for (const { name, value, want } of bad) {
    test(`rejects ${name}, naming the key and block, not the key material`, () => {
      const err = configError(() => parseConfig(minimal({ signing_key: value }), {}));
      assert.equal(err.key, 'signing_key');
      assert.match(err.message, want);
      assert.ok(!err.message.includes('SECRET') && !err.message.includes('MII'), err.message);
    });
  }
});

describe('environment', () => {
  test('upper-case names override the file', () => {
    const c = parseConfig(minimal({ cookie_name: 'from_file', cookie_expire: '2h', certificates: [] }), {
      COOKIE_NAME: 'from_env',
      COOKIE_EXPIRE: '1h',
      SHARED_SECRET: OTHER_SECRET,
      INSECURE_SERVER: 'true',
      XFF_NUM_TRUSTED_HOPS: '2',
    });
    assert.equal(c.cookieName, 'from_env');
    assert.equal(c.cookieExpireMs, 3_600_000);
    assert.deepEqual([...c.sharedSecret], [...Buffer.alloc(32, 9)]);
    assert.equal(c.insecureServer, true);
    assert.deepEqual(c.address, { host: '', port: 80 });
    assert.equal(c.xffNumTrustedHops, 2);
  });

  const shapes: { env: Record<string, string>; field: keyof Config; want: unknown }[] = [
    { env: { IDP_SCOPES: 'openid, email' }, field: 'idpScopes', want: ['openid', 'email'] },
    { env: { ADMINISTRATORS: 'ada@example.com,group:admins' }, field: 'administrators', want: ['ada@example.com', 'group:admins'] },
    { env: { IDP_REQUEST_PARAMS: 'prompt=login,hd=example.com' }, field: 'idpRequestParams', want: { prompt: 'login', hd: 'example.com' } },
    { env: { IDP_REQUEST_PARAMS: '{"prompt":"login"}' }, field: 'idpRequestParams', want: { prompt: 'login' } },
    { env: { JWT_CLAIMS_HEADERS: 'email,groups' }, field: 'jwtClaimsHeaders', want: { 'X-Pomerium-Claim-Email': 'email', 'X-Pomerium-Claim-Groups': 'groups' } },
    { env: { JWT_CLAIMS_HEADERS: 'X-Email=email' }, field: 'jwtClaimsHeaders', want: { 'X-Email': 'email' } },
    { env: { NAMESPACES: '[{"name":"eng"}]' }, field: 'namespaces', want: [{ name: 'global', parent: undefined }, { name: 'eng', parent: 'global' }] },
    { env: { DOWNSTREAM_MTLS: JSON.stringify({ ca_file: TLS_CERT }) }, field: 'downstreamMtls', want: { caFile: TLS_CERT, ca: undefined, enforcement: 'policy_with_default_deny' } },
    { env: { ADDRESS: '127.0.0.1:0' }, field: 'address', want: { host: '127.0.0.1', port: 0 } },
    { env: { AUDIT_RETENTION: '7d' }, field: 'auditRetentionMs', want: 7 * 86_400_000 },
  ];
  for (const { env, field, want } of shapes) {
    test(`${JSON.stringify(env)} → ${field}`, () => {
      assert.deepEqual(parseConfig(minimal(), env)[field], want);
    });
  }

  test('an empty variable counts as unset', () => {
    assert.equal(parseConfig(minimal({ cookie_name: 'kept' }), { COOKIE_NAME: '' }).cookieName, 'kept');
  });

  // ROUTES and POLICY (Pomerium's) are read, as YAML, JSON or base64: see 'routes from the environment' below.

  test('a bad environment value names the key and the variable, without a file location', () => {
    const err = configError(() => parseConfig(minimal(), { COOKIE_EXPIRE: 'soon' }));
    assert.equal(err.key, 'cookie_expire');
    assert.equal(err.message, 'cookie_expire: expected a duration like "14h" or "30m", got "soon" (from the COOKIE_EXPIRE environment variable)');
    assert.equal((err.cause as { env?: string }).env, 'COOKIE_EXPIRE');
  });

  test('malformed JSON or map variables are errors naming the variable', () => {
    for (const env of [{ NAMESPACES: '[{' }, { IDP_REQUEST_PARAMS: 'prompt' }, { DOWNSTREAM_MTLS: 'ca.pem' }]) {
      const err = configError(() => parseConfig(minimal(), env));
      assert.match(err.message, new RegExp(Object.keys(env)[0] ?? 'x'));
    }
  });
});

describe('_FILE variants', () => {
  const dir = mkdtempSync(join(tmpdir(), 'limen-config-'));
  const secretFile = join(dir, 'shared_secret');
  writeFileSync(secretFile, `${OTHER_SECRET}\n`);
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }));

  test('NAME_FILE reads the value from a file, dropping the trailing newline', () => {
    const c = parseConfig(minimal(), { SHARED_SECRET_FILE: secretFile });
    assert.deepEqual([...c.sharedSecret], [...Buffer.alloc(32, 9)]);
  });

  test('works for any key, through opts.readFile', () => {
    const files: Record<string, string> = {
      '/run/secrets/name': 'cookie_from_file\r\n', '/run/secrets/scopes': 'openid,email\n',
      [TLS_CERT]: readFileSync(TLS_CERT, 'utf8'), [TLS_KEY]: readFileSync(TLS_KEY, 'utf8'),
    };
    const readFile = (p: string) => {
      const text = files[p];
      if (text === undefined) throw Object.assign(new Error('nope'), { code: 'ENOENT' });
      return text;
    };
    const c = parseConfig(minimal(), { COOKIE_NAME_FILE: '/run/secrets/name', IDP_SCOPES_FILE: '/run/secrets/scopes' }, { readFile });
    assert.equal(c.cookieName, 'cookie_from_file');
    assert.deepEqual(c.idpScopes, ['openid', 'email']);
  });

  test('the environment (NAME_FILE too) wins over the file', () => {
    const c = parseConfig(minimal({ shared_secret: SECRET }), { SHARED_SECRET_FILE: secretFile });
    assert.deepEqual([...c.sharedSecret], [...Buffer.alloc(32, 9)]);
  });

  test('NAME and NAME_FILE together are an error', () => {
    const err = configError(() => parseConfig(minimal(), { SHARED_SECRET: SECRET, SHARED_SECRET_FILE: secretFile }));
    assert.equal(err.key, 'shared_secret');
    assert.match(err.message, /SHARED_SECRET or SHARED_SECRET_FILE/);
  });

  test('an unreadable file names the key, variable and path', () => {
    const missing = join(dir, 'missing');
    const err = configError(() => parseConfig(minimal(), { COOKIE_SECRET_FILE: missing }));
    assert.equal(err.key, 'cookie_secret');
    assert.match(err.message, /COOKIE_SECRET_FILE/);
    assert.match(err.message, /ENOENT/);
    assert.ok(err.message.includes(missing));
  });

  test('a bad value read from a file is not echoed, and says where it came from', () => {
    const short = join(dir, 'short');
    writeFileSync(short, 'c2hvcnQtU0VDUkVU\n');
    const err = configError(() => parseConfig(minimal(), { SHARED_SECRET_FILE: short }));
    assert.match(err.message, /decodes to 12 bytes.*SHARED_SECRET_FILE/);
    assert.ok(!err.message.includes('c2hvcnQtU0VDUkVU'));
  });

  test('secret keys also have a <key>_file key in the document', () => {
    const doc = minimal();
    delete doc.shared_secret;
    const c = parseConfig({ ...doc, shared_secret_file: secretFile }, {});
    assert.deepEqual([...c.sharedSecret], [...Buffer.alloc(32, 9)]);
    const both = configError(() => parseConfig(minimal({ shared_secret_file: secretFile }), {}));
    assert.equal(both.key, 'shared_secret_file');
    const bad = configError(() => parseConfig({ ...doc, shared_secret_file: join(dir, 'missing') }, {}));
    assert.equal(bad.key, 'shared_secret_file');
  });
});

describe('a file whose content does not parse is named as the file, not as an environment variable', () => {
  const files: Record<string, string> = { '/run/secrets/mtls.json': '{not json', '/run/secrets/params': 'prompt', '/run/secrets/secret': 'c2hvcnQ=' };
  const readFile = (path: string): string => {
    return files[path] ?? readFileSync(path, 'utf8');
  };
  const doc = minimal();
  delete doc.shared_secret;
  const cases: { name: string; doc: Record<string, unknown>; env: Record<string, string>; key: string; want: RegExp }[] = [
    { name: 'JSON from DOWNSTREAM_MTLS_FILE', doc: minimal(), env: { DOWNSTREAM_MTLS_FILE: '/run/secrets/mtls.json' }, key: 'downstream_mtls', want: /expected JSON in the file "\/run\/secrets\/mtls\.json" named by DOWNSTREAM_MTLS_FILE, but it does not parse$/ },
    { name: 'a map from IDP_REQUEST_PARAMS_FILE', doc: minimal(), env: { IDP_REQUEST_PARAMS_FILE: '/run/secrets/params' }, key: 'idp_request_params', want: /or JSON in the file "\/run\/secrets\/params" named by IDP_REQUEST_PARAMS_FILE$/ },
    { name: 'a secret from SHARED_SECRET_FILE', doc, env: { SHARED_SECRET_FILE: '/run/secrets/secret' }, key: 'shared_secret', want: /decodes to 5 bytes.*\(from the file "\/run\/secrets\/secret" named by SHARED_SECRET_FILE\)$/ },
    { name: 'a secret from the shared_secret_file key', doc: { ...doc, shared_secret_file: '/run/secrets/secret' }, env: {}, key: 'shared_secret_file', want: /decodes to 5 bytes/ },
    { name: 'a map set directly still names the variable', doc: minimal(), env: { IDP_REQUEST_PARAMS: 'prompt' }, key: 'idp_request_params', want: /or JSON in the IDP_REQUEST_PARAMS environment variable$/ },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const err = configError(() => parseConfig(c.doc, c.env, { readFile }));
      assert.equal(err.key, c.key, err.message);
      assert.match(err.message.split('\n')[0] ?? '', c.want);
      if (c.env[`${c.key.toUpperCase()}_FILE`] !== undefined || c.key.endsWith('_file')) assert.doesNotMatch(err.message, /environment variable/);
      assert.ok(!err.message.includes('c2hvcnQ='), 'never quotes the content');
    });
  }
});

describe('namespaces', () => {
  test('form a tree rooted at global, parents before children', () => {
    const c = parseConfig(minimal({
      namespaces: [{ name: 'payments', parent: 'eng' }, { name: 'eng' }, { name: 'global' }, { name: 'ops', parent: 'global' }],
    }), {});
    assert.deepEqual(c.namespaces, [
      { name: 'global', parent: undefined },
      { name: 'eng', parent: 'global' },
      { name: 'ops', parent: 'global' },
      { name: 'payments', parent: 'eng' },
    ]);
  });

  const bad: { namespaces: unknown; key: string; want: RegExp }[] = [
    { namespaces: [{ name: 'a', parent: 'engg' }, { name: 'eng' }], key: 'namespaces[0].parent', want: /unknown namespace "engg"; did you mean "eng"\?/ },
    { namespaces: [{ name: 'a', parent: 'b' }, { name: 'b', parent: 'a' }], key: 'namespaces[0].parent', want: /cycle: a → b → a/ },
    { namespaces: [{ name: 'a', parent: 'a' }], key: 'namespaces[0].parent', want: /cycle: a → a/ },
    { namespaces: [{ name: 'a' }, { name: 'b', parent: 'c' }, { name: 'c', parent: 'd' }, { name: 'd', parent: 'b' }], key: 'namespaces[1].parent', want: /cycle: b → c → d → b/ },
    { namespaces: [{ name: 'a' }, { name: 'a' }], key: 'namespaces[1].name', want: /listed twice/ },
    { namespaces: [{ name: 'global', parent: 'a' }, { name: 'a' }], key: 'namespaces[0].parent', want: /root/ },
  ];
  for (const { namespaces, key, want } of bad) {
    test(`${key}: ${want.source}`, () => {
      const err = configError(() => parseConfig(minimal({ namespaces }), {}));
      assert.equal(err.key, key);
      assert.match(err.message, want);
    });
  }
});

describe('the result', () => {
  const policy = { allow: { or: [{ email: { is: 'ada@example.com' } }] } };
  const doc = minimal({
    jwt_claims_headers: ['email'],
    routes: [{ from: 'https://app.example.com', to: 'http://127.0.0.1:9000', policy, allowed_idp_claims: { groups: ['a'] } }],
  });
  const config = parseConfig(doc, {});

  test('is deeply frozen', () => {
    const route = config.routes[0];
    assert.ok(route);
    for (const part of [config, config.address, config.idpScopes, config.routes, route, route.to, route.to[0], route.policy, route.allowedIdpClaims, route.allowedIdpClaims.groups, config.namespaces[0], config.jwtClaimsHeaders]) {
      assert.ok(Object.isFrozen(part));
    }
    assert.throws(() => { (config as { cookieName: string }).cookieName = 'x'; }, TypeError);
    assert.throws(() => { (config.idpScopes as string[]).push('x'); }, TypeError);
  });

  test('leaves the caller\'s document alone', () => {
    assert.ok(!Object.isFrozen(doc));
    assert.ok(!Object.isFrozen(policy));
    assert.ok(!Object.isFrozen(policy.allow.or));
    assert.deepEqual(config.routes[0]?.policy, policy);
  });

  test('two parses do not share mutable state', () => {
    const a = parseConfig(minimal(), {});
    const b = parseConfig(minimal({ idp_scopes: ['openid'] }), {});
    assert.deepEqual(a.idpScopes, ['openid', 'profile', 'email', 'offline_access']);
    assert.deepEqual(b.idpScopes, ['openid']);
  });
});

describe('reference', () => {
  const CONTRACT_GLOBAL_KEYS = [
    'address', 'insecure_server', 'certificate_file', 'certificate_key_file', 'certificates', 'authenticate_service_url',
    'idp_provider', 'idp_provider_url', 'idp_client_id', 'idp_client_secret', 'idp_scopes', 'idp_request_params',
    'shared_secret', 'cookie_name', 'cookie_secret', 'cookie_domain', 'cookie_same_site', 'cookie_http_only', 'cookie_expire',
    'signing_key', 'jwt_claims_headers', 'jwt_issuer_format', 'jwt_groups_filter', 'pass_identity_headers', 'administrators',
    'databroker_storage_type', 'databroker_storage_connection_string', 'metrics_address', 'health_check_addr', 'log_level',
    'timeout_read', 'timeout_write', 'timeout_idle', 'default_upstream_timeout', 'xff_num_trusted_hops',
    'programmatic_redirect_domain_whitelist', 'routes', 'namespaces', 'downstream_mtls', 'audit_retention',
  ];
  const CONTRACT_ROUTE_KEYS = [
    'from', 'to', 'prefix', 'path', 'regex', 'policy', 'allow_public_unauthenticated_access', 'allow_any_authenticated_user',
    'cors_allow_preflight', 'allowed_users', 'allowed_domains', 'allowed_idp_claims', 'pass_identity_headers',
    'set_request_headers', 'remove_request_headers', 'set_response_headers', 'preserve_host_header', 'host_rewrite',
    'prefix_rewrite', 'allow_websockets', 'timeout', 'idle_timeout', 'tls_skip_verify', 'tls_custom_ca_file',
    'tls_server_name', 'name', 'description', 'namespace',
  ];

  for (const [name, rows, keys] of [
    ['configReference', configReference(), CONTRACT_GLOBAL_KEYS],
    ['routeReference', routeReference(), CONTRACT_ROUTE_KEYS],
  ] as const) {
    test(`${name} documents every contract key once, with type and description`, () => {
      const listed = rows.map((r) => r.key);
      assert.equal(new Set(listed).size, listed.length);
      for (const key of keys) assert.ok(listed.includes(key), key);
      for (const row of rows) {
        assert.ok(row.type.length > 0, row.key);
        assert.ok(row.description.length > 10, row.key);
        assert.equal(typeof row.default, 'string');
      }
    });
  }

  test('secret keys list their _file key', () => {
    const listed = configReference().map((r) => r.key);
    for (const key of ['shared_secret_file', 'cookie_secret_file', 'idp_client_secret_file', 'signing_key_file']) {
      assert.ok(listed.includes(key), key);
    }
  });
});

describe('routes from the environment: ROUTES or Pomerium\'s POLICY', () => {
  const base = {
    shared_secret: Buffer.alloc(32, 1).toString('base64'), cookie_secret: Buffer.alloc(32, 2).toString('base64'),
    insecure_server: true, authenticate_service_url: 'http://auth.localhost', idp_provider_url: 'http://idp.localhost', idp_client_id: 'x',
  };
  const yaml = '- from: http://a.localhost\n  to: http://127.0.0.1:9\n  allow_public_unauthenticated_access: true\n';
  const json = JSON.stringify([{ from: 'http://b.localhost', to: 'http://127.0.0.1:9', allow_any_authenticated_user: true }]);
  const accepted: { name: string; env: Record<string, string>; want: string[] }[] = [
    { name: 'ROUTES as YAML', env: { ROUTES: yaml }, want: ['http://a.localhost'] },
    { name: 'POLICY as base64 of YAML (Pomerium\'s examples)', env: { POLICY: Buffer.from(yaml).toString('base64') }, want: ['http://a.localhost'] },
    { name: 'ROUTES as JSON', env: { ROUTES: json }, want: ['http://b.localhost'] },
  ];
  for (const c of accepted) {
    test(c.name, () => { assert.deepEqual(parseConfig(base, c.env).routes.map((r) => r.from), c.want); });
  }
  test('the environment wins over the file, as for every key', () => {
    assert.deepEqual(parseConfig({ ...base, routes: [{ from: 'http://file.localhost', to: 'http://127.0.0.1:9', allow_any_authenticated_user: true }] }, { ROUTES: json }).routes.map((r) => r.from), ['http://b.localhost']);
  });
  const refused: { name: string; env: Record<string, string>; want: RegExp }[] = [
    { name: 'both', env: { ROUTES: json, POLICY: json }, want: /set ROUTES or POLICY/ },
    { name: 'not YAML', env: { ROUTES: '- [unclosed' }, want: /ROUTES environment variable, but it does not parse/ },
    { name: 'a bad route', env: { POLICY: JSON.stringify([{ from: 'http://c.localhost', to: 'http://127.0.0.1:9', polcy: {} }]) }, want: /routes\[0\]\.polcy/ },
  ];
  for (const c of refused) test(`refused: ${c.name}`, () => { assert.throws(() => parseConfig(base, c.env), c.want); });
});
