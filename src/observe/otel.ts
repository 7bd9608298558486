/**
 * The OpenTelemetry implementation of ./tracing.ts, loaded only when
 * tracing is on: the SDK's tracer provider with a batch span processor and
 * an OTLP/HTTP exporter (protobuf or JSON), configured from the `otel_*`
 * keys (which are the standard `OTEL_*` variables). Parent spans are passed
 * explicitly, so no async context manager is needed on the request path.
 */
import type { IncomingMessage } from 'node:http';
import { diag, DiagLogLevel, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Context, type Span, type TextMapGetter, type TextMapSetter } from '@opentelemetry/api';
import { setGlobalErrorHandler, W3CTraceContextPropagator } from '@opentelemetry/core';
import { resourceFromAttributes } from '@opentelemetry/resources';
import {
  AlwaysOffSampler, AlwaysOnSampler, BasicTracerProvider, BatchSpanProcessor, ParentBasedSampler, TraceIdRatioBasedSampler,
  type ReadableSpan, type Sampler, type SpanExporter,
} from '@opentelemetry/sdk-trace-base';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPExporterBase } from '@opentelemetry/otlp-exporter-base';
import { convertLegacyHttpOptions, createOtlpHttpExportDelegate } from '@opentelemetry/otlp-exporter-base/node-http';
import { ProtobufTraceSerializer, TraceExporterMetricsHelper } from '@opentelemetry/otlp-transformer';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';
import type { Config } from '../config/index.js';
import type { Logger } from '../log/index.js';
import type { PhaseSpan, RequestSpan, Tracer } from './span.js';

const w3c = new W3CTraceContextPropagator();

const headerGetter: TextMapGetter<IncomingMessage['headers']> = {
  keys: (h) => Object.keys(h),
  get: (h, key) => h[key],
};

/** Writes into a flat [name, value, name, value, ...] list, replacing an existing name. */
const flatSetter: TextMapSetter<string[]> = {
  set(list, key, value) {
    for (let i = 0; i < list.length; i += 2) {
      if (list[i] === key) { list[i + 1] = value; return; }
    }
    list.push(key, value);
  },
};

/** OTLP/HTTP with protobuf bodies (the OTel default protocol), from the exporter's own packages. */
class OtlpProtobufTraceExporter extends OTLPExporterBase<ReadableSpan[]> {
  constructor(cfg: { url: string; headers: Record<string, string>; timeoutMillis: number }) {
    super(createOtlpHttpExportDelegate(
      convertLegacyHttpOptions(cfg, 'TRACES', 'v1/traces', { 'Content-Type': 'application/x-protobuf' }),
      ProtobufTraceSerializer, 'otlp_http_span_exporter', TraceExporterMetricsHelper, undefined,
    ));
  }
}

/** The traces URL: the signal endpoint as written, else `<endpoint>/v1/traces`, else the OTel default. */
export function tracesUrl(c: Pick<Config, 'otelExporterOtlpTracesEndpoint' | 'otelExporterOtlpEndpoint'>): string {
  if (c.otelExporterOtlpTracesEndpoint) return c.otelExporterOtlpTracesEndpoint;
  if (c.otelExporterOtlpEndpoint) return c.otelExporterOtlpEndpoint.replace(/\/+$/, '') + '/v1/traces';
  return 'http://localhost:4318/v1/traces';
}

function sampler(c: Config): Sampler {
  const ratio = new TraceIdRatioBasedSampler(c.otelTracesSamplerArg);
  switch (c.otelTracesSampler) {
    case 'always_on': return new AlwaysOnSampler();
    case 'always_off': return new AlwaysOffSampler();
    case 'traceidratio': return ratio;
    case 'parentbased_always_on': return new ParentBasedSampler({ root: new AlwaysOnSampler() });
    case 'parentbased_always_off': return new ParentBasedSampler({ root: new AlwaysOffSampler() });
    default: return new ParentBasedSampler({ root: ratio });
  }
}

class Phase implements PhaseSpan {
  constructor(readonly span: Span) {}
  end(error?: string, attributes?: Readonly<Record<string, string | number | undefined>>): void {
    if (attributes) for (const [k, v] of Object.entries(attributes)) if (v !== undefined) this.span.setAttribute(k, v);
    if (error !== undefined) this.span.setStatus({ code: SpanStatusCode.ERROR, message: error });
    this.span.end();
  }
}

/** How often, at most, trace export trouble is logged: a collector that is down fails every batch. */
export const EXPORT_FAILURE_LOG_INTERVAL_MS = 60_000;

/**
 * Tells the log about failed exports and spans the SDK dropped, at warn
 * level, at most once per EXPORT_FAILURE_LOG_INTERVAL_MS with the count of
 * failures since the last line. The export headers' values (credentials)
 * are cut out of any message that repeats them.
 */
