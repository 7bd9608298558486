/**
 * The observability keys (issue 12): metrics basic auth, the access and
 * authorize log fields, and OpenTelemetry tracing. Key names are Pomerium's;
 * the `otel_*` keys are the standard `OTEL_*` variables in lower case, so the
 * environment form of each row is exactly the OpenTelemetry variable.
 */

import type { AccessLogField, AuthorizeLogField, Config, OtlpProtocol, TracesSampler } from './types.js';
import { asDuration, asEnum, asHeaderMap, asInteger, asSecretString, asString, asStringList, asStringMap, describe, fail, type ConfigPath } from './check.js';
import type { KeySpec, Resolved } from './table.js';
import type { GlobalContext, GlobalKeyTraits } from './global-key.js';

/** Pomerium's access log fields; `ip`, `user`, `email`, `route-id` are Limen additions. Default `true` = on when the key is unset. */
export const ACCESS_LOG_FIELDS: Readonly<Record<AccessLogField, boolean>> = {
  'authority': true, 'client-certificate': false, 'cluster-stat-name': false, 'duration': true,
  'forwarded-for': true, 'ip': true, 'method': true, 'path': true, 'query': false, 'referer': true,
  'request-id': true, 'response-code': true, 'response-code-details': true, 'size': true,
  'upstream-cluster': true, 'user-agent': true, 'user': true, 'email': true, 'route-id': true,
};

/**
 * Pomerium's authorize log fields that Limen can fill; on by default where
 * they are Pomerium's defaults. Limen has no Envoy: `envoy-route-id` is the
 * route's id as `route-id`, and both checksums are the route's checksum.
 */
export const AUTHORIZE_LOG_FIELDS: Readonly<Record<AuthorizeLogField, boolean>> = {
  'check-request-id': true, 'cluster-stat-name': false, 'email': true, 'envoy-route-checksum': true, 'envoy-route-id': true,
  'headers': false, 'host': true,
  'id-token-claims': false, 'impersonate-email': true, 'impersonate-session-id': true, 'impersonate-user-id': true,
  'ip': true, 'method': true, 'path': true, 'query': false, 'removed-groups-count': true, 'request-id': true,
  'route-checksum': true, 'route-id': true, 'service-account-id': true, 'session-id': true, 'user': true,
};

/**
 * Fields Pomerium offers that would write a credential or a request body to
 * the log; Limen refuses them by name so nobody turns them on by accident.
 */
const REFUSED_FIELDS: Readonly<Record<string, string>> = {
  'id-token': 'it would write the ID token (a credential) to the log',
  'body': 'it would write request bodies to the log',
  'mcp-method': 'Limen has no MCP routes, so it would always be empty',
  'mcp-tool': 'Limen has no MCP routes, so it would always be empty',
  'mcp-tool-parameters': 'Limen has no MCP routes (and it would write request bodies to the log)',
};

const SAMPLERS: readonly TracesSampler[] = [
  'always_on', 'always_off', 'traceidratio', 'parentbased_always_on', 'parentbased_always_off', 'parentbased_traceidratio',
];
const PROTOCOLS: readonly OtlpProtocol[] = ['http/protobuf', 'http/json'];

type Fields = Omit<Config, 'source' | 'devMode'>;
type Row<F extends keyof Fields> = KeySpec<Fields[F], GlobalContext & Resolved<Fields>> & GlobalKeyTraits;
const absent = <T>(value: T) => (): T => value;

