/**
 * Tracing, as the request path sees it: a span per request with child
 * spans for its phases, and the W3C `traceparent` for the upstream. With
 * `otel_traces_exporter: none` (the default) nothing here is loaded beyond
 * these interfaces: the OpenTelemetry SDK is imported only when tracing is
 * on (`./otel.ts`), so tracing off costs one `undefined` check per phase.
 */
import type { IncomingMessage } from 'node:http';
import type { Config } from '../config/index.js';

/** A phase of a request (identify, policy, sign, upstream). */
export interface PhaseSpan {
  end(error?: string): void;
}

/** The span of one request. */
export interface RequestSpan {
  phase(name: string): PhaseSpan;
  /**
   * Sets `traceparent` (and `tracestate`) in a flat upstream header list to
   * the upstream phase's context, replacing what the client sent.
   */
  inject(headers: string[], upstream: PhaseSpan): void;
  end(attributes: Readonly<Record<string, string | number | boolean | undefined>>, error: boolean): void;
}

export interface Tracer {
  /** Starts the span of a request, continuing the client's `traceparent` when it has one. */
  startRequest(req: IncomingMessage): RequestSpan;
  /** Exports what is pending and stops. */
  close(): Promise<void>;
}

/** Starts the configured tracer, or returns undefined when tracing is off. */
export async function startTracing(config: Config): Promise<Tracer | undefined> {
  if (config.otelTracesExporter !== 'otlp') return undefined;
  const { createOtelTracer } = await import('./otel.js');
  return createOtelTracer(config);
}
