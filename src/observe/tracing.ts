/**
 * Tracing, as the request path sees it: a span per request with child
 * spans for its phases, and the W3C `traceparent` for the upstream. With
 * `otel_traces_exporter: none` (the default) nothing here is loaded beyond
 * these interfaces: the OpenTelemetry SDK is imported only when tracing is
 * on (`./otel.ts`), so tracing off costs one `undefined` check per phase.
 */
import type { Config } from '../config/index.js';
import type { Logger } from '../log/index.js';
import type { Tracer } from './span.js';

export type { PhaseSpan, RequestSpan, Tracer } from './span.js';

/** Starts the configured tracer, or returns undefined when tracing is off; export failures go to `log`. */
export async function startTracing(config: Config, log?: Logger): Promise<Tracer | undefined> {
  if (config.otelTracesExporter !== 'otlp') return undefined;
  const { createOtelTracer } = await import('./otel.js');
  return createOtelTracer(config, log);
}
