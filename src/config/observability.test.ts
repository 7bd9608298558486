import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from './index.js';

const base = {
  shared_secret: Buffer.alloc(32, 1).toString('base64'), cookie_secret: Buffer.alloc(32, 2).toString('base64'),
  insecure_server: true, authenticate_service_url: 'http://auth.localhost', idp_provider_url: 'http://idp.localhost', idp_client_id: 'x',
};

describe('observability keys', () => {
  test('metrics_basic_auth is base64 of user:password, from the file or METRICS_BASIC_AUTH', () => {
    assert.deepEqual(parseConfig({ ...base, metrics_basic_auth: 'eDp5' }, {}).metricsBasicAuth, { user: 'x', password: 'y' });
    assert.deepEqual(parseConfig(base, { METRICS_BASIC_AUTH: Buffer.from('prom:a:b').toString('base64') }).metricsBasicAuth, { user: 'prom', password: 'a:b' });
    for (const bad of ['', 'not base64!', Buffer.from('nocolon').toString('base64'), Buffer.from(':pw').toString('base64'), Buffer.from('user:').toString('base64'), 42]) {
      assert.throws(() => parseConfig({ ...base, metrics_basic_auth: bad }, {}), (e: Error) => /metrics_basic_auth/.test(e.message) && !e.message.includes(String(bad) || '\u0000'), String(bad));
    }
  });

  test('log fields: known names and headers.<name>, case-folded; [] turns a log off', () => {
    const c = parseConfig({ ...base, access_log_fields: ['Method', 'path', 'headers.X-Trace'], authorize_log_fields: [] }, {});
    assert.deepEqual(c.accessLogFields, ['method', 'path', 'headers.x-trace']);
    assert.deepEqual(c.authorizeLogFields, []);
    assert.deepEqual(parseConfig(base, { ACCESS_LOG_FIELDS: 'authority,duration' }).accessLogFields, ['authority', 'duration']);
  });

  const refused: { key: string; value: unknown; want: RegExp }[] = [
    { key: 'access_log_fields', value: ['pathh'], want: /unknown log field "pathh"/ },
    { key: 'authorize_log_fields', value: ['id-token'], want: /ID token/ },
    { key: 'authorize_log_fields', value: ['body'], want: /request bodies/ },
    { key: 'access_log_fields', value: ['headers.'], want: /headers\.<header name>/ },
    { key: 'access_log_fields', value: 'id-token', want: /not offered/ },
    { key: 'otel_traces_exporter', value: 'jaeger', want: /expected one of/ },
    { key: 'otel_exporter_otlp_protocol', value: 'grpc', want: /not supported/ },
    { key: 'otel_exporter_otlp_endpoint', value: 'ftp://x', want: /http/ },
    { key: 'otel_traces_sampler_arg', value: -0.1, want: /from 0 to 1/ },
    { key: 'otel_bsp_schedule_delay', value: '50', want: /at least 100/ },
    { key: 'otel_bsp_max_export_batch_size', value: 0, want: /whole number/ },
    { key: 'otel_traces_sampler', value: 'sometimes', want: /expected one of/ },
  ];
  for (const { key, value, want } of refused) {
    test(`${key}: ${JSON.stringify(value)} is refused, naming the key`, () => {
      assert.throws(() => parseConfig({ ...base, [key]: value }, {}), (e: Error) => want.test(e.message) && e.message.includes(key));
    });
  }

  test('an endpoint alone turns the OTLP exporter on; an explicit none wins', () => {
    assert.equal(parseConfig({ ...base, otel_exporter_otlp_endpoint: 'http://c:4318' }, {}).otelTracesExporter, 'otlp');
    assert.equal(parseConfig({ ...base, otel_exporter_otlp_endpoint: 'http://c:4318', otel_traces_exporter: 'none' }, {}).otelTracesExporter, 'none');
    assert.equal(parseConfig({ ...base, otel_exporter_otlp_timeout: '2s' }, {}).otelExporterOtlpTracesTimeoutMs, 2000);
  });
});