export function exportTroubleReporter(log: Logger, secrets: readonly string[], now: () => number = Date.now): (trouble: unknown) => void {
  let lastAt = Number.NEGATIVE_INFINITY;
  let since = 0;
  const hidden = secrets.filter((s) => s.length >= 4);
  return (trouble) => {
    since++;
    const t = now();
    if (t - lastAt < EXPORT_FAILURE_LOG_INTERVAL_MS) return;
    const e = trouble as { code?: unknown; message?: unknown; errors?: unknown } | null;
    // Node.js reports a refused connection to a name with several addresses as an AggregateError with no message of its own.
    const inner = Array.isArray(e?.errors) ? (e.errors[0] as { code?: unknown; message?: unknown } | undefined) : undefined;
    let text = [e?.code, typeof e?.message === 'string' && e.message !== '' ? e.message : undefined, inner?.code, inner?.message]
      .filter((x): x is string => typeof x === 'string' && x !== '').join(': ') || String(trouble);
    for (const s of hidden) text = text.split(s).join('[redacted]');
    log.warn('trace export failed; spans are being lost', { error: text.slice(0, 500), failures: since });
    lastAt = t;
    since = 0;
  };
}

/** Builds the tracer from config; spans are exported in batches off the request path. */
export function createOtelTracer(c: Config, log?: Logger): Tracer {
  const cfg = {
    url: tracesUrl(c),
    headers: { ...c.otelExporterOtlpHeaders, ...c.otelExporterOtlpTracesHeaders },
    timeoutMillis: c.otelExporterOtlpTracesTimeoutMs,
  };
  const report = log === undefined ? undefined : exportTroubleReporter(log, Object.values(cfg.headers));
  if (report !== undefined) {
    // The SDK reports a failed or timed-out batch to its global error handler, and dropped spans through diag.
    setGlobalErrorHandler(report);
    diag.setLogger({ error: report, warn: report, info: () => undefined, debug: () => undefined, verbose: () => undefined }, { logLevel: DiagLogLevel.WARN, suppressOverrideMessage: true });
  }
  const exporter: SpanExporter = c.otelExporterOtlpTracesProtocol === 'http/json'
    ? new OTLPTraceExporter(cfg)
    : new OtlpProtobufTraceExporter(cfg);
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({ ...c.otelResourceAttributes, [ATTR_SERVICE_NAME]: c.otelServiceName }),
    sampler: sampler(c),
    spanLimits: { attributeValueLengthLimit: c.otelAttributeValueLengthLimit },
    spanProcessors: [new BatchSpanProcessor(exporter, {
      scheduledDelayMillis: c.otelBspScheduleDelayMs,
      maxExportBatchSize: c.otelBspMaxExportBatchSize,
      exportTimeoutMillis: c.otelExporterOtlpTracesTimeoutMs,
    })],
  });
  const tracer = provider.getTracer('limen');

  return {
    startRequest(req: IncomingMessage): RequestSpan {
      const parent = w3c.extract(ROOT_CONTEXT, req.headers, headerGetter);
      // A request that did not parse has no method: `HTTP` and `_OTHER`, as OTel's HTTP conventions name it.
      const span = tracer.startSpan(req.method ?? 'HTTP', {
        kind: SpanKind.SERVER,
        attributes: { 'http.request.method': req.method ?? '_OTHER', 'server.address': req.headers.host ?? '' },
      }, parent);
      const ctx: Context = trace.setSpan(parent, span);
      return {
        phase(name: string): PhaseSpan {
          return new Phase(tracer.startSpan(name, { kind: name === 'limen.upstream' ? SpanKind.CLIENT : SpanKind.INTERNAL }, ctx));
        },
        inject(headers: string[], upstream: PhaseSpan): void {
          const s = (upstream as Phase).span;
          w3c.inject(trace.setSpan(ROOT_CONTEXT, s), headers, flatSetter);
        },
        end(attributes, error): void {
          for (const [k, v] of Object.entries(attributes)) if (v !== undefined) span.setAttribute(k, v);
          const route = attributes['limen.route'];
          if (typeof route === 'string') span.updateName(`${req.method ?? 'HTTP'} ${route}`);
          if (error !== false) span.setStatus(error === true ? { code: SpanStatusCode.ERROR } : { code: SpanStatusCode.ERROR, message: error });
          span.end();
        },
      };
    },
    async close(): Promise<void> {
      await provider.forceFlush().catch((e: unknown) => report?.(e)); // the last spans, at shutdown
      await provider.shutdown().catch(() => undefined);
    },
  };
}
