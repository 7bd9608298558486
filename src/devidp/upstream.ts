/**
 * The demo upstream: an HTTP server that shows the request it received, so a
 * user (or a test) can see what Limen forwarded, identity headers included.
 *
 *   any path         echo: method, URL, headers verbatim, body size and SHA-256,
 *                    and the decoded (NOT verified) X-Pomerium-Jwt-Assertion(-For)
 *                    payloads; HTML, or JSON for `Accept: application/json` / `?format=json`
 *   /stream?bytes=N  N bytes generated on the fly (byte i is i mod 256)
 *   /slow?ms=N       the echo, after N ms
 *   /status/N        the echo, with status N (no body for 204 and 304)
 *   /ws              WebSocket echo (`?hello=1`: first message is the JSON echo of the upgrade request)
 *
 * Request bodies are hashed as they stream in and never held in memory.
 */

import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { escapeHtml } from './pages.js';
import { closeServer, listen, originFor } from './listen.js';
import type { Duplex } from 'node:stream';
import { serveEchoWebSocket } from './websocket.js';

export interface DemoUpstreamOptions {
  /** Listen address; default `127.0.0.1`. */
  host?: string;
  /** Listen port; default `0` (ephemeral). */
  port?: number;
}

export interface DemoUpstream {
  url: string;
  port: number;
  close(): Promise<void>;
}

/** What the echo reports, as JSON. */
export interface EchoReport {
  method: string;
  url: string;
  /** Node's view: lower-case names, repeats joined (set-cookie as an array). */
  headers: Record<string, string | string[] | undefined>;
  /** As received: names in their original case and order, repeats kept. */
  raw_headers: [string, string][];
  body_bytes: number;
  body_sha256: string;
  remote_address: string | undefined;
  /** Payload of X-Pomerium-Jwt-Assertion, decoded without verification. */
  assertion?: Record<string, unknown>;
  /** Payload of X-Pomerium-Jwt-Assertion-For, decoded without verification. */
  assertion_for?: Record<string, unknown>;
}

const STREAM_CHUNK = Buffer.from(Array.from({ length: 64 * 1024 }, (_, i) => i & 0xff));
const MAX_STREAM_BYTES = 2 ** 40;
const MAX_SLOW_MS = 10 * 60 * 1000;

/** Starts the demo upstream on loopback (by default) and an ephemeral port. */
export async function startDemoUpstream(opts: DemoUpstreamOptions = {}): Promise<DemoUpstream> {
  const host = opts.host ?? '127.0.0.1';
  const port = opts.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new TypeError('startDemoUpstream: port must be 0-65535');

  const server = createServer((req, res) => {
    handleRequest(req, res).catch(() => res.destroy());
  });
  // Large uploads through a proxy may take longer than Node's 5-minute default.
  server.requestTimeout = 0;
  // Upgraded sockets leave the HTTP server's bookkeeping; close() ends them too.
  const upgraded = new Set<Duplex>();
  server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
    upgraded.add(socket);
    socket.once('close', () => upgraded.delete(socket));
    const url = new URL(req.url ?? '/', 'http://upstream.invalid');
    if (url.pathname !== '/ws') {
      socket.end('HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n');
      return;
    }
    const greeting = url.searchParams.get('hello') === '1' ? JSON.stringify(echoReport(req, 0, EMPTY_SHA256)) : undefined;
    serveEchoWebSocket(req, socket, head, greeting);
  });

  const bound = await listen(server, port, host);
  return {
    url: originFor(host, bound),
    port: bound,
    close: () => {
      for (const s of upgraded) s.destroy();
      return closeServer(server);
    },
  };
}

const EMPTY_SHA256 = createHash('sha256').digest('hex');

