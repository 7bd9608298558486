/**
 * Package observe: what Limen shows operators (issue 12). Prometheus
 * metrics and health on their own listeners, the access and authorize log
 * lines, and OpenTelemetry traces. The request path reports to one
 * Observation per request (observer.ts); everything else is read at scrape
 * or probe time. docs/operations.md describes every signal.
 */
import { existsSync, readFileSync } from 'node:fs';
import type { Config } from '../config/index.js';
import type { Logger } from '../log/index.js';
import type { Store } from '../store/index.js';
import { AccessLog } from './access-log.js';
import { stdoutDestination, type LineDestination } from './line-sink.js';
import { MeasuredStore } from './store.js';
import { Observer } from './observer.js';
import { startTracing } from './tracing.js';

export { Observer, Observation, observationOf, markCutAtShutdown } from './observer.js';
// Types only: metrics.ts loads prom-client, which is imported only when metrics are on (createObserver).
export type { Metrics, RouteMetrics, ScrapeSources } from './metrics.js';
export { AccessLog, type AccessFacts, type DecisionFacts } from './access-log.js';
export { LineSink, lineDestination, stdoutDestination, fileDestination, type LineDestination, type LineSinkOptions } from './line-sink.js';
export { Health, type CheckName, type CheckResult, type HealthReport, type HealthSources } from './health.js';
export { startListeners, splitAddress, type HealthReporter, type ListenerOptions, type MetricsExposition, type ObservabilityListeners } from './listeners.js';
export { MeasuredStore } from './store.js';
export { startTracing, type PhaseSpan, type RequestSpan, type Tracer } from './tracing.js';
export { loggableHeader, loggablePath, loggableQuery, loggableReferer, REDACTED } from './redact.js';

/** Limen's version, from package.json (source tree or build). */
export function limenVersion(): string {
  for (const rel of ['../../package.json', '../../../package.json']) {
    const u = new URL(rel, import.meta.url);
    if (!existsSync(u)) continue;
    try {
      const p = JSON.parse(readFileSync(u, 'utf8')) as { name?: string; version?: string };
      if (p.name === 'limen' && typeof p.version === 'string') return p.version;
    } catch { /* try the next */ }
  }
  return 'unknown';
}

export interface ObservabilityOptions {
  readonly config: Config;
  /** Where access and authorize lines go; default standard output. */
  readonly destination?: LineDestination | undefined;
  /** Fields on every access and authorize line (a worker process's id and pid). */
  readonly logBase?: Readonly<Record<string, unknown>> | undefined;
  /** Where trace export failures are told (rate-limited). */
  readonly logger?: Logger | undefined;
}

/** The process's observer: metrics when `metrics_address` is set, the logs, and tracing when configured. */
export async function createObserver(o: ObservabilityOptions): Promise<Observer> {
  // prom-client (and the OpenTelemetry API it loads) only when metrics are on: a tenth of start-up otherwise.
  const metrics = o.config.metricsAddress !== undefined ? new (await import('./metrics.js')).Metrics({ version: limenVersion() }) : undefined;
  const tracer = await startTracing(o.config, o.logger);
  return new Observer({ metrics, tracer, accessLog: new AccessLog(o.destination ?? stdoutDestination(), o.logBase) });
}

/** The store, timed for the metrics when they are on. */
export function measuredStore(store: Store, observer: Observer): Store {
  return observer.metrics ? new MeasuredStore(store, observer.metrics) : store;
}
