/** The spans the request path records (src/observe/tracing.ts), whatever implements them (otel.ts). */
import type { IncomingMessage } from 'node:http';

/** A phase of a request (identify, policy, sign, upstream). */
export interface PhaseSpan {
  /** Ends the phase; `error` marks it failed, described so; `attributes` (the upstream call's peer and status) are set first. */
  end(error?: string, attributes?: Readonly<Record<string, string | number | undefined>>): void;
}

/** The span of one request. */
export interface RequestSpan {
  phase(name: string): PhaseSpan;
  /**
   * Sets `traceparent` (and `tracestate`) in a flat upstream header list to
   * the upstream phase's context, replacing what the client sent.
   */
  inject(headers: string[], upstream: PhaseSpan): void;
  /** Ends the span; `error`: its status is ERROR, described by the string when one is given (a reason, never a secret). */
  end(attributes: Readonly<Record<string, string | number | boolean | undefined>>, error: boolean | string): void;
}

export interface Tracer {
  /** Starts the span of a request, continuing the client's `traceparent` when it has one. */
  startRequest(req: IncomingMessage): RequestSpan;
  /** Exports what is pending and stops. */
  close(): Promise<void>;
}