function asLogFields<T extends string>(value: unknown, at: ConfigPath, known: Readonly<Record<T, boolean>>): T[] {
  const list = asStringList(value, at, { allowEmptyList: true });
  return list.map((raw, i) => {
    const name = raw.trim();
    const itemAt = typeof value === 'string' ? at : [...at, i];
    const lower = name.toLowerCase();
    if (REFUSED_FIELDS[lower] !== undefined) fail(itemAt, `"${name}" is not offered by Limen: ${REFUSED_FIELDS[lower]}`);
    if (lower.startsWith('headers.')) {
      if (!/^headers\.[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(name)) fail(itemAt, `expected headers.<header name>, got ${describe(name)}`);
      return `headers.${lower.slice('headers.'.length)}` as T;
    }
    if (!(lower in known)) {
      fail(itemAt, `unknown log field ${describe(name)}; expected one of ${Object.keys(known).map((k) => `"${k}"`).join(', ')} or headers.<name>`);
    }
    return lower as T;
  });
}

function defaults<T extends string>(known: Readonly<Record<T, boolean>>): T[] {
  return (Object.keys(known) as T[]).filter((k) => known[k]);
}

/** `metrics_basic_auth`: base64 of `user:password` (Pomerium). */
function asBasicAuth(value: unknown, at: ConfigPath): { user: string; password: string } {
  const text = asSecretString(value, at).trim();
  const decoded = /^[A-Za-z0-9+/]+={0,2}$/.test(text) ? Buffer.from(text, 'base64').toString('utf8') : '';
  const colon = decoded.indexOf(':');
  if (colon <= 0 || colon === decoded.length - 1) fail(at, 'expected base64 of "user:password" (e.g. eDp5 for x:y)');
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

/** OTLP durations are milliseconds (OTel spec); Go-style durations are read too. */
function asMillis(value: unknown, at: ConfigPath): number {
  if (typeof value === 'number' || (typeof value === 'string' && /^\d+$/.test(value))) return asInteger(value, at, 0, 86_400_000);
  if (typeof value === 'string' && !/^\s*[\d.]+[a-zµ]/i.test(value)) fail(at, `expected milliseconds (e.g. 10000) or a duration like 10s, got ${describe(value)}`);
  return asDuration(value, at);
}

function asEndpoint(value: unknown, at: ConfigPath): string {
  const text = asString(value, at);
  let u: URL;
  try { u = new URL(text); } catch { fail(at, `expected an http:// or https:// URL, got ${describe(text)}`); }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') fail(at, `expected an http:// or https:// URL, got ${describe(text)}`);
  return text;
}

function asProtocol(value: unknown, at: ConfigPath): OtlpProtocol {
  if (value === 'grpc') fail(at, 'OTLP/gRPC is not supported by Limen; use "http/protobuf" (port 4318) or "http/json"');
  return asEnum(value, at, PROTOCOLS);
}

/** The rows, spread into the global key table after `log_level`. */
export const OBSERVABILITY_KEYS: { readonly [F in
  | 'metricsBasicAuth' | 'accessLogFields' | 'authorizeLogFields' | 'otelSdkDisabled'
  | 'otelExporterOtlpEndpoint' | 'otelExporterOtlpTracesEndpoint' | 'otelTracesExporter'
  | 'otelExporterOtlpProtocol' | 'otelExporterOtlpTracesProtocol' | 'otelExporterOtlpHeaders' | 'otelExporterOtlpTracesHeaders'
  | 'otelExporterOtlpTimeoutMs' | 'otelExporterOtlpTracesTimeoutMs' | 'otelTracesSampler' | 'otelTracesSamplerArg'
  | 'otelServiceName' | 'otelResourceAttributes' | 'otelBspScheduleDelayMs' | 'otelBspMaxExportBatchSize'
  | 'otelAttributeValueLengthLimit']: Row<F> } = {
  metricsBasicAuth: {
    key: 'metrics_basic_auth', type: 'base64 `user:password`', default: 'none', env: 'text', secret: true,
    description: 'Require HTTP Basic authentication (RFC 7617) on `/metrics`: base64 of `user:password`. Refused without `metrics_address` (it would protect nothing).',
    parse: (v, at, ctx) => {
      const auth = asBasicAuth(v, at);
      if (ctx.value('metricsAddress') === undefined) fail(at, 'has no effect without metrics_address: set metrics_address, or remove this key', { aboutKey: true });
      return auth;
    },
    fallback: absent(undefined),
  },
  accessLogFields: {
    key: 'access_log_fields', type: 'list of strings', default: 'Pomerium\'s defaults plus `ip`, `user`, `email`, `route-id`', env: 'text',
    description: `Fields of the access log line (\`"message":"http-request"\`, one per request): ${Object.keys(ACCESS_LOG_FIELDS).map((k) => `\`${k}\``).join(', ')}, \`headers.<name>\`. Credential headers and credential query parameters are always redacted; \`[]\` turns the access log off.`,
    parse: (v, at) => asLogFields(v, at, ACCESS_LOG_FIELDS), fallback: absent(defaults(ACCESS_LOG_FIELDS)),
  },
  authorizeLogFields: {
    key: 'authorize_log_fields', type: 'list of strings', default: 'Pomerium\'s defaults: all but `cluster-stat-name`, `headers`, `id-token-claims`, `query`', env: 'text',
    description: `Fields of the authorize log line (\`"message":"authorize check"\`, one per policy decision, with \`allow\`, \`allow-why-true\`, \`deny\`, \`deny-why-true\`): ${Object.keys(AUTHORIZE_LOG_FIELDS).map((k) => `\`${k}\``).join(', ')}, \`headers.<name>\`. Limen has no Envoy: \`envoy-route-id\` is the route's id (as \`route-id\`: its \`name\`, else its id) and both checksums are one number that changes with anything in the route's config. \`id-token\` and \`body\` are refused (they would write a credential or a request body), and so are Pomerium's \`mcp-*\` fields (Limen has no MCP routes); \`[]\` turns the line off.`,
    parse: (v, at) => asLogFields(v, at, AUTHORIZE_LOG_FIELDS), fallback: absent(defaults(AUTHORIZE_LOG_FIELDS)),
  },
  otelSdkDisabled: {
    key: 'otel_sdk_disabled', type: 'boolean', default: '`false`', env: 'text',
    description: '`true` turns tracing off whatever the other `otel_*` keys say (the standard `OTEL_SDK_DISABLED`); the client\'s `traceparent` then reaches the upstream unchanged.',
    parse: (v, at) => {
      // The OpenTelemetry form: true or false in any case.
      const text = typeof v === 'boolean' ? String(v) : asString(v, at).trim().toLowerCase();
      if (text !== 'true' && text !== 'false') fail(at, `expected true or false, got ${describe(v)}`);
      return text === 'true';
    },
    fallback: absent(false),
  },
  otelExporterOtlpEndpoint: {
    key: 'otel_exporter_otlp_endpoint', type: 'URL', default: '', env: 'text',
    description: 'OTLP/HTTP base URL (`http://collector:4318`); traces go to `<url>/v1/traces`.',
    parse: asEndpoint, fallback: absent(undefined),
  },
  otelExporterOtlpTracesEndpoint: {
    key: 'otel_exporter_otlp_traces_endpoint', type: 'URL', default: '', env: 'text',
    description: 'OTLP/HTTP URL for traces, used as written; wins over `otel_exporter_otlp_endpoint`.',
    parse: asEndpoint, fallback: absent(undefined),
  },
  otelTracesExporter: {
    key: 'otel_traces_exporter', type: 'string', default: '`none` (`otlp` when an endpoint is set)', env: 'text',
    description: '`otlp` exports a span per request over OTLP/HTTP; `none` loads no tracing code at all. `otel_sdk_disabled: true` makes it `none`. While it is `none`, the other `otel_*` keys set (in the file or the environment) do nothing, and each gets a warning at start.',
    parse: (v, at, ctx) => {
      const exporter = asEnum(v, at, ['none', 'otlp'] as const, { caseInsensitive: true });
      return ctx.value('otelSdkDisabled') ? 'none' : exporter;
    },
    fallback: (_at, ctx) => (!ctx.value('otelSdkDisabled') && (ctx.value('otelExporterOtlpEndpoint') !== undefined || ctx.value('otelExporterOtlpTracesEndpoint') !== undefined) ? 'otlp' : 'none'),
  },
  otelExporterOtlpProtocol: {
    key: 'otel_exporter_otlp_protocol', type: 'string', default: '`http/protobuf`', env: 'text',
    description: '`http/protobuf` or `http/json` (`grpc` is refused).',
    parse: asProtocol, fallback: absent('http/protobuf'),
  },
  otelExporterOtlpTracesProtocol: {
    key: 'otel_exporter_otlp_traces_protocol', type: 'string', default: '`otel_exporter_otlp_protocol`', env: 'text',
    description: 'Protocol for traces; wins over `otel_exporter_otlp_protocol`.',
    parse: asProtocol, fallback: (_at, ctx) => ctx.value('otelExporterOtlpProtocol'),
  },
  otelExporterOtlpHeaders: {
    key: 'otel_exporter_otlp_headers', type: 'map of strings', default: '', env: 'baggage', secret: true,
    description: 'Headers on export requests (`Authorization=Bearer%20xxx,Foo=Bar` in the environment, values percent-encoded as the OpenTelemetry variable is).',
    parse: asHeaderMap, fallback: absent({}),
  },
  otelExporterOtlpTracesHeaders: {
    key: 'otel_exporter_otlp_traces_headers', type: 'map of strings', default: '', env: 'baggage', secret: true,
    description: 'Headers on trace export requests, added to `otel_exporter_otlp_headers`.',
    parse: asHeaderMap, fallback: absent({}),
  },
  otelExporterOtlpTimeoutMs: {
    key: 'otel_exporter_otlp_timeout', type: 'milliseconds', default: '`10000`', env: 'text',
    description: 'Export request timeout in milliseconds.',
    parse: asMillis, fallback: absent(10_000),
  },
  otelExporterOtlpTracesTimeoutMs: {
    key: 'otel_exporter_otlp_traces_timeout', type: 'milliseconds', default: '`otel_exporter_otlp_timeout`', env: 'text',
    description: 'Trace export timeout in milliseconds; wins over `otel_exporter_otlp_timeout`.',
    parse: asMillis, fallback: (_at, ctx) => ctx.value('otelExporterOtlpTimeoutMs'),
  },
  otelTracesSampler: {
    key: 'otel_traces_sampler', type: 'string', default: '`parentbased_traceidratio`', env: 'text',
    description: `Sampler: ${SAMPLERS.map((s) => `\`${s}\``).join(', ')}. The parent-based ones follow the client's \`traceparent\` sampled flag.`,
    parse: (v, at) => asEnum(v, at, SAMPLERS, { caseInsensitive: true }), fallback: absent('parentbased_traceidratio'),
  },
  otelTracesSamplerArg: {
    key: 'otel_traces_sampler_arg', type: 'number 0..1', default: '`1.0`', env: 'text',
    description: 'Sampling probability for the `traceidratio` samplers.',
    parse: (v, at) => {
      const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
      if (typeof n !== 'number' || !Number.isFinite(n) || n < 0 || n > 1) fail(at, `expected a number from 0 to 1, got ${describe(v)}`);
      return n;
    },
    fallback: absent(1),
  },
  otelResourceAttributes: {
    key: 'otel_resource_attributes', type: 'map of strings', default: '', env: 'baggage',
    description: 'More resource attributes (`key1=value1,key2=value%20two` in the environment, values percent-encoded).',
    parse: asStringMap, fallback: absent({}),
  },
  otelServiceName: {
    key: 'otel_service_name', type: 'string', default: '`service.name` in `otel_resource_attributes`, else `limen`', env: 'text',
    description: 'The `service.name` resource attribute of every span; wins over one in `otel_resource_attributes`.',
    parse: (v, at) => asString(v, at),
    fallback: (_at, ctx) => ctx.value('otelResourceAttributes')['service.name'] ?? 'limen',
  },
  otelBspScheduleDelayMs: {
    key: 'otel_bsp_schedule_delay', type: 'milliseconds', default: '`5000`', env: 'text',
    description: 'How often pending spans are exported (at least 100 ms).',
    parse: (v, at) => { const ms = asMillis(v, at); if (ms < 100) fail(at, `must be at least 100 ms, got ${describe(v)}`); return ms; },
    fallback: absent(5000),
  },
  otelBspMaxExportBatchSize: {
    key: 'otel_bsp_max_export_batch_size', type: 'integer', default: '`512`', env: 'text',
    description: 'Pending spans that trigger an export before the schedule delay.',
    parse: (v, at) => asInteger(v, at, 1, 100_000), fallback: absent(512),
  },
  otelAttributeValueLengthLimit: {
    key: 'otel_attribute_value_length_limit', type: 'integer', default: '`256`', env: 'text',
    description: 'Longest span attribute value; longer ones are cut.',
    parse: (v, at) => asInteger(v, at, 1, 1_000_000), fallback: absent(256),
  },
};