async function handleRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const url = new URL(req.url ?? '/', 'http://upstream.invalid');
  const json = wantsJson(req, url);

  if (url.pathname === '/stream') {
    req.resume();
    const bytes = intParam(url, 'bytes', MAX_STREAM_BYTES);
    if (bytes === undefined) return sendError(res, json, 400, `bytes must be an integer from 0 to ${MAX_STREAM_BYTES}`);
    return streamBytes(req, res, bytes);
  }

  const { bytes, sha256 } = await countBody(req);
  const report = echoReport(req, bytes, sha256);

  let status = 200;
  const statusMatch = /^\/status\/(\d{3})$/.exec(url.pathname);
  if (statusMatch !== null) {
    status = Number(statusMatch[1]);
    if (status < 200 || status > 599) return sendError(res, json, 400, 'status must be 200-599');
  } else if (url.pathname.startsWith('/status/')) {
    return sendError(res, json, 400, 'status must be 200-599');
  }

  if (url.pathname === '/slow') {
    const ms = intParam(url, 'ms', MAX_SLOW_MS);
    if (ms === undefined) return sendError(res, json, 400, `ms must be an integer from 0 to ${MAX_SLOW_MS}`);
    const cancelled = await delay(ms, res);
    if (cancelled) return;
  }

  if (status === 204 || status === 304) {
    res.writeHead(status, { 'cache-control': 'no-store' }).end();
    return;
  }
  const body = json ? JSON.stringify(report, null, 2) : echoPage(report);
  res.writeHead(status, {
    'content-type': json ? 'application/json; charset=utf-8' : 'text/html; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
    vary: 'accept',
  });
  res.end(body);
}

function echoReport(req: IncomingMessage, bodyBytes: number, bodySha256: string): EchoReport {
  const raw: [string, string][] = [];
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) raw.push([req.rawHeaders[i] ?? '', req.rawHeaders[i + 1] ?? '']);
  const report: EchoReport = {
    method: req.method ?? '',
    url: req.url ?? '',
    headers: { ...req.headers },
    raw_headers: raw,
    body_bytes: bodyBytes,
    body_sha256: bodySha256,
    remote_address: req.socket.remoteAddress,
  };
  const assertion = decodeUnverifiedJwtPayload(req.headers['x-pomerium-jwt-assertion']);
  if (assertion !== undefined) report.assertion = assertion;
  const assertionFor = decodeUnverifiedJwtPayload(req.headers['x-pomerium-jwt-assertion-for']);
  if (assertionFor !== undefined) report.assertion_for = assertionFor;
  return report;
}

/**
 * The payload of a compact JWS, base64url-decoded and parsed, WITHOUT checking
 * the signature: for display only. `undefined` when it is not a JWT.
 */
export function decodeUnverifiedJwtPayload(value: string | string[] | undefined): Record<string, unknown> | undefined {
  if (typeof value !== 'string') return undefined;
  const parts = value.trim().split('.');
  if (parts.length !== 3 || !/^[A-Za-z0-9_-]+$/.test(parts[1] ?? '')) return undefined;
  try {
    const payload: unknown = JSON.parse(Buffer.from(parts[1] ?? '', 'base64url').toString('utf8'));
    return typeof payload === 'object' && payload !== null && !Array.isArray(payload)
      ? (payload as Record<string, unknown>)
      : undefined;
  } catch {
    return undefined;
  }
}

// JSON when asked for by query, or when Accept ranks application/json above text/html.
function wantsJson(req: IncomingMessage, url: URL): boolean {
  const format = url.searchParams.get('format');
  if (format === 'json') return true;
  if (format === 'html') return false;
  const ranks = new Map<string, number>();
  for (const part of (req.headers.accept ?? '').split(',')) {
    const [type = '', ...params] = part.trim().toLowerCase().split(';');
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    const quality = q === undefined ? 1 : Number(q.slice(2));
    ranks.set(type.trim(), Number.isFinite(quality) ? quality : 0);
  }
  const jsonRank = ranks.get('application/json') ?? 0;
  return jsonRank > 0 && jsonRank >= (ranks.get('text/html') ?? 0);
}

function intParam(url: URL, name: string, max: number): number | undefined {
  const raw = url.searchParams.get(name);
  if (raw === null || !/^\d{1,16}$/.test(raw)) return undefined;
  const n = Number(raw);
  return n <= max ? n : undefined;
}

function countBody(req: IncomingMessage): Promise<{ bytes: number; sha256: string }> {
  return new Promise((resolve, reject) => {
    const hash = createHash('sha256');
    let bytes = 0;
    req.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      hash.update(chunk);
    });
    req.on('end', () => resolve({ bytes, sha256: hash.digest('hex') }));
    req.on('error', reject);
  });
}

