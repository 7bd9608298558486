import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, request as httpRequest, type Server } from 'node:http';
import { connect } from 'node:net';
import { Readable } from 'node:stream';
import WebSocket from 'ws';
import { request, closeHttpAgents } from './support/index.js';
import { startStack, type Stack } from './stack.js';
import { startDemoUpstream } from '../src/devidp/index.js';

const JSON_ACCEPT = { accept: 'application/json' };

interface Echo { method: string; url: string; headers: Record<string, string | string[]>; body_bytes: number; body_sha256: string }

/** An upstream that counts what reaches it and answers with its own name. */
async function countingUpstream(name: string): Promise<{ url: string; hits: () => number; close: () => Promise<void> }> {
  let hits = 0;
  const server: Server = createServer((req, res) => {
    hits++;
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json', 'x-upstream': name, 'x-request-id': `upstream-own-${name}`, connection: 'x-hop', 'x-hop': 'secret', 'keep-alive': 'timeout=5' });
      res.end(JSON.stringify({ name, url: req.url }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return { url: `http://127.0.0.1:${port}`, hits: () => hits, close: () => new Promise((r) => { server.closeAllConnections(); server.close(() => r()); }) };
}

/** Sends raw bytes and returns the status line's code (or 0 if the socket closed silently). */
function rawRequest(port: number, text: string): Promise<number> {
  return new Promise((resolve) => {
    const sock = connect(port, '127.0.0.1');
    let data = '';
    sock.on('data', (d) => { data += d.toString('latin1'); });
    sock.on('close', () => resolve(Number(/^HTTP\/1\.1 (\d{3})/.exec(data)?.[1] ?? 0)));
    sock.on('error', () => undefined);
    sock.write(text);
    setTimeout(() => sock.end(), 300).unref();
  });
}

describe('data plane', () => {
  let s: Stack;
  let a: Awaited<ReturnType<typeof countingUpstream>>;
  let b: Awaited<ReturnType<typeof countingUpstream>>;
  let second: Awaited<ReturnType<typeof startDemoUpstream>>;

  before(async () => {
    a = await countingUpstream('a');
    b = await countingUpstream('b');
    second = await startDemoUpstream({ host: '127.0.0.1', port: 0 });
    s = await startStack({
      routes: [
        { name: 'public', from: 'http://public.localhost:PORT', to: 'UPSTREAM', allow_public_unauthenticated_access: true, allow_websockets: true },
        { name: 'edits', from: 'http://edits.localhost:PORT', to: 'UPSTREAM', allow_public_unauthenticated_access: true,
          set_request_headers: { 'X-Team': 'blue', 'X-Removed': 'set-wins' }, remove_request_headers: ['X-Removed', 'X-Drop-Me'],
          set_response_headers: { 'X-Frame-Options': 'DENY' } },
        { name: 'preserve', from: 'http://preserve.localhost:PORT', to: 'UPSTREAM', allow_public_unauthenticated_access: true, preserve_host_header: true },
        { name: 'rewrite-host', from: 'http://rewritehost.localhost:PORT', to: 'UPSTREAM', allow_public_unauthenticated_access: true, host_rewrite: 'internal.example' },
        { name: 'prefix', from: 'http://prefix.localhost:PORT', prefix: '/api/', prefix_rewrite: '/v2/', to: 'UPSTREAM', allow_public_unauthenticated_access: true },
        { name: 'to-path', from: 'http://topath.localhost:PORT', to: 'UPSTREAM/base/', allow_public_unauthenticated_access: true },
        { name: 'exact', from: 'http://paths.localhost:PORT', path: '/exact', to: 'UPSTREAM', allow_public_unauthenticated_access: true },
        { name: 'regex', from: 'http://paths.localhost:PORT', regex: '^/items/[0-9]+$', to: 'UPSTREAM', allow_public_unauthenticated_access: true },
        { name: 'wild', from: 'http://*.wild.localhost:PORT', to: 'UPSTREAM', allow_public_unauthenticated_access: true },
        { name: 'slow', from: 'http://slow.localhost:PORT', to: 'UPSTREAM', timeout: '300ms', allow_public_unauthenticated_access: true },
        { name: 'dead', from: 'http://dead.localhost:PORT', to: 'http://127.0.0.1:1', allow_public_unauthenticated_access: true },
        { name: 'failover', from: 'http://failover.localhost:PORT', to: ['http://127.0.0.1:1', a.url], allow_public_unauthenticated_access: true },
        { name: 'weighted', from: 'http://weighted.localhost:PORT', to: [`${a.url},3`, `${b.url},1`], allow_public_unauthenticated_access: true },
        { name: 'counted', from: 'http://counted.localhost:PORT', to: b.url, allow_public_unauthenticated_access: true },
        { name: 'signed', from: 'http://signed.localhost:PORT', to: 'UPSTREAM', allow_any_authenticated_user: true, allow_websockets: true },
        // Streaming a GiB under a loaded CI machine can outlast the 30 s default.
        { name: 'bulk', from: 'http://bulk.localhost:PORT', to: 'UPSTREAM', allow_public_unauthenticated_access: true, timeout: '0' },
        { name: 'nows', from: 'http://nows.localhost:PORT', to: 'UPSTREAM', allow_public_unauthenticated_access: true },
      ],
      // timeout_read bounds reading a whole request (30 s by default, now
      // enforced to the second); the 1 GiB upload below may take longer on
      // a loaded machine, as a deployment with large uploads would raise it.
      config: { jwt_claims_headers: ['email'], timeout_read: '0' },
    });
  });
  after(async () => {
    await s.close();
    await a.close();
    await b.close();
    await second.close();
    await closeHttpAgents();
  });

  test('client X-Pomerium-* headers, Pomerium credentials, the session cookie and hop-by-hop fields never reach the upstream', async () => {
    const res = await request(`${s.origin('public')}/h`, {
      headers: {
        ...JSON_ACCEPT,
        'x-pomerium-jwt-assertion': 'forged.assertion.value',
        'x-pomerium-jwt-assertion-for': 'forged.for.value',
        'x-pomerium-claim-email': 'ceo@example.com',
        'x-pomerium-authenticated-user-email': 'ceo@example.com',
        'x-pomerium-anything': '1',
        cookie: 'theme=dark; _pomerium=stolen; lang=en; _pomerium_csrf=x',
        'proxy-authorization': 'Basic abc',
        te: 'trailers',
        'x-forwarded-for': '203.0.113.9',
        'x-request-id': 'client-chosen',
      },
    });
    assert.equal(res.status, 200);
    const h = res.json<Echo>().headers;
    const pomerium = Object.keys(h).filter((k) => k.startsWith('x-pomerium-'));
    // Only Limen's own claim header (always set, empty without a caller).
    assert.deepEqual(pomerium, ['x-pomerium-claim-email']);
    assert.equal(h['x-pomerium-claim-email'], '');
    assert.equal(h.cookie, 'theme=dark; lang=en');
    for (const hop of ['proxy-authorization', 'te']) assert.equal(h[hop], undefined, hop);
    assert.equal(h['x-forwarded-for'], '203.0.113.9, 127.0.0.1');
    assert.equal(h['x-forwarded-proto'], 'http');
    assert.equal(h['x-forwarded-host'], `public.localhost:${s.port}`);
    assert.match(String(h['x-request-id']), /^[0-9a-f]{24}$/);
    assert.equal(res.header('x-request-id'), h['x-request-id']);

    for (const auth of ['Pomerium abc.def.ghi', 'Bearer Pomerium-abc.def.ghi']) {
      const r = await request(`${s.origin('public')}/h`, { headers: { ...JSON_ACCEPT, authorization: auth } });
      assert.equal(r.json<Echo>().headers.authorization, undefined, auth);
    }
    const app = await request(`${s.origin('public')}/h`, { headers: { ...JSON_ACCEPT, authorization: 'Bearer app-token' } });
    assert.equal(app.json<Echo>().headers.authorization, 'Bearer app-token');
  });

  test('fields named in the client Connection header are hop-by-hop and dropped', async () => {
    const body = await new Promise<string>((resolve) => {
      const sock = connect(s.port, '127.0.0.1');
      let data = '';
      sock.on('data', (d) => { data += d.toString(); });
      sock.on('close', () => resolve(data));
      sock.write(`GET /c HTTP/1.1\r\nHost: public.localhost:${s.port}\r\nAccept: application/json\r\nConnection: close, X-Private\r\nX-Private: hop\r\nKeep-Alive: timeout=9\r\nX-Kept: yes\r\n\r\n`);
    });
    const json = JSON.parse(body.slice(body.indexOf('\r\n\r\n') + 4)) as Echo;
    assert.equal(json.headers['x-private'], undefined);
    assert.equal(json.headers['keep-alive'], undefined);
    assert.equal(json.headers['x-kept'], 'yes');
  });

  test('hop-by-hop response headers are removed; set_response_headers applies; the client gets Limen\'s request id', async () => {
    const res = await request(`${s.origin('weighted')}/`, {});
    assert.equal(res.header('x-upstream'), res.header('x-upstream') === 'a' ? 'a' : 'b');
    // The upstream answered with an x-request-id of its own: the client gets the one Limen logged (CONTRACT §8), once.
    assert.match(res.header('x-request-id') ?? '', /^[0-9a-f]{24}$/);
    // The upstream named x-hop in Connection: it is hop-by-hop and dropped.
    assert.equal(res.header('x-hop'), undefined);
    const edits = await request(`${s.origin('edits')}/`, { headers: JSON_ACCEPT });
    assert.equal(edits.header('x-frame-options'), 'DENY');
  });

  test('set_request_headers wins over remove_request_headers; removed headers are gone', async () => {
    const res = await request(`${s.origin('edits')}/`, { headers: { ...JSON_ACCEPT, 'x-drop-me': '1', 'x-team': 'red', 'x-removed': 'client' } });
    const h = res.json<Echo>().headers;
    assert.equal(h['x-team'], 'blue');
    assert.equal(h['x-removed'], 'set-wins');
    assert.equal(h['x-drop-me'], undefined);
  });

  test('host handling and path rewrites', async () => {
    const table: { url: string; wantHost?: string; wantUrl?: string; status?: number }[] = [
      { url: `${s.origin('public')}/x`, wantHost: new URL(s.upstreamUrl).host, wantUrl: '/x' },
      { url: `${s.origin('preserve')}/x`, wantHost: `preserve.localhost:${s.port}` },
      { url: `${s.origin('rewritehost')}/x`, wantHost: 'internal.example' },
      { url: `${s.origin('prefix')}/api/users?q=1`, wantUrl: '/v2/users?q=1' },
      { url: `${s.origin('prefix')}/other`, status: 404 },
      { url: `${s.origin('topath')}/a/b`, wantUrl: '/base/a/b' },
      { url: `${s.origin('paths')}/exact`, wantUrl: '/exact' },
      { url: `${s.origin('paths')}/exact/more`, status: 404 },
      { url: `${s.origin('paths')}/items/42`, wantUrl: '/items/42' },
      { url: `${s.origin('paths')}/items/42x`, status: 404 },
      { url: `http://deep.a.wild.localhost:${s.port}/w`, wantUrl: '/w' },
      { url: `${s.origin('paths')}/%69tems/7`, wantUrl: '/items/7' },
      { url: `http://wild.localhost:${s.port}/w`, status: 404 },
    ];
    for (const c of table) {
      const res = await request(c.url, { headers: JSON_ACCEPT });
      assert.equal(res.status, c.status ?? 200, c.url);
      if (res.status !== 200) continue;
      const e = res.json<Echo>();
      if (c.wantHost) assert.equal(e.headers.host, c.wantHost, c.url);
      if (c.wantUrl) assert.equal(e.url, c.wantUrl, c.url);
    }
  });

  test('paths are normalized before routing and forwarding: no escaping a prefix route', async () => {
    // Raw sockets: an HTTP client would remove the dot segments itself.
    const host = `prefix.localhost:${s.port}`;
    for (const path of ['/api/../admin', '/api/%2e%2e/admin']) {
      assert.equal(await rawRequest(s.port, `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`), 404, path);
    }
    // An encoded slash is refused outright (test/one-meaning.test.ts has the whole table).
    assert.equal(await rawRequest(s.port, `GET /api/..%2fadmin/../../x HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`), 400);
    const body = await new Promise<string>((resolve) => {
      const sock = connect(s.port, '127.0.0.1');
      let data = '';
      sock.on('data', (d) => { data += d.toString(); });
      sock.on('close', () => resolve(data));
      sock.write(`GET /api//users/./x/../me?q=1 HTTP/1.1\r\nHost: ${host}\r\nAccept: application/json\r\nConnection: close\r\n\r\n`);
    });
    assert.equal((JSON.parse(body.slice(body.indexOf('\r\n\r\n') + 4)) as Echo).url, '/v2/users/me?q=1');
  });

  test('route timeout → 504, unreachable upstream → 502, both as Limen pages with a request id', async () => {
    const slow = await request(`${s.origin('slow')}/slow?ms=3000`, { headers: JSON_ACCEPT });
    assert.equal(slow.status, 504);
    assert.deepEqual(slow.json<{ reasons: string[] }>().reasons, ['upstream-timeout']);
    const fast = await request(`${s.origin('slow')}/slow?ms=10`, { headers: JSON_ACCEPT });
    assert.equal(fast.status, 200);
    const dead = await request(`${s.origin('dead')}/`, { headers: JSON_ACCEPT });
    assert.equal(dead.status, 502);
    assert.ok(dead.json<{ request_id: string }>().request_id);
    const html = await request(`${s.origin('dead')}/`, { headers: { accept: 'text/html' } });
    assert.equal(html.status, 502);
    assert.match(html.text(), /Bad Gateway[\s\S]*Request id/);
  });

  test('failover to the next upstream when one refuses connections; weights spread load', async () => {
    for (let i = 0; i < 10; i++) {
      const r = await request(`${s.origin('failover')}/`, {});
      assert.equal(r.status, 200);
      assert.equal(r.header('x-upstream'), 'a');
    }
    const before = { a: a.hits(), b: b.hits() };
    for (let i = 0; i < 400; i++) await request(`${s.origin('weighted')}/`, {});
    const ga = a.hits() - before.a;
    const gb = b.hits() - before.b;
    assert.equal(ga + gb, 400);
    // Weights 3:1 → expect ~300 on a; bounds are ±5.7σ.
    assert.ok(ga > 250 && ga < 350, `a got ${ga}, b got ${gb}`);
  });

  test('malformed requests get 400/431 and never reach the upstream', async () => {
    const before = b.hits();
    const host = `counted.localhost:${s.port}`;
    const cases: { name: string; raw: string; want: number }[] = [
      { name: 'bad host', raw: 'GET / HTTP/1.1\r\nHost: bad host!\r\n\r\n', want: 400 },
      { name: 'missing host', raw: 'GET / HTTP/1.1\r\n\r\n', want: 400 },
      { name: 'CL and TE', raw: `POST / HTTP/1.1\r\nHost: ${host}\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`, want: 400 },
      { name: 'two content-lengths', raw: `POST / HTTP/1.1\r\nHost: ${host}\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!`, want: 400 },
      { name: 'bad chunk size', raw: `POST / HTTP/1.1\r\nHost: ${host}\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n`, want: 400 },
      { name: 'oversized headers', raw: `GET / HTTP/1.1\r\nHost: ${host}\r\nX-Big: ${'a'.repeat(20000)}\r\n\r\n`, want: 431 },
      { name: 'absolute-form target', raw: `GET http://evil/ HTTP/1.1\r\nHost: ${host}\r\n\r\n`, want: 400 },
      { name: 'garbage', raw: 'HELLO\r\n\r\n', want: 400 },
    ];
    for (const c of cases) {
      assert.equal(await rawRequest(s.port, c.raw), c.want, c.name);
    }
    assert.equal(b.hits(), before, 'no malformed request reached the upstream');
    assert.equal(await rawRequest(s.port, `GET / HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`), 200);
  });

  test('websockets: tunnelled when allowed, refused otherwise and without identity', async () => {
    const echo = await new Promise<string>((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${s.port}/ws`, { headers: { host: `public.localhost:${s.port}` } });
      ws.on('open', () => ws.send('ping through limen'));
      ws.on('message', (m) => { resolve(m.toString()); ws.close(); });
      ws.on('error', reject);
    });
    assert.equal(echo, 'ping through limen');
    for (const [host, want] of [[`nows.localhost:${s.port}`, 400], [`signed.localhost:${s.port}`, 401], [`none.localhost:${s.port}`, 404]] as const) {
      const status = await new Promise<number>((resolve) => {
        const ws = new WebSocket(`ws://127.0.0.1:${s.port}/ws`, { headers: { host } });
        ws.on('unexpected-response', (_req, res) => { resolve(res.statusCode ?? 0); res.resume(); });
        ws.on('open', () => { resolve(101); ws.close(); });
        ws.on('error', () => resolve(-1));
      });
      assert.equal(status, want, host);
    }
  });

  // Regression: `Expect: 100-continue` (curl sends it for any body over 1 MB) was passed on, undici refused it, and the client got a 502.
  test('Expect: 100-continue: Limen answers 100, the body goes through, the upstream never sees Expect', async () => {
    const body = Buffer.alloc(64 * 1024, 7);
    const { status, continued, echo } = await new Promise<{ status: number; continued: boolean; echo: { headers: Record<string, string>; body_bytes: number } }>((resolve, reject) => {
      let continued = false;
      const req = httpRequest({ host: '127.0.0.1', port: s.port, method: 'POST', path: '/upload', headers: { host: `public.localhost:${s.port}`, accept: 'application/json', expect: '100-continue', 'content-length': body.length } });
      req.on('continue', () => { continued = true; req.end(body); });
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, continued, echo: JSON.parse(Buffer.concat(chunks).toString()) }));
      });
      req.on('error', reject);
      req.flushHeaders();
    });
    assert.equal(continued, true, '100 Continue before the body');
    assert.equal(status, 200);
    assert.equal(echo.body_bytes, body.length);
    assert.equal(echo.headers.expect, undefined);
  });

  test('1 GiB upload and 1 GiB download stream through with flat memory', async () => {
    const GiB = 1024 ** 3;
    const chunk = Buffer.alloc(1024 * 1024, 7);
    global.gc?.();
    const rss0 = process.memoryUsage().rss;
    let peak = rss0;
    const sampler = setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss); }, 50);
    try {
      const down = await request(`${s.origin('bulk')}/stream?bytes=${GiB}`, { consume: 'count', timeoutMs: 120_000 });
      assert.equal(down.status, 200);
      assert.equal(down.bodyBytes, GiB);
      async function* body(): AsyncGenerator<Buffer> { for (let i = 0; i < 1024; i++) yield chunk; }
      const up = await request(`${s.origin('bulk')}/upload`, {
        method: 'POST', headers: { ...JSON_ACCEPT, 'content-length': String(GiB), 'content-type': 'application/octet-stream' },
        body: Readable.from(body()), timeoutMs: 120_000,
      });
      assert.equal(up.status, 200);
      assert.equal(up.json<Echo>().body_bytes, GiB);
    } finally {
      clearInterval(sampler);
    }
    const growth = peak - rss0;
    assert.ok(growth < 200 * 1024 * 1024, `RSS grew by ${(growth / 1048576).toFixed(0)} MiB while moving 2 GiB`);
  });
});
