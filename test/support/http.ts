/**
 * The HTTP client end-to-end tests use. Every host name resolves to 127.0.0.1
 * (tests address routes as app.localhost, auth.localhost, ... which system DNS
 * does not resolve), redirects are never followed, and the whole response is
 * returned so a test can assert on status, headers and body.
 */

import { createHash } from 'node:crypto';
import type { LookupFunction } from 'node:net';
import type { Readable } from 'node:stream';
import { Agent, request as undiciRequest, type Dispatcher } from 'undici';
import { CookieJar } from './cookie-jar.js';

export { CookieJar };

export interface RequestOptions {
  method?: string;
  headers?: Record<string, string | string[] | undefined>;
  /** A string, bytes, or a stream/async iterable for streamed uploads. */
  body?: string | Uint8Array | Readable | AsyncIterable<Uint8Array>;
  /** Resolve every host name to 127.0.0.1; default true. `false` uses system DNS. */
  lookupAll127?: boolean;
  /** Cookies for the request come from this jar; `Set-Cookie` of the response goes into it. */
  jar?: CookieJar;
  /** TLS trust for https test servers (self-signed certificates). */
  tls?: { ca?: string | Buffer; rejectUnauthorized?: boolean };
  /**
   * `buffer` (default) keeps the body; `count` streams it through, keeping only
   * its length and SHA-256, for large-download tests with flat memory.
   */
  consume?: 'buffer' | 'count';
  /** Abort after this many ms (headers and body); default 30 s. */
  timeoutMs?: number;
  signal?: AbortSignal;
}

export interface TestResponse {
  status: number;
  /** Lower-case names; repeated headers such as set-cookie are arrays. */
  headers: Record<string, string | string[] | undefined>;
  /** The whole body (empty with `consume: 'count'`). */
  body: Buffer;
  /** Body length in bytes, also with `consume: 'count'`. */
  bodyBytes: number;
  /** Hex SHA-256 of the body. */
  bodySha256: string;
  /** One header's value, repeated values joined with `, ` (`set-cookie` with `\n`). */
  header(name: string): string | undefined;
  text(): string;
  json<T = unknown>(): T;
}

/** Maps every name to 127.0.0.1, for both `lookup(host, cb)` and `{ all: true }` callers. */
export const lookupLoopback: LookupFunction = (_hostname, options, callback) => {
  if (typeof options === 'object' && options !== null && options.all === true) {
    (callback as unknown as (err: null, addresses: { address: string; family: number }[]) => void)(null, [
      { address: '127.0.0.1', family: 4 },
    ]);
    return;
  }
  callback(null, '127.0.0.1', 4);
};

const agents = new Map<string, Agent>();

// One agent per distinct option set, created on first use (no side effects on import).
function agentFor(opts: RequestOptions): Dispatcher {
  const loopback = opts.lookupAll127 !== false;
  const key = JSON.stringify([loopback, opts.tls?.rejectUnauthorized ?? true, opts.tls?.ca?.toString() ?? '']);
  let agent = agents.get(key);
  if (agent === undefined) {
    agent = new Agent({
      keepAliveTimeout: 1000,
      connect: {
        ...(loopback ? { lookup: lookupLoopback } : {}),
        ...(opts.tls?.ca !== undefined ? { ca: opts.tls.ca } : {}),
        ...(opts.tls?.rejectUnauthorized === false ? { rejectUnauthorized: false } : {}),
      },
    });
    agents.set(key, agent);
  }
  return agent;
}

/** Closes the pooled connections of every agent `request` created (call in `after()` if a server waits on them). */
export async function closeHttpAgents(): Promise<void> {
  const all = [...agents.values()];
  agents.clear();
  await Promise.all(all.map((a) => a.close()));
}

/** Sends one request; never follows redirects. */
export async function request(url: string | URL, opts: RequestOptions = {}): Promise<TestResponse> {
  const target = new URL(url);
  const headers: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(opts.headers ?? {})) if (value !== undefined) headers[name] = value;
  if (opts.jar !== undefined && !Object.keys(headers).some((h) => h.toLowerCase() === 'cookie')) {
    const cookie = opts.jar.header(target);
    if (cookie !== '') headers.cookie = cookie;
  }
  const timeoutMs = opts.timeoutMs ?? 30_000;
  const signals = [AbortSignal.timeout(timeoutMs), ...(opts.signal ? [opts.signal] : [])];

  const res = await undiciRequest(target, {
    method: (opts.method ?? 'GET') as Dispatcher.HttpMethod,
    headers,
    body: opts.body as Dispatcher.RequestOptions['body'],
    dispatcher: agentFor(opts),
    signal: AbortSignal.any(signals),
    headersTimeout: timeoutMs,
    bodyTimeout: timeoutMs,
  });

  const hash = createHash('sha256');
  const chunks: Buffer[] = [];
  let bodyBytes = 0;
  for await (const chunk of res.body as AsyncIterable<Buffer>) {
    bodyBytes += chunk.length;
    hash.update(chunk);
    if (opts.consume !== 'count') chunks.push(chunk);
  }
  const body = Buffer.concat(chunks);
  const responseHeaders = res.headers as Record<string, string | string[] | undefined>;
  opts.jar?.store(target, responseHeaders['set-cookie']);

  return {
    status: res.statusCode,
    headers: responseHeaders,
    body,
    bodyBytes,
    bodySha256: hash.digest('hex'),
    header(name) {
      const value = responseHeaders[name.toLowerCase()];
      if (value === undefined || typeof value === 'string') return value;
      return value.join(name.toLowerCase() === 'set-cookie' ? '\n' : ', ');
    },
    text: () => body.toString('utf8'),
    json: <T>() => JSON.parse(body.toString('utf8')) as T,
  };
}
