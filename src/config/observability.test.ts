import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from './index.js';

const base = {
  shared_secret: Buffer.alloc(32, 1).toString('base64'), cookie_secret: Buffer.alloc(32, 2).toString('base64'),
  insecure_server: true, authenticate_service_url: 'http://auth.localhost', idp_provider_url: 'http://idp.localhost', idp_client_id: 'x',
};

describe('observability keys', () => {
  test('metrics_basic_auth is base64 of user:password, from the file or METRICS_BASIC_AUTH', () => {
    const metrics = { ...base, metrics_address: '127.0.0.1:9090' };
    assert.deepEqual(parseConfig({ ...metrics, metrics_basic_auth: 'eDp5' }, {}).metricsBasicAuth, { user: 'x', password: 'y' });
    assert.deepEqual(parseConfig(metrics, { METRICS_BASIC_AUTH: Buffer.from('prom:a:b').toString('base64') }).metricsBasicAuth, { user: 'prom', password: 'a:b' });
    for (const bad of ['', 'not base64!', Buffer.from('nocolon').toString('base64'), Buffer.from(':pw').toString('base64'), Buffer.from('user:').toString('base64'), 42]) {
      assert.throws(() => parseConfig({ ...metrics, metrics_basic_auth: bad }, {}), (e: Error) => /metrics_basic_auth/.test(e.message) && !e.message.includes(String(bad) || '\u0000'), String(bad));
    }
  });

  // Regression: accepted without metrics_address, where it protects nothing.
  test('metrics_basic_auth without metrics_address is refused, from the file or the environment', () => {
    assert.throws(() => parseConfig({ ...base, metrics_basic_auth: 'eDp5' }, {}), /metrics_basic_auth: has no effect without metrics_address/);
    assert.throws(() => parseConfig(base, { METRICS_BASIC_AUTH: 'eDp5' }), /metrics_basic_auth: has no effect without metrics_address/);
    assert.equal(parseConfig({ ...base, metrics_basic_auth: 'eDp5' }, { METRICS_ADDRESS: '127.0.0.1:9090' }).metricsBasicAuth?.user, 'x');
  });

  // Regression: a secret of the wrong shape was quoted back in the error.
  test('a bad secret value, or a URL with a password, is never quoted in the error', () => {
    const cases: { name: string; doc?: Record<string, unknown>; env?: Record<string, string>; key: string; secret: string }[] = [
      { name: 'headers as a string', doc: { otel_exporter_otlp_headers: 'Authorization=Bearer%zzS3cr3tT0kenXYZ' }, key: 'otel_exporter_otlp_headers', secret: 'S3cr3tT0ken' },
      { name: 'traces headers as a string', doc: { otel_exporter_otlp_traces_headers: 'X-Key=S3cretBBB' }, key: 'otel_exporter_otlp_traces_headers', secret: 'S3cretBBB' },
      { name: 'headers as a list', doc: { otel_exporter_otlp_headers: ['X-Api-Key=PlainLeakVV'] }, key: 'otel_exporter_otlp_headers', secret: 'PlainLeakVV' },
      { name: 'a header value that is not text', doc: { otel_exporter_otlp_headers: { 'x-key': ['PlainLeakWW'] } }, key: 'otel_exporter_otlp_headers', secret: 'PlainLeakWW' },
      { name: 'endpoint with a password, bad port', doc: { otel_exporter_otlp_endpoint: 'http://u:S3cr3tT0kenXYZ@127.0.0.1:99999' }, key: 'otel_exporter_otlp_endpoint', secret: 'S3cr3tT0ken' },
      { name: 'endpoint with a password, from the environment', env: { OTEL_EXPORTER_OTLP_ENDPOINT: 'ftp://u:EnvUrlPass@127.0.0.1:1' }, key: 'otel_exporter_otlp_endpoint', secret: 'EnvUrlPass' },
    ];
    for (const c of cases) {
      assert.throws(() => parseConfig({ ...base, ...c.doc }, c.env ?? {}), (e: Error) => {
        assert.match(e.message, new RegExp(c.key), c.name);
        assert.ok(!e.message.includes(c.secret), `${c.name}: ${e.message}`);
        return true;
      }, c.name);
    }
    // A one-letter secret is hidden where it is quoted, and the rest of the message still reads.
    assert.throws(() => parseConfig({ ...base, otel_exporter_otlp_headers: 'a' }, {}),
      /otel_exporter_otlp_headers: expected a mapping of keys to values, got a string$/);
  });

  test('log fields: known names and headers.<name>, case-folded; [] turns a log off', () => {
    const c = parseConfig({ ...base, access_log_fields: ['Method', 'path', 'headers.X-Trace'], authorize_log_fields: [] }, {});
    assert.deepEqual(c.accessLogFields, ['method', 'path', 'headers.x-trace']);
    assert.deepEqual(c.authorizeLogFields, []);
    assert.deepEqual(parseConfig(base, { ACCESS_LOG_FIELDS: 'authority,duration' }).accessLogFields, ['authority', 'duration']);
    // Pomerium's own defaults, spelled out, load as they are (a Pomerium config that lists them starts).
    const pomeriumDefaults = ['request-id', 'check-request-id', 'method', 'path', 'host', 'ip', 'session-id', 'impersonate-session-id',
      'impersonate-user-id', 'impersonate-email', 'removed-groups-count', 'service-account-id', 'user', 'email', 'envoy-route-checksum', 'envoy-route-id',
      'route-checksum', 'route-id'];
    assert.deepEqual(parseConfig({ ...base, authorize_log_fields: pomeriumDefaults }, {}).authorizeLogFields, pomeriumDefaults);
    // And they are the default (pkg/logfields' defaultAuthorizeLogFields), in any order.
    assert.deepEqual([...parseConfig(base, {}).authorizeLogFields].sort(), [...pomeriumDefaults].sort());
  });

  const refused: { key: string; value: unknown; want: RegExp }[] = [
    { key: 'access_log_fields', value: ['pathh'], want: /unknown log field "pathh"/ },
    { key: 'authorize_log_fields', value: ['id-token'], want: /ID token/ },
    { key: 'authorize_log_fields', value: ['body'], want: /request bodies/ },
    { key: 'authorize_log_fields', value: ['mcp-tool'], want: /no MCP routes/ },
    { key: 'access_log_fields', value: ['headers.'], want: /headers\.<header name>/ },
    { key: 'access_log_fields', value: 'id-token', want: /not offered/ },
    { key: 'otel_traces_exporter', value: 'jaeger', want: /expected one of/ },
    { key: 'otel_exporter_otlp_protocol', value: 'grpc', want: /not supported/ },
    { key: 'otel_exporter_otlp_endpoint', value: 'ftp://x', want: /http/ },
    { key: 'otel_traces_sampler_arg', value: -0.1, want: /from 0 to 1/ },
    { key: 'otel_bsp_schedule_delay', value: '50', want: /at least 100/ },
    { key: 'otel_bsp_max_export_batch_size', value: 0, want: /whole number/ },
    { key: 'otel_traces_sampler', value: 'sometimes', want: /expected one of/ },
    { key: 'otel_exporter_otlp_timeout', value: 'abc', want: /milliseconds/ },
    { key: 'otel_sdk_disabled', value: 'yes', want: /true or false/ },
    { key: 'otel_exporter_otlp_headers', value: { 'bad name': 'v' }, want: /HTTP header name/ },
    { key: 'otel_exporter_otlp_traces_headers', value: { 'x-a': 'v\r\nx-b: 1' }, want: /line breaks/ },
  ];
  for (const { key, value, want } of refused) {
    test(`${key}: ${JSON.stringify(value)} is refused, naming the key`, () => {
      assert.throws(() => parseConfig({ ...base, [key]: value }, {}), (e: Error) => want.test(e.message) && e.message.includes(key));
    });
  }

  // The OpenTelemetry variables in the W3C Baggage form: keys and values percent-decoded (IDP_REQUEST_PARAMS is not).
  const decoded: { env: Record<string, string>; want: Partial<Record<'otelExporterOtlpHeaders' | 'otelExporterOtlpTracesHeaders' | 'otelResourceAttributes' | 'idpRequestParams', Record<string, string>>> & { service?: string } }[] = [
    { env: { OTEL_EXPORTER_OTLP_HEADERS: 'api-key=secret123, x-tenant=a%20b' }, want: { otelExporterOtlpHeaders: { 'api-key': 'secret123', 'x-tenant': 'a b' } } },
    { env: { OTEL_EXPORTER_OTLP_TRACES_HEADERS: 'x-traces-only=t%2Fone%2C2' }, want: { otelExporterOtlpTracesHeaders: { 'x-traces-only': 't/one,2' } } },
    { env: { OTEL_RESOURCE_ATTRIBUTES: 'team=blue%20team,deployment.environment=prod' }, want: { otelResourceAttributes: { 'team': 'blue team', 'deployment.environment': 'prod' }, service: 'limen' } },
    { env: { OTEL_RESOURCE_ATTRIBUTES: 'service.name=from%20attributes' }, want: { service: 'from attributes' } },
    { env: { OTEL_RESOURCE_ATTRIBUTES: 'service.name=from-attributes', OTEL_SERVICE_NAME: 'named' }, want: { service: 'named' } },
    { env: { IDP_REQUEST_PARAMS: 'prompt=select%20account' }, want: { idpRequestParams: { prompt: 'select%20account' } } },
  ];
  for (const { env, want } of decoded) {
    test(`environment ${JSON.stringify(env)}`, () => {
      const c = parseConfig(base, env);
      const { service, ...maps } = want;
      for (const [field, map] of Object.entries(maps)) assert.deepEqual(c[field as keyof typeof c], map, field);
      if (service !== undefined) assert.equal(c.otelServiceName, service);
    });
  }

  test('a pair that is not valid percent-encoding is refused, naming the variable and never the value', () => {
    for (const [name, text] of [['OTEL_EXPORTER_OTLP_HEADERS', 'ok=1,api-key=secret%ZZ123'], ['OTEL_RESOURCE_ATTRIBUTES', 'a=b%']] as const) {
      assert.throws(() => parseConfig(base, { [name]: text }), (e: Error) => e.message.includes(name) && /pair \d of .*percent-encoding/.test(e.message) && !e.message.includes('secret'), name);
    }
    assert.throws(() => parseConfig(base, { OTEL_EXPORTER_OTLP_HEADERS: 'bad name=secret123' }), (e: Error) => /HTTP header name/.test(e.message) && !e.message.includes('secret123'));
  });

  test('otel_sdk_disabled (OTEL_SDK_DISABLED) turns tracing off whatever else is set', () => {
    const endpoint = { otel_exporter_otlp_endpoint: 'http://c:4318' };
    const cases: { doc: Record<string, unknown>; env: Record<string, string>; want: 'otlp' | 'none' }[] = [
      { doc: endpoint, env: { OTEL_SDK_DISABLED: 'true' }, want: 'none' },
      { doc: endpoint, env: { OTEL_SDK_DISABLED: 'TRUE' }, want: 'none' },
      { doc: { ...endpoint, otel_traces_exporter: 'otlp' }, env: { OTEL_SDK_DISABLED: 'true' }, want: 'none' },
      { doc: { ...endpoint, otel_sdk_disabled: true }, env: {}, want: 'none' },
      { doc: endpoint, env: { OTEL_SDK_DISABLED: 'false' }, want: 'otlp' },
      { doc: endpoint, env: {}, want: 'otlp' },
    ];
    for (const { doc, env, want } of cases) {
      const c = parseConfig({ ...base, ...doc }, env);
      assert.equal(c.otelTracesExporter, want, JSON.stringify({ doc, env }));
      assert.equal(c.otelSdkDisabled, want === 'none', JSON.stringify({ doc, env }));
    }
  });

  test('exporter settings while tracing is off are accepted with a warning naming the key and why', () => {
    const cases: { doc: Record<string, unknown>; env: Record<string, string>; warns: string[]; why?: RegExp }[] = [
      { doc: { otel_exporter_otlp_headers: { authorization: 'Bearer WarnSecret1' } }, env: {}, warns: ['otel_exporter_otlp_headers'], why: /no otel_traces_exporter or endpoint is set/ },
      { doc: {}, env: { OTEL_EXPORTER_OTLP_HEADERS: 'x-key=WarnSecret2', OTEL_SERVICE_NAME: 'edge' }, warns: ['otel_exporter_otlp_headers', 'otel_service_name'], why: /set by the OTEL_\w+ environment variable/ },
      { doc: { otel_exporter_otlp_endpoint: 'http://c:4318', otel_traces_sampler: 'always_on' }, env: { OTEL_SDK_DISABLED: 'true' }, warns: ['otel_exporter_otlp_endpoint', 'otel_traces_sampler'], why: /otel_sdk_disabled is true/ },
      { doc: { otel_exporter_otlp_endpoint: 'http://c:4318', otel_traces_exporter: 'none' }, env: {}, warns: ['otel_exporter_otlp_endpoint'], why: /otel_traces_exporter is none/ },
      { doc: { otel_exporter_otlp_endpoint: 'http://c:4318', otel_exporter_otlp_headers: { a: 'b' } }, env: {}, warns: [] },
      { doc: { otel_traces_exporter: 'otlp', otel_exporter_otlp_timeout: 500 }, env: {}, warns: [] },
      { doc: { otel_traces_exporter: 'none' }, env: { OTEL_SDK_DISABLED: 'true' }, warns: [] },
    ];
    for (const { doc, env, warns, why } of cases) {
      const c = parseConfig({ ...base, ...doc }, env);
      const got = (c.warnings ?? []).filter((w) => w.key.startsWith('otel_'));
      assert.deepEqual(got.map((w) => w.key).sort(), [...warns].sort(), JSON.stringify({ doc, env }));
      for (const w of got) {
        assert.match(w.message, /^does nothing while tracing is off/);
        if (why) assert.match(w.message, why);
        assert.doesNotMatch(w.message, /WarnSecret/);
      }
    }
  });

  test('an endpoint alone turns the OTLP exporter on; an explicit none wins', () => {
    assert.equal(parseConfig({ ...base, otel_exporter_otlp_endpoint: 'http://c:4318' }, {}).otelTracesExporter, 'otlp');
    assert.equal(parseConfig({ ...base, otel_exporter_otlp_endpoint: 'http://c:4318', otel_traces_exporter: 'none' }, {}).otelTracesExporter, 'none');
    assert.equal(parseConfig({ ...base, otel_exporter_otlp_timeout: '2s' }, {}).otelExporterOtlpTracesTimeoutMs, 2000);
  });
});
