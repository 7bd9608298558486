/**
 * Issue 12, end to end on one stack: scripted traffic moves the metrics by
 * exactly what was sent; `metrics_basic_auth` guards /metrics; health
 * answers on Pomerium's paths; the access log's request id is the one the
 * client got; every log line is JSON and carries no secret or token.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { createServer, type Server } from 'node:http';
import { Readable } from 'node:stream';
import WebSocket from 'ws';
import { createRequire } from 'node:module';
import { CookieJar, closeHttpAgents, request, scriptedLogin, type TestResponse } from './support/index.js';
import { COOKIE_SECRET, SHARED_SECRET, startStack, type Stack } from './stack.js';
import { parseMetrics, sample } from './observe-support.js';
import { Metrics } from '../src/observe/metrics.js';
import { runCli } from './support/index.js';

const JSON_ACCEPT = { accept: 'application/json' };

/** The line is written when the server side of the response closes, which may be just after the client has it all. */
async function lineFor(lines: string[], msg: string, requestId: string | undefined): Promise<Record<string, unknown> | undefined> {
  const end = Date.now() + 10_000;
  for (;;) {
    const line = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.message === msg && l['request-id'] === requestId);
    if (line || Date.now() > end) return line;
    await new Promise((r) => setTimeout(r, 20));
  }
}
const AUTH = `Basic ${Buffer.from('prom:s3cret-pw').toString('base64')}`;