// Writes with backpressure: stop when the socket buffer is full, resume on drain.
function streamBytes(_req: IncomingMessage, res: ServerResponse, total: number): void {
  res.writeHead(200, {
    'content-type': 'application/octet-stream',
    'content-length': total,
    'cache-control': 'no-store',
  });
  let remaining = total;
  let aborted = false;
  res.on('close', () => {
    aborted = true;
  });
  const pump = (): void => {
    while (remaining > 0 && !aborted) {
      const n = Math.min(remaining, STREAM_CHUNK.length);
      remaining -= n;
      if (!res.write(n === STREAM_CHUNK.length ? STREAM_CHUNK : STREAM_CHUNK.subarray(0, n))) {
        res.once('drain', pump);
        return;
      }
    }
    if (!aborted) res.end();
  };
  pump();
}

/** Resolves after `ms`; `true` if the client went away first. */
function delay(ms: number, res: ServerResponse): Promise<boolean> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      res.off('close', onClose);
      resolve(false);
    }, ms);
    const onClose = (): void => {
      clearTimeout(timer);
      resolve(true);
    };
    res.once('close', onClose);
  });
}

function sendError(res: ServerResponse, json: boolean, status: number, message: string): void {
  const body = json
    ? JSON.stringify({ error: message })
    : page('Error', `<h1>${status}</h1><p>${escapeHtml(message)}</p>`);
  res.writeHead(status, {
    'content-type': json ? 'application/json; charset=utf-8' : 'text/html; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'cache-control': 'no-store',
  });
  res.end(body);
}

function page(title: string | undefined, body: string): string {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title === undefined ? '' : `${escapeHtml(title)} — `}Limen demo upstream</title>
<style>
body{font-family:system-ui,sans-serif;margin:2em auto;max-width:60em;padding:0 1em;color:#18181b}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #e4e4e7;padding:.3em .5em;text-align:left;vertical-align:top}
td:first-child{white-space:nowrap;font-weight:600}code,pre,td{font-family:ui-monospace,monospace;font-size:.9em;word-break:break-all}
pre{background:#f4f4f5;padding:1em;white-space:pre-wrap}.note{color:#52525b}
</style>
</head>
<body>
${body}
</body>
</html>`;
}

function echoPage(report: EchoReport): string {
  const headerRows = report.raw_headers
    .map(([name, value]) => `<tr><td>${escapeHtml(name)}</td><td>${escapeHtml(value)}</td></tr>`)
    .join('\n');
  const identity =
    report.assertion === undefined
      ? '<p class="note">No X-Pomerium-Jwt-Assertion header: this request carried no signed identity.</p>'
      : `<p>Signed in as <strong>${escapeHtml(String(report.assertion.email ?? report.assertion.sub ?? '(unknown)'))}</strong>` +
        `${Array.isArray(report.assertion.groups) ? `, groups <code>${escapeHtml(report.assertion.groups.join(', '))}</code>` : ''}.</p>
<p class="note">Decoded from X-Pomerium-Jwt-Assertion for display only; the signature is NOT verified here.
A real application must verify it against the route's /.well-known/pomerium/jwks.json.</p>
<pre>${escapeHtml(JSON.stringify(report.assertion, null, 2))}</pre>`;
  const forPart =
    report.assertion_for === undefined
      ? ''
      : `<h2>Original user (X-Pomerium-Jwt-Assertion-For, not verified)</h2>
<pre>${escapeHtml(JSON.stringify(report.assertion_for, null, 2))}</pre>`;
  return page(
    undefined,
    `<h1>Limen demo upstream</h1>
<p>This is what arrived here, as sent by the proxy. Add <a href="?format=json">?format=json</a> for JSON.</p>
<h2>Request</h2>
<pre>${escapeHtml(`${report.method} ${report.url}`)}</pre>
<h2>Identity</h2>
${identity}
${forPart}
<h2>Headers</h2>
<table>
${headerRows}
</table>
<h2>Body</h2>
<p>${report.body_bytes} bytes, SHA-256 <code>${report.body_sha256}</code></p>`,
  );
}