describe('observability: metrics, health, access log', () => {
  let s: Stack;
  const lines: string[] = [];
  let metricsUrl: string;
  let healthUrl: string;
  /** Waits until every request sent so far has been recorded (each writes its access line after its metrics). */
  const settle = async () => {
    let n = -1;
    for (let i = 0; i < 200; i++) {
      const now = lines.filter((l) => l.includes('"message":"http-request"')).length;
      if (now === n) return;
      n = now;
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const scrape = async () => {
    await settle();
    const r = await request(`${metricsUrl}/metrics`, { headers: { authorization: AUTH } });
    assert.equal(r.status, 200);
    return parseMetrics(r.text());
  };

  /** Added to Limen's clock: a test moves Limen's time on past an access token's expiry without stopping it. */
  let skewMs = 0;
  const routes = [
    { name: 'public', from: 'http://public.localhost:PORT', to: 'UPSTREAM', allow_public_unauthenticated_access: true },
    { name: 'staff', from: 'http://staff.localhost:PORT', to: 'UPSTREAM', policy: { allow: { or: [{ domain: { is: 'example.com' } }] } } },
    { from: 'http://closed.localhost:PORT', to: 'UPSTREAM', allow_public_unauthenticated_access: true, policy: { deny: { or: [{ http_path: { starts_with: '/' } }] } } },
    { name: 'live', from: 'http://live.localhost:PORT', to: 'UPSTREAM', allow_public_unauthenticated_access: true, allow_websockets: true },
  ];
  const logFields = {
    access_log_fields: ['method', 'authority', 'path', 'query', 'referer', 'response-code', 'response-code-details', 'duration', 'size', 'request-id', 'upstream-cluster', 'user-agent', 'ip', 'forwarded-for', 'client-certificate', 'user', 'email', 'route-id', 'headers.cookie', 'headers.authorization', 'headers.user-agent'],
    authorize_log_fields: ['request-id', 'method', 'path', 'host', 'ip', 'user', 'email', 'session-id', 'route-id', 'headers'],
  };
  /** An upstream that fails after its response has started: trickles past the route timeout, or resets mid-body. */
  let flaky: Server;
  before(async () => {
    flaky = createServer((req, res) => {
      if (req.url === '/silent') return; // never answers: the route timeout ends it (504)
      if (req.url === '/drop') { req.socket.destroy(); return; } // hangs up before answering (502)
      if (req.url === '/reset') {
        res.writeHead(200, { 'content-length': '100000' });
        res.write(Buffer.alloc(1000, 97), () => res.socket?.destroy());
        return;
      }
      res.writeHead(200, { 'content-type': 'text/plain' });
      const t = setInterval(() => res.write('.'), 100);
      setTimeout(() => { clearInterval(t); res.end(); }, 3000);
      res.on('close', () => clearInterval(t));
    });
    await new Promise<void>((r) => flaky.listen(0, '127.0.0.1', r));
    routes.push({ name: 'flaky', from: 'http://flaky.localhost:PORT', to: `http://127.0.0.1:${(flaky.address() as { port: number }).port}`, allow_public_unauthenticated_access: true, timeout: '400ms' } as never);
    s = await startStack({
      logLines: lines,
      now: () => Date.now() + skewMs,
      accessTokenTtl: 300,
      config: {
        metrics_address: '127.0.0.1:0',
        health_check_addr: '127.0.0.1:0',
        metrics_basic_auth: Buffer.from('prom:s3cret-pw').toString('base64'),
        ...logFields,
      },
      routes,
    });
    metricsUrl = s.limen.observability.metricsUrl!;
    healthUrl = s.limen.observability.healthUrl!;
  });
  after(async () => {
    flaky.closeAllConnections();
    flaky.close();
    await s.close();
    await closeHttpAgents();
  });

  test('/metrics needs metrics_basic_auth when it is set; other paths are 404', async () => {
    for (const authorization of [undefined, 'Basic ' + Buffer.from('prom:wrong').toString('base64'), 'Bearer x', 'Basic !!!']) {
      const r = await request(`${metricsUrl}/metrics`, { headers: { authorization } });
      assert.equal(r.status, 401, String(authorization));
      assert.match(r.header('www-authenticate') ?? '', /^Basic/);
    }
    assert.equal((await request(`${metricsUrl}/other`, { headers: { authorization: AUTH } })).status, 404);
    const m = await scrape();
    assert.equal(sample(m, 'limen_build_info', { nodejs_version: process.versions.node }), 1);
    assert.ok(m.has('process_cpu_seconds_total'), 'default process metrics');
    assert.ok([...m.keys()].some((k) => k.startsWith('nodejs_eventloop_lag_seconds')), 'default Node.js metrics');
    assert.ok(sample(m, 'limen_config_last_reload_success_timestamp_seconds') > 0);
  });

  test('counters and histograms move by exactly the scripted traffic', async () => {
    const before = await scrape();
    for (let i = 0; i < 3; i++) assert.equal((await request(`${s.origin('public')}/p${i}?token=abc`, { headers: JSON_ACCEPT })).status, 200);
    assert.equal((await request(`${s.origin('public')}/x`, { method: 'POST', body: 'hi', headers: JSON_ACCEPT })).status, 200);
    for (let i = 0; i < 2; i++) assert.equal((await request(`${s.origin('staff')}/`, { headers: JSON_ACCEPT })).status, 401);
    const jar = new CookieJar();
    await scriptedLogin(`${s.origin('staff')}/`, 'ada@example.com', { jar });
    const mid = await scrape();
    for (let i = 0; i < 4; i++) assert.equal((await request(`${s.origin('staff')}/s${i}`, { jar, headers: JSON_ACCEPT })).status, 200);
    const closed = await request(`${s.origin('closed')}/`, { jar, headers: JSON_ACCEPT });
    assert.equal(closed.status, 403);
    const after = await scrape();
    const d = (m0: Map<string, number>, m1: Map<string, number>, name: string, labels: Record<string, string> = {}) => sample(m1, name, labels) - sample(m0, name, labels);

    assert.equal(d(before, after, 'limen_http_requests_total', { route: 'public', method: 'GET', status_class: '2xx' }), 3);
    assert.equal(d(before, after, 'limen_http_requests_total', { route: 'public', method: 'POST', status_class: '2xx' }), 1);
    assert.equal(d(before, mid, 'limen_http_requests_total', { route: 'staff', method: 'GET', status_class: '4xx' }), 2);
    assert.equal(d(mid, after, 'limen_http_requests_total', { route: 'staff', method: 'GET', status_class: '2xx' }), 4);
    assert.equal(d(mid, after, 'limen_http_requests_total', { route: 'http://closed.localhost:' + s.port, method: 'GET', status_class: '4xx' }), 1, 'an unnamed route is labelled by its from');
    assert.equal(d(before, after, 'limen_request_duration_seconds_count', { route: 'public' }), 4);
    assert.equal(d(before, after, 'limen_upstream_duration_seconds_count', { route: 'public' }), 4);
    assert.equal(d(mid, after, 'limen_upstream_duration_seconds_count', { route: 'staff' }), 4);
    assert.equal(d(before, mid, 'limen_upstream_duration_seconds_count', { route: 'staff' }), 1, 'refused requests never reach the upstream; the sign-in\'s return to the page does');
    assert.ok(d(before, after, 'limen_request_duration_seconds_sum', { route: 'public' }) > 0);
    assert.equal(d(before, after, 'limen_authorize_decisions_total', { route: 'public', result: 'allow' }), 4);
    assert.equal(d(before, mid, 'limen_authorize_decisions_total', { route: 'staff', result: 'login', reason: 'user-unauthenticated' }), 3, 'two 401s and the browser sent to sign-in');
    assert.equal(d(before, mid, 'limen_http_requests_total', { route: 'staff', method: 'GET', status_class: '3xx' }), 1, 'the browser sent to sign-in');
    assert.equal(d(mid, after, 'limen_authorize_decisions_total', { route: 'staff', result: 'allow', reason: 'domain-ok' }), 4);
    assert.equal(d(mid, after, 'limen_authorize_decisions_total', { route: 'http://closed.localhost:' + s.port, result: 'deny' }), 1);
    assert.equal(d(before, after, 'limen_sign_ins_total'), 1);
    assert.equal(d(before, after, 'limen_sign_in_failures_total'), 0);
    assert.ok(sample(after, 'limen_active_sessions') >= 1);
    assert.ok(d(before, after, 'limen_store_cache_requests_total', { result: 'hit' }) + d(before, after, 'limen_store_cache_requests_total', { result: 'miss' }) > 0);
    assert.ok(d(before, after, 'limen_store_operation_duration_seconds_count', { operation: 'put' }) >= 1, 'the sign-in wrote the session');
    for (const key of after.keys()) assert.doesNotMatch(key, /route="\/(p\d|s\d|x)/, 'no request path in a label');
  });

  test('a sign-in that fails at the callback is counted by reason', async () => {
    const before = await scrape();
    const r = await request(`${s.authOrigin}/oauth2/callback?code=x&state=y`, { headers: JSON_ACCEPT });
    assert.equal(r.status, 400);
    const after = await scrape();
    assert.equal(sample(after, 'limen_sign_in_failures_total', { reason: 'csrf-cookie-missing' }) - sample(before, 'limen_sign_in_failures_total', { reason: 'csrf-cookie-missing' }), 1);
  });

  // Regression: a refused credential was observed as `user-unauthenticated`,
  // which points an operator at cookie secrets; its 401 named the real reason.
  test('a refused credential is observed with the reason its 401 gives', async () => {
    const cases: { name: string; headers: Record<string, string>; want: string }[] = [
      { name: 'garbage bearer', headers: { authorization: 'Bearer Pomerium-garbage' }, want: 'token-malformed' },
      { name: 'two segments', headers: { 'x-pomerium-authorization': 'a.b' }, want: 'token-malformed' },
      { name: 'no credential at all', headers: {}, want: 'user-unauthenticated' },
    ];
    for (const c of cases) {
      const before = await scrape();
      const r = await request(`${s.origin('staff')}/`, { headers: { ...JSON_ACCEPT, ...c.headers } });
      assert.equal(r.status, 401, c.name);
      assert.deepEqual(r.json<{ reasons: string[] }>().reasons, [c.want], c.name);
      const after = await scrape();
      const labels = { route: 'staff', result: 'login', reason: c.want };
      assert.equal(sample(after, 'limen_authorize_decisions_total', labels) - sample(before, 'limen_authorize_decisions_total', labels), 1, c.name);
      const id = r.header('x-request-id');
      const line = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.message === 'authorize check' && l['request-id'] === id);
      assert.deepEqual(line?.['allow-why-false'], [c.want], c.name);
    }
  });

  // Regression: a request that failed the allow rules was logged `deny: true`, as if a deny rule had
  // matched; Pomerium writes `allow: false` with the reasons and `deny: false` (CONTRACT §3 keeps them apart).
  test('the authorize line tells an allow that did not match from a deny rule that did', async () => {
    const jar = new CookieJar();
    await scriptedLogin(`${s.origin('staff')}/`, 'eve@other.test', { jar });
    const cases: { name: string; url: string; want: Record<string, unknown> }[] = [
      { name: 'allow not matched', url: `${s.origin('staff')}/`, want: { 'allow': false, 'allow-why-false': ['domain-unauthorized'], 'deny': false, 'deny-why-false': [] } },
      { name: 'deny rule matched', url: `http://closed.localhost:${s.port}/`, want: { 'allow': false, 'allow-why-false': [], 'deny': true, 'deny-why-true': ['http-path-ok'] } },
    ];
    for (const c of cases) {
      const r = await request(c.url, { jar, headers: JSON_ACCEPT });
      assert.equal(r.status, 403, c.name);
      const line = await lineFor(lines, 'authorize check', r.header('x-request-id'));
      assert.ok(line, c.name);
      const got = Object.fromEntries(Object.keys(c.want).map((k) => [k, line[k]]));
      assert.deepEqual(got, c.want, c.name);
    }
  });

  test('the access log line carries the x-request-id the client got, and Pomerium field names', async () => {
    const r = await request(`${s.origin('public')}/logged/path?pomerium_jwt=SECRETJWT&page=2`, { headers: { ...JSON_ACCEPT, 'user-agent': 'observe-test', referer: 'http://x.localhost/cb?code=SECRETCODE' } });
    const id = r.header('x-request-id');
    assert.match(id ?? '', /^[0-9a-f]{24}$/);
    const line = await lineFor(lines, 'http-request', id);
    assert.ok(line, 'access line for the request');
    assert.equal(line.method, 'GET');
    assert.equal(line.authority, `public.localhost:${s.port}`);
    assert.equal(line.path, '/logged/path');
    assert.equal(line.query, 'pomerium_jwt=[redacted]&page=2');
    assert.equal(line.referer, 'http://x.localhost/cb');
    assert.equal(line['response-code'], 200);
    assert.equal(line['response-code-details'], 'via_upstream');
    assert.equal(line['route-id'], 'public');
    assert.equal(line['user-agent'], 'observe-test');
    assert.equal(line.ip, '127.0.0.1');
    assert.equal(typeof line.duration, 'number');
    assert.ok((line.size as number) > 0);
    assert.match(String(line['upstream-cluster']), /^http:\/\/127\.0\.0\.1:\d+$/);
    const refused = await request(`${s.origin('staff')}/`, { headers: JSON_ACCEPT });
    const rid = refused.header('x-request-id');
    const auth = await lineFor(lines, 'authorize check', rid);
    assert.ok(await lineFor(lines, 'http-request', rid), 'access line of the refused request, same id');
    assert.ok(auth, 'authorize line');
    assert.equal(auth.allow, false);
    assert.deepEqual(auth['allow-why-false'], ['user-unauthenticated']);
    assert.equal(auth['route-id'], 'staff');
  });

  // Pomerium's line shape: pipelines built for it select the access lines by `service: envoy` and
  // `message: http-request`, the decisions by `service: authorize`, and see no health checks at info.
  test('lines have Pomerium\'s service and message; /ping and /healthz are not logged at info', async () => {
    const r = await request(`${s.origin('public')}/shape`, { headers: JSON_ACCEPT });
    const access = await lineFor(lines, 'http-request', r.header('x-request-id'));
    assert.deepEqual([access?.level, access?.service, access?.message], ['info', 'envoy', 'http-request']);
    const refused = await request(`${s.origin('staff')}/`, { headers: JSON_ACCEPT });
    const decision = await lineFor(lines, 'authorize check', refused.header('x-request-id'));
    assert.deepEqual([decision?.level, decision?.service, decision?.message], ['info', 'authorize', 'authorize check']);
    // Envoy's response code details where Envoy has a name for the case.
    const nowhere = await request(`http://nowhere.localhost:${s.port}/`, { headers: JSON_ACCEPT });
    assert.equal(nowhere.status, 404);
    assert.equal((await lineFor(lines, 'http-request', nowhere.header('x-request-id')))?.['response-code-details'], 'route_not_found');
    assert.equal((await lineFor(lines, 'http-request', refused.header('x-request-id')))?.['response-code-details'], 'ext_authz_denied');
    for (const path of ['/ping', '/healthz', '/ping?probe=1']) {
      const h = await request(`${s.origin('public')}${path}`);
      assert.equal(h.status, 200, path);
      // The next request's line is written after this one's would have been.
      const next = await request(`${s.origin('public')}/after-health-check`, { headers: JSON_ACCEPT });
      assert.ok(await lineFor(lines, 'http-request', next.header('x-request-id')), path);
      const id = h.header('x-request-id');
      assert.ok(id, path);
      assert.ok(!lines.some((l) => l.includes(id)), `${path}: no access line at info`);
    }
  });

  // Regression: size counted the status line and headers too (a HEAD was 216 bytes).
  test('size is the response body, as in Pomerium: relayed, HEAD, Limen\'s own page, a response cut mid-body', async () => {
    const cases: { name: string; url: string; method?: string; body: (r: TestResponse) => number }[] = [
      { name: 'relayed', url: `${s.origin('public')}/sized`, body: (r) => Buffer.byteLength(r.text()) },
      { name: 'HEAD', url: `${s.origin('public')}/sized`, method: 'HEAD', body: () => 0 },
      { name: 'Limen\'s 404 page', url: `http://nowhere.localhost:${s.port}/`, body: (r) => Buffer.byteLength(r.text()) },
      { name: 'Limen\'s 401 page', url: `${s.origin('staff')}/`, body: (r) => Buffer.byteLength(r.text()) },
    ];
    for (const c of cases) {
      const r = await request(c.url, { method: c.method ?? 'GET', headers: JSON_ACCEPT });
      const line = await lineFor(lines, 'http-request', r.header('x-request-id'));
      assert.ok(line, c.name);
      assert.equal(line.size, c.body(r), c.name);
      if (c.method !== 'HEAD') assert.ok((line.size as number) > 0, c.name);
    }
  });

  test('requests with a body have their access line too, naming the peer (Node.js lets go of their socket first)', async () => {
    const cases: { name: string; method: string; body?: string | Readable }[] = [
      { name: 'POST with a length', method: 'POST', body: 'a=b' },
      { name: 'PUT, chunked (a stream of unknown length)', method: 'PUT', body: Readable.from([Buffer.from('chunked '), Buffer.from('body')]) },
      { name: 'GET with a body', method: 'GET', body: 'odd but allowed' },
      { name: 'DELETE with a body, to a refused route', method: 'DELETE', body: 'x' },
    ];
    for (const c of cases) {
      const url = c.name.includes('refused') ? `${s.origin('staff')}/form` : `${s.origin('public')}/form`;
      const r = await request(url, { method: c.method, body: c.body, headers: JSON_ACCEPT });
      assert.equal(r.status, c.name.includes('refused') ? 401 : 200, c.name);
      const id = r.header('x-request-id');
      const line = await lineFor(lines, 'http-request', id);
      assert.ok(line, `access line for ${c.name} (${id})`);
      assert.equal(line.method, c.method, c.name);
      assert.equal(line['forwarded-for'], '127.0.0.1', c.name);
      assert.equal(line.ip, '127.0.0.1', c.name);
    }
    assert.ok(!lines.some((l) => l.includes('"message":"request failed"')), 'no request failed on the way');
  });

  test('a session refreshed at the IdP is counted, and its request goes through (the store\'s replace is timed too)', async () => {
    const jar = new CookieJar();
    await scriptedLogin(`${s.origin('staff')}/`, 'ada@example.com', { jar });
    const before = await scrape();
    skewMs += 250_000; // within a minute of the 300 s access token's expiry: the next request refreshes
    try {
      assert.equal((await request(`${s.origin('staff')}/after-refresh`, { jar, headers: JSON_ACCEPT })).status, 200);
    } finally {
      skewMs -= 250_000;
    }
    const after = await scrape();
    const d = (name: string, labels: Record<string, string> = {}) => sample(after, name, labels) - sample(before, name, labels);
    assert.equal(d('limen_session_refreshes_total', { result: 'success' }), 1);
    assert.equal(d('limen_session_refreshes_total', { result: 'failure' }), 0);
    assert.ok(d('limen_store_operation_duration_seconds_count', { operation: 'replace' }) >= 1, 'the refreshed session was written back with replace');
    assert.equal(d('limen_store_operation_errors_total', { operation: 'replace' }), 0);
  });

  test('websocket upgrades are in the access log: a tunnel as 101 when it closes, a refusal with its status', async () => {
    const before = await scrape();
    const tunnelId = await new Promise<string>((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${s.port}/ws`, { headers: { host: `live.localhost:${s.port}` } });
      let id = '';
      ws.on('upgrade', (res) => { id = String(res.headers['x-request-id']); });
      ws.on('open', () => ws.send('ping'));
      ws.on('message', () => setTimeout(() => ws.close(), 400)); // the tunnel held open a while
      ws.on('close', () => resolve(id));
      ws.on('error', reject);
    });
    const tunnel = await lineFor(lines, 'http-request', tunnelId);
    assert.ok(tunnel, `access line for the tunnel ${tunnelId}`);
    assert.equal(tunnel['response-code'], 101);
    assert.equal(tunnel['response-code-details'], 'via_upstream');
    assert.equal(tunnel['route-id'], 'live');
    assert.match(String(tunnel['upstream-cluster']), /^http:\/\/127\.0\.0\.1:\d+$/);
    assert.ok(await lineFor(lines, 'authorize check', tunnelId), 'authorize line for the tunnel');
    // Regression: the tunnel's life was counted as Limen's own time, and never as the upstream's.
    const after = await scrape();
    const d = (name: string) => sample(after, name, { route: 'live' }) - sample(before, name, { route: 'live' });
    assert.equal(d('limen_upstream_duration_seconds_count'), 1, 'the tunnel is upstream time');
    assert.ok(d('limen_upstream_duration_seconds_sum') >= 0.4, 'its whole life');
    assert.ok(d('limen_request_duration_seconds_sum') < 0.3, `not Limen's own (${d('limen_request_duration_seconds_sum')} s)`);
    const refusedId = await new Promise<string>((resolve, reject) => {
      const ws = new WebSocket(`ws://127.0.0.1:${s.port}/ws`, { headers: { host: `public.localhost:${s.port}` } });
      ws.on('unexpected-response', (_req, res) => { resolve(String(res.headers['x-request-id'])); res.resume(); });
      ws.on('open', () => reject(new Error('tunnelled on a route without allow_websockets')));
      ws.on('error', reject);
    });
    const refused = await lineFor(lines, 'http-request', refusedId);
    assert.ok(refused, `access line for the refused upgrade ${refusedId}`);
    assert.equal(refused['response-code'], 400);
    assert.equal(refused['route-id'], 'public', 'the route it was refused on, not Limen\'s own');
  });

  test('health on Pomerium\'s paths, as JSON with named checks; limen health exits 0', async () => {
    for (const path of ['/startupz', '/readyz', '/healthz']) {
      const r = await request(`${healthUrl}${path}`);
      assert.equal(r.status, 200, path);
      const body = r.json<{ status: string; checks: Record<string, { status: string }> }>();
      assert.equal(body.status, 'ok');
      assert.deepEqual(Object.keys(body.checks).sort(), ['config-loaded', 'idp-discovery', 'listeners-up', 'store-reachable']);
    }
    const ready = (await request(`${healthUrl}/readyz`)).json<{ checks: Record<string, { status: string }> }>();
    assert.equal(ready.checks['store-reachable']!.status, 'ok');
    assert.equal(ready.checks['idp-discovery']!.status, 'ok');
    const cli = await runCli(['health', '--address', new URL(healthUrl).host]);
    assert.equal(cli.code, 0, cli.stderr);
    assert.match(cli.stdout, /"status":"ok"/);
  });

  test('every log line is JSON and carries no secret, cookie or token', async () => {
    // More traffic with credentials in every place a client can put them.
    const jar = new CookieJar();
    await scriptedLogin(`${s.origin('staff')}/`, 'grace@example.com', { jar });
    await request(`${s.origin('staff')}/c?access_token=SECRETQ`, { jar, headers: { ...JSON_ACCEPT, authorization: 'Bearer Pomerium-SECRETBEARER' } });
    const last = await request(`${s.origin('public')}/`, { headers: { 'x-pomerium-authorization': 'SECRETXPA', cookie: '_pomerium=SECRETCOOKIE; other=1' } });
    assert.ok(await lineFor(lines, 'http-request', last.header('x-request-id')));
    // Passwords in URLs: a Referer's userinfo, an absolute-form target's, a session id as a path parameter.
    const referred = await request(`${s.origin('public')}/r`, { headers: { referer: 'http://user:SECRETREFPW@r.example/p?token=SECRETREFQ' } });
    const refLine = await lineFor(lines, 'http-request', referred.header('x-request-id'));
    assert.equal(refLine?.referer, 'http://[redacted]@r.example/p');
    const host = `public.localhost:${s.port}`;
    const absolute = await rawLogged(`GET http://user:SECRETABSPW@${host}/abs HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`, 400, 'absolute-form with a password');
    assert.equal(absolute.line.path, `http://[redacted]@${host}/abs`);
    const param = await rawLogged(`GET /a;jsessionid=SECRETJSESSION HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`, 400, 'a session id as a path parameter');
    assert.equal(param.line.path, '/a;jsessionid=[redacted]');
    const cookies = jar.all().map((c) => c.value).filter((v) => v.length >= 16);
    assert.ok(cookies.length > 0);
    const secrets = [SHARED_SECRET, COOKIE_SECRET, s.clientSecret, 's3cret-pw', 'SECRETQ', 'SECRETBEARER', 'SECRETXPA', 'SECRETCOOKIE', 'SECRETJWT', 'SECRETCODE',
      'SECRETREFPW', 'SECRETREFQ', 'SECRETABSPW', 'SECRETJSESSION', ...cookies];
    assert.ok(lines.length > 20);
    for (const l of lines) {
      const parsed = JSON.parse(l) as Record<string, unknown>;
      assert.equal(typeof parsed.message, 'string', l);
      for (const secret of secrets) assert.ok(!l.includes(secret), `log line leaks a secret: ${l.slice(0, 300)}`);
    }
    assert.ok(lines.some((l) => l.includes('"cookie":"[redacted]"')), 'the cookie header was asked for and redacted');
  });

  /** Sends `text` on a new connection; resolves with everything the server wrote until it closed. */
  const raw = (text: string): Promise<string> => new Promise((resolve) => {
    const sock = connect(s.port, '127.0.0.1');
    let data = '';
    sock.on('data', (d: Buffer) => { data += d.toString('latin1'); });
    sock.on('close', () => resolve(data));
    sock.on('error', () => resolve(data));
    sock.write(text);
  });

  /** Sends a raw request, checks its status, and returns the answer, its request id and its access line. */
  const rawLogged = async (text: string, status: number, name: string): Promise<{ answer: string; id: string | undefined; line: Record<string, unknown> }> => {
    const answer = await raw(text);
    assert.match(answer, new RegExp(`^HTTP/1\\.1 ${status} `), name);
    const id = /\r\nx-request-id: ([^\r]+)\r\n/i.exec(answer)?.[1];
    const line = await lineFor(lines, 'http-request', id);
    assert.ok(line, `${name}: access line for ${id}`);
    assert.equal(line['response-code'], status, name);
    return { answer, id, line };
  };

  test('requests the HTTP parser refuses are counted and logged, with the request id of their error page', async () => {
    const host = `public.localhost:${s.port}`;
    const cases: { name: string; text: string; status: number; details: string }[] = [
      { name: 'not HTTP', text: 'GARBAGE\r\n\r\n', status: 400, details: 'http1.codec_error' },
      { name: 'Content-Length and Transfer-Encoding', text: `POST / HTTP/1.1\r\nHost: ${host}\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n`, status: 400, details: 'http1.codec_error' },
      { name: 'headers too large', text: `GET / HTTP/1.1\r\nHost: ${host}\r\nX-Big: ${'a'.repeat(70_000)}\r\n\r\n`, status: 431, details: 'http1.headers_too_large' },
    ];
    const before = await scrape();
    for (const c of cases) {
      const { line } = await rawLogged(c.text, c.status, c.name);
      assert.equal(line['response-code-details'], c.details, c.name);
      assert.deepEqual([line.method, line.path], ['', ''], `${c.name}: nothing that did not parse is logged (Pomerium's fields as "")`);
    }
    const after = await scrape();
    assert.equal(sample(after, 'limen_http_requests_total', { route: '(limen)', method: 'OTHER', status_class: '4xx' }) - sample(before, 'limen_http_requests_total', { route: '(limen)', method: 'OTHER', status_class: '4xx' }), cases.length);
  });

  // Regression: a client that left mid-upload was counted twice, as the client leaving and as a 400 under (limen).
  test('a client that leaves in the middle of its request body is one request, counted as the client leaving', async () => {
    const host = `public.localhost:${s.port}`;
    const before = await scrape();
    const lineCount = lines.filter((l) => l.includes('"message":"http-request"')).length;
    await new Promise<void>((resolve) => {
      const sock = connect(s.port, '127.0.0.1', () => {
        sock.write(`POST /upload HTTP/1.1\r\nHost: ${host}\r\nContent-Length: 1000000\r\n\r\n${'x'.repeat(1000)}`);
        setTimeout(() => sock.end(), 200);
      });
      sock.on('close', () => resolve());
      sock.on('error', () => resolve());
      sock.resume();
    });
    const after = await scrape();
    const delta = (labels: Record<string, string>) => sample(after, 'limen_http_requests_total', labels) - sample(before, 'limen_http_requests_total', labels);
    assert.equal(delta({ route: 'public', method: 'POST', status_class: 'other' }), 1);
    assert.equal(delta({ route: '(limen)', method: 'OTHER', status_class: '4xx' }), 0, 'no second count as a malformed request');
    assert.equal(lines.filter((l) => l.includes('"message":"http-request"')).length - lineCount, 1, 'one access line');
  });

  // Regression: CONNECT got no answer at all, and a request with an Upgrade
  // other than websocket was answered but neither counted nor logged.
  test('CONNECT and upgrades other than websocket are answered, counted and logged like any request', async () => {
    const host = `public.localhost:${s.port}`;
    const cases: { name: string; text: string; status: number; route: string; method: string; upstream: number }[] = [
      { name: 'CONNECT', text: `CONNECT ${host} HTTP/1.1\r\nHost: ${host}\r\n\r\n`, status: 405, route: '(limen)', method: 'CONNECT', upstream: 0 },
      { name: 'Upgrade: h2c, proxied', text: `GET /x HTTP/1.1\r\nHost: ${host}\r\nConnection: Upgrade\r\nUpgrade: h2c\r\nAccept: application/json\r\n\r\n`, status: 200, route: 'public', method: 'GET', upstream: 1 },
      { name: 'Upgrade: foo, no route', text: `GET / HTTP/1.1\r\nHost: nowhere.localhost:${s.port}\r\nConnection: Upgrade\r\nUpgrade: foo\r\nAccept: application/json\r\n\r\n`, status: 404, route: '(limen)', method: 'GET', upstream: 0 },
      { name: 'Upgrade: h2c, not signed in', text: `GET / HTTP/1.1\r\nHost: staff.localhost:${s.port}\r\nConnection: Upgrade\r\nUpgrade: h2c\r\nAccept: application/json\r\n\r\n`, status: 401, route: 'staff', method: 'GET', upstream: 0 },
      { name: 'websocket upgrade with a body', text: `POST / HTTP/1.1\r\nHost: ${host}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nContent-Length: 5\r\n\r\nhello`, status: 400, route: '(limen)', method: 'POST', upstream: 0 },
    ];
    for (const c of cases) {
      const before = await scrape();
      const { line } = await rawLogged(c.text, c.status, c.name);
      assert.equal(line.method, c.method, c.name);
      const after = await scrape();
      const labels = { route: c.route, method: c.method, status_class: `${String(c.status)[0]}xx` };
      assert.equal(sample(after, 'limen_http_requests_total', labels) - sample(before, 'limen_http_requests_total', labels), 1, `${c.name}: counted`);
      assert.equal(sample(after, 'limen_upstream_duration_seconds_count', { route: c.route }) - sample(before, 'limen_upstream_duration_seconds_count', { route: c.route }), c.upstream, `${c.name}: upstream timed`);
    }
  });

  // Regression: the route timeout bounded only the wait for headers (a
  // trickling upstream ran on past it), and a response cut after it started
  // was logged as the client leaving, with no warning and no error span.
  test('an upstream that fails after its response started: the response is cut, and the log and metrics say why', async () => {
    const host = `flaky.localhost:${s.port}`;
    // response-code-details as Envoy names them (Pomerium's access log passes Envoy's on); the warning has Limen's reason.
    const cases: { path: string; want: string; details: string }[] = [
      { path: '/trickle', want: 'upstream-timeout', details: 'upstream_response_timeout' },
      { path: '/reset', want: 'upstream-reset', details: 'upstream_reset_after_response_started{connection_termination}' },
    ];
    for (const c of cases) {
      const before = await scrape();
      const { answer, id, line } = await rawLogged(`GET ${c.path} HTTP/1.1\r\nHost: ${host}\r\n\r\n`, 200, c.path);
      assert.equal(line['response-code-details'], c.details, c.path);
      if (c.want === 'upstream-reset') assert.equal(line.size, 1000, 'size: the body bytes relayed before the cut');
      if (c.want === 'upstream-timeout') {
        assert.ok(!answer.endsWith('0\r\n\r\n'), 'the chunked body never ended: it was cut');
        assert.ok(Number(line.duration) < 2500, `cut at the route timeout, not when the upstream finished (${String(line.duration)} ms)`);
      }
      const warned = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.message === 'upstream failed' && l.requestId === id);
      assert.equal(warned?.reason, c.want, `${c.path}: warned`);
      const after = await scrape();
      assert.equal(sample(after, 'limen_upstream_duration_seconds_count', { route: 'flaky' }) - sample(before, 'limen_upstream_duration_seconds_count', { route: 'flaky' }), 1, c.path);
    }
  });

  // Regression: the access line of a 502 or 504 had no upstream-cluster, the warning no upstream and the
  // upstream span no peer, although the runbook for slow or failing requests starts from them.
  test('an upstream that fails before answering is named in the access line, the warning and the span', async () => {
    const flakyOrigin = `http://127.0.0.1:${(flaky.address() as { port: number }).port}`;
    const cases: { path: string; status: number; want: string; details: string }[] = [
      { path: '/silent', status: 504, want: 'upstream-timeout', details: 'upstream_response_timeout' },
      { path: '/drop', status: 502, want: 'upstream-reset', details: 'upstream_reset_before_response_started{connection_termination}' },
    ];
    for (const c of cases) {
      const { id, line } = await rawLogged(`GET ${c.path} HTTP/1.1\r\nHost: flaky.localhost:${s.port}\r\nAccept: application/json\r\nConnection: close\r\n\r\n`, c.status, c.path);
      assert.equal(line['response-code-details'], c.details, c.path);
      assert.equal(line['upstream-cluster'], flakyOrigin, c.path);
      const warned = lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.message === 'upstream failed' && l.requestId === id);
      assert.deepEqual([warned?.reason, warned?.upstream], [c.want, flakyOrigin], c.path);
    }
  });

  test('access_log_fields and authorize_log_fields apply on reload, and back', async () => {
    const cases: { fields: Record<string, string[]>; access: string[] | undefined; authorize: boolean }[] = [
      { fields: { access_log_fields: ['request-id', 'query'], authorize_log_fields: [] }, access: ['request-id', 'query'], authorize: false },
      { fields: { access_log_fields: [], authorize_log_fields: ['request-id'] }, access: undefined, authorize: true },
      // Back to the start: a public request without a referer, a user agent, a client certificate or a caller has every field
      // (Pomerium's as "" or {}) but Limen's user and email; headers.<name> make `headers`.
      { fields: logFields, access: ['method', 'authority', 'path', 'query', 'referer', 'response-code', 'response-code-details', 'duration', 'size', 'request-id', 'upstream-cluster', 'user-agent', 'ip', 'forwarded-for', 'client-certificate', 'route-id', 'headers'], authorize: true },
    ];
    for (const c of cases) {
      const result = await s.limen.reload(s.configWith(routes, c.fields));
      assert.deepEqual(result.restartRequired, [], JSON.stringify(c.fields));
      const id = (await request(`${s.origin('public')}/r?x=1`, { headers: JSON_ACCEPT })).header('x-request-id');
      const marker = await request(`${s.origin('public')}/marker`, { headers: JSON_ACCEPT }); // its lines come after the first request's
      await lineFor(lines, c.access ? 'http-request' : 'authorize check', marker.header('x-request-id'));
      const ofRequest = (msg: string) => lines.map((l) => JSON.parse(l) as Record<string, unknown>).filter((l) => l.message === msg && l['request-id'] === id);
      const access = ofRequest('http-request');
      assert.deepEqual(access.map((l) => Object.keys(l).filter((k) => !['level', 'service', 'time', 'message'].includes(k)).sort()), c.access ? [[...c.access].sort()] : [], JSON.stringify(c.fields));
      assert.equal(ofRequest('authorize check').length, c.authorize ? 1 : 0, JSON.stringify(c.fields));
    }
  });

  test('with tracing off, the OpenTelemetry SDK is never loaded', () => {
    // The SDK is CommonJS: once imported it sits in the require cache (test/tracing.test.ts loads it, this file must not).
    const cache = createRequire(import.meta.url).cache;
    assert.deepEqual(Object.keys(cache).filter((k) => /@opentelemetry\/(sdk-trace|exporter-trace|otlp)/.test(k)), []);
  });
});

describe('the Grafana dashboard', () => {
  test('every expression names only metrics Limen exports', () => {
    const dash = JSON.parse(readFileSync(new URL('../docs/grafana-dashboard.json', import.meta.url), 'utf8')) as unknown;
    const exprs: string[] = [];
    const walk = (v: unknown): void => {
      if (Array.isArray(v)) v.forEach(walk);
      else if (v && typeof v === 'object') for (const [k, x] of Object.entries(v)) { if (k === 'expr' && typeof x === 'string') exprs.push(x); else walk(x); }
    };
    walk(dash);
    assert.ok(exprs.length >= 10, 'the dashboard has panels');
    const m = new Metrics({ version: 'test' });
    const names = new Set<string>();
    for (const n of m.metricNames()) for (const suffix of ['', '_bucket', '_sum', '_count']) names.add(n + suffix);
    const FUNCS = new Set(['sum', 'rate', 'irate', 'increase', 'by', 'without', 'histogram_quantile', 'le', 'topk', 'max', 'min', 'avg', 'count', 'on', 'ignoring', 'group_left', 'clamp_min', 'time', 'or', 'and', 'unless', 'offset', 'bool', 'delta', 'deriv', 'vector', 'label_replace', 'abs']);
    for (const e of exprs) {
      const bare = e.replace(/\{[^}]*\}/g, '').replace(/\[[^\]]*\]/g, '').replace(/"[^"]*"/g, '').replace(/\$\w+/g, '');
      const idents = bare.match(/[a-zA-Z_:][a-zA-Z0-9_:]*/g) ?? [];
      const metricsUsed = idents.filter((i) => !FUNCS.has(i) && !/^\d/.test(i) && !/^(route|method|status_class|result|reason|operation|kind|instance|job|version|nodejs_version)$/.test(i));
      assert.ok(metricsUsed.length > 0, `expression names a metric: ${e}`);
      for (const name of metricsUsed) assert.ok(names.has(name), `${name} (in ${e}) is not exported by Limen`);
    }
  });
});
