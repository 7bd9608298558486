/**
 * Issue 12, tracing: an OTLP/HTTP receiver started here gets a span per
 * request with children for identify, policy, signing and the upstream
 * call, continuing the client's W3C traceparent; the upstream gets a
 * traceparent naming Limen's upstream span.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { CookieJar, closeHttpAgents, request, scriptedLogin } from './support/index.js';
import { startStack, type Stack } from './stack.js';
import { parseConfig } from '../src/config/index.js';
import { createOtelTracer } from '../src/observe/otel.js';
import { createLogger } from '../src/log/index.js';

interface OtlpSpan {
  traceId: string; spanId: string; parentSpanId?: string; name: string; kind: number; attributes: { key: string; value: Record<string, unknown> }[];
  status?: { code?: number; message?: string };
}
interface Received { path: string; contentType: string; body: Buffer; headers: IncomingMessage['headers'] }

async function startReceiver(): Promise<{ url: string; got: Received[]; server: Server }> {
  const got: Received[] = [];
  const server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      got.push({ path: req.url ?? '', contentType: String(req.headers['content-type']), body: Buffer.concat(chunks), headers: req.headers });
      res.writeHead(200, { 'content-type': String(req.headers['content-type']) });
      res.end(req.headers['content-type'] === 'application/json' ? '{}' : '');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, got, server };
}

function spansOf(got: Received[]): OtlpSpan[] {
  const out: OtlpSpan[] = [];
  for (const g of got) {
    if (g.contentType !== 'application/json') continue;
    const doc = JSON.parse(g.body.toString('utf8')) as { resourceSpans: { scopeSpans: { spans: OtlpSpan[] }[] }[] };
    for (const rs of doc.resourceSpans) for (const ss of rs.scopeSpans) out.push(...ss.spans);
  }
  return out;
}

async function waitFor<T>(f: () => T | undefined, what: string, ms = 20_000): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = f();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('tracing over OTLP/HTTP', () => {
  let s: Stack;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  before(async () => {
    receiver = await startReceiver();
    s = await startStack({
      config: {
        otel_traces_exporter: 'otlp',
        otel_exporter_otlp_endpoint: receiver.url,
        otel_exporter_otlp_protocol: 'http/json',
        otel_bsp_schedule_delay: '100',
        otel_service_name: 'limen-under-test',
      },
      routes: [{ name: 'app', from: 'http://app.localhost:PORT', to: 'UPSTREAM', allow_any_authenticated_user: true }],
    });
  });
  after(async () => {
    await s.close();
    await closeHttpAgents();
    receiver.server.close();
  });

  test('a request span continues the client\'s traceparent, with children, and the upstream gets Limen\'s', async () => {
    const jar = new CookieJar();
    await scriptedLogin(`${s.origin('app')}/`, 'ada@example.com', { jar });
    const traceId = '4bf92f3577b34da6a3ce929d0e0e4736';
    const clientSpan = '00f067aa0ba902b7';
    const res = await request(`${s.origin('app')}/headers`, { jar, headers: { accept: 'application/json', traceparent: `00-${traceId}-${clientSpan}-01` } });
    assert.equal(res.status, 200);
    const upstreamTp = String(res.json<{ headers: Record<string, string> }>().headers.traceparent);
    const m = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/.exec(upstreamTp);
    assert.ok(m, `upstream traceparent: ${upstreamTp}`);
    assert.equal(m[1], traceId, 'same trace');
    assert.notEqual(m[2], clientSpan, 'parent is Limen\'s span, not the client\'s');

    const spans = await waitFor(() => {
      const all = spansOf(receiver.got).filter((x) => x.traceId === traceId);
      return all.length >= 5 ? all : undefined;
    }, 'five spans of the trace');
    const server = spans.find((x) => x.parentSpanId === clientSpan);
    assert.ok(server, 'a server span whose parent is the client\'s span');
    assert.equal(server.kind, 2, 'SERVER');
    assert.equal(server.name, 'GET app');
    const children = spans.filter((x) => x.parentSpanId === server.spanId);
    assert.deepEqual(children.map((c) => c.name).sort(), ['limen.identify', 'limen.policy', 'limen.sign', 'limen.upstream']);
    const upstream = children.find((c) => c.name === 'limen.upstream')!;
    assert.equal(upstream.kind, 3, 'CLIENT');
    assert.equal(m[2], upstream.spanId, 'the upstream\'s parent is the upstream span');
    // The peer and its answer, as OTel's HTTP client conventions name them (regression: the span had no attributes).
    const attr = (k: string) => { const v = upstream.attributes.find((a) => a.key === k)?.value; return v?.stringValue ?? (v?.intValue !== undefined ? Number(v.intValue) : undefined); };
    assert.equal(attr('http.request.method'), 'GET');
    assert.equal(attr('server.address'), '127.0.0.1');
    assert.equal(attr('server.port'), Number(new URL(s.upstreamUrl).port));
    assert.equal(attr('http.response.status_code'), 200);
    assert.ok(receiver.got.every((g) => g.path === '/v1/traces'));
  });

  test('requests with a body have their server span, parent of their children (Node.js lets go of their socket first)', async () => {
    const jar = new CookieJar();
    await scriptedLogin(`${s.origin('app')}/`, 'grace@example.com', { jar });
    for (const method of ['POST', 'PUT']) {
      const traceId = method === 'POST' ? '5bf92f3577b34da6a3ce929d0e0e4737' : '6bf92f3577b34da6a3ce929d0e0e4738';
      const res = await request(`${s.origin('app')}/form`, { method, jar, body: 'a=b', headers: { accept: 'application/json', traceparent: `00-${traceId}-00f067aa0ba902b7-01` } });
      assert.equal(res.status, 200, method);
      const spans = await waitFor(() => {
        const all = spansOf(receiver.got).filter((x) => x.traceId === traceId);
        return all.some((x) => x.kind === 2) && all.length >= 5 ? all : undefined;
      }, `the server span and its children for ${method}`);
      const server = spans.find((x) => x.kind === 2)!;
      assert.equal(server.name, `${method} app`);
      assert.equal(spans.filter((x) => x.parentSpanId === server.spanId).length, 4, `${method}: identify, policy, sign, upstream`);
    }
  });

  // Regression: a sign-in refused at the callback left its span with status Unset and no reason, though
  // docs/operations.md ("When sign-in fails") sends operators to the trace of the failed callback.
  test('a sign-in refused at the callback is an error on its span, described by the reason, without the query; a route\'s 4xx carries its reason, status Unset', async () => {
    /** A sign-in started at the app as a browser, up to the IdP: the jar holds the CSRF cookie, the state is the IdP URL's. */
    const started = async (jar: CookieJar): Promise<string> => {
      let url = `${s.origin('app')}/`;
      for (let i = 0; i < 8; i++) {
        const res = await request(url, { jar, headers: { accept: 'text/html' } });
        assert.equal(res.status, 302, url);
        const next = new URL(res.header('location')!, url);
        if (next.origin === new URL(s.idpUrl).origin) return next.searchParams.get('state')!;
        url = next.href;
      }
      assert.fail('no redirect to the IdP');
    };
    const forgedState = await started(new CookieJar());
    const validJar = new CookieJar();
    const validState = await started(validJar);
    const refusedJar = new CookieJar();
    const refusedState = await started(refusedJar);
    const cases: { name: string; query: string; jar?: CookieJar; status: number; reason: string }[] = [
      { name: 'a forged code with a valid state', query: `code=forged-code-1234&state=${validState}`, jar: validJar, status: 401, reason: 'idp-exchange-failed' },
      { name: 'the IdP refusing', query: `error=access_denied&error_description=no-way&state=${refusedState}`, jar: refusedJar, status: 401, reason: 'idp-error' },
      { name: 'no CSRF cookie', query: `code=forged-code-5678&state=${forgedState}`, status: 400, reason: 'csrf-cookie-missing' },
    ];
    for (const c of cases) {
      const before = receiver.got.length;
      const res = await request(`${s.authOrigin}/oauth2/callback?${c.query}`, { ...(c.jar ? { jar: c.jar } : {}), headers: { accept: 'application/json' } });
      assert.equal(res.status, c.status, c.name);
      assert.deepEqual(res.json<{ reasons: string[] }>().reasons, [c.reason], c.name);
      const id = res.header('x-request-id');
      const span = await waitFor(() => spansOf(receiver.got.slice(before)).find((x) => x.attributes.some((a) => a.key === 'limen.request_id' && a.value.stringValue === id)), `the span of ${c.name}`);
      assert.equal(span.kind, 2, 'SERVER');
      assert.equal(span.status?.code, 2, `${c.name}: status ERROR`);
      assert.equal(span.status?.message, c.reason, `${c.name}: described by the reason`);
      assert.equal(span.attributes.find((a) => a.key === 'limen.reason')?.value.stringValue, c.reason, c.name);
      const text = JSON.stringify(span);
      for (const secret of ['forged-code', validState, forgedState, refusedState, 'no-way']) assert.ok(!text.includes(secret), `${c.name}: nothing of the query on the span`);
    }

    // A route's refusal is the client's error: its reason on the span, status left Unset (OTel HTTP conventions for a SERVER span's 4xx).
    const before = receiver.got.length;
    const refused = await request(`${s.origin('app')}/`, { headers: { accept: 'application/json' } });
    assert.equal(refused.status, 401);
    const id = refused.header('x-request-id');
    const span = await waitFor(() => spansOf(receiver.got.slice(before)).find((x) => x.attributes.some((a) => a.key === 'limen.request_id' && a.value.stringValue === id)), 'the span of the refused request');
    assert.equal(span.attributes.find((a) => a.key === 'limen.reason')?.value.stringValue, 'user-unauthenticated');
    assert.equal(span.status?.code ?? 0, 0, 'status Unset');

    // An ambiguous request, refused before any route: its reason too.
    const mark = receiver.got.length;
    const ambiguous = await request(`${s.origin('app')}/a%2Fb`, { headers: { accept: 'application/json' } });
    assert.equal(ambiguous.status, 400);
    const reason = ambiguous.json<{ reasons: string[] }>().reasons[0];
    const aid = ambiguous.header('x-request-id');
    const aspan = await waitFor(() => spansOf(receiver.got.slice(mark)).find((x) => x.attributes.some((a) => a.key === 'limen.request_id' && a.value.stringValue === aid)), 'the span of the ambiguous request');
    assert.equal(aspan.attributes.find((a) => a.key === 'limen.reason')?.value.stringValue, reason);
  });

  // Regression: a request the HTTP parser refused was counted and logged but had no span.
  test('a request that does not parse has its span, named HTTP, with the reason of its 400', async () => {
    const before = receiver.got.length;
    const answer = await new Promise<string>((resolve) => {
      const sock = connect(s.port, '127.0.0.1', () => sock.write('GARBAGE\r\n\r\n'));
      let data = '';
      sock.on('data', (d: Buffer) => { data += d.toString('latin1'); });
      sock.on('close', () => resolve(data));
      sock.on('error', () => resolve(data));
    });
    assert.match(answer, /^HTTP\/1\.1 400 /);
    const id = /\r\nx-request-id: ([^\r]+)\r\n/i.exec(answer)?.[1];
    const span = await waitFor(() => spansOf(receiver.got.slice(before)).find((x) => x.attributes.some((a) => a.key === 'limen.request_id' && a.value.stringValue === id)), 'the span of the refused request');
    assert.equal(span.name, 'HTTP');
    assert.equal(span.kind, 2, 'SERVER');
    assert.equal(span.attributes.find((a) => a.key === 'limen.reason')?.value.stringValue, 'request-malformed');
    assert.equal(span.status?.code ?? 0, 0, 'a 4xx: status Unset');
  });

  test('a request without traceparent starts a new trace', async () => {
    const before = receiver.got.length;
    const res = await request(`${s.origin('app')}/`, { headers: { accept: 'application/json' } });
    assert.equal(res.status, 401);
    const id = res.header('x-request-id');
    const span = await waitFor(() => spansOf(receiver.got.slice(before)).find((x) => x.attributes.some((a) => a.key === 'limen.request_id' && a.value.stringValue === id)), 'the span of the refused request');
    assert.equal(span.parentSpanId ?? '', '');
  });
});

describe('tracing configuration', () => {
  test('the standard OTEL_* variables alone turn tracing on', () => {
    const base = { shared_secret: Buffer.alloc(32, 1).toString('base64'), cookie_secret: Buffer.alloc(32, 2).toString('base64'), insecure_server: true, authenticate_service_url: 'http://auth.localhost', idp_provider_url: 'http://idp.localhost', idp_client_id: 'x' };
    const off = parseConfig(base, {});
    assert.equal(off.otelTracesExporter, 'none');
    const on = parseConfig(base, {
      OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://collector:4318/v1/traces', OTEL_SERVICE_NAME: 'edge',
      OTEL_TRACES_SAMPLER: 'traceidratio', OTEL_TRACES_SAMPLER_ARG: '0.25', OTEL_EXPORTER_OTLP_HEADERS: 'Authorization=Bearer abc',
      OTEL_EXPORTER_OTLP_TIMEOUT: '3000', OTEL_RESOURCE_ATTRIBUTES: 'deployment.environment=prod',
    });
    assert.equal(on.otelTracesExporter, 'otlp');
    assert.equal(on.otelServiceName, 'edge');
    assert.equal(on.otelTracesSampler, 'traceidratio');
    assert.equal(on.otelTracesSamplerArg, 0.25);
    assert.deepEqual(on.otelExporterOtlpHeaders, { Authorization: 'Bearer abc' });
    assert.equal(on.otelExporterOtlpTracesTimeoutMs, 3000);
    assert.deepEqual(on.otelResourceAttributes, { 'deployment.environment': 'prod' });
    assert.equal(parseConfig(base, { OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://c:4318' }).otelTracesExporter, 'none');
    for (const [k, v, want] of [
      ['OTEL_EXPORTER_OTLP_PROTOCOL', 'grpc', /not supported/],
      ['OTEL_TRACES_SAMPLER_ARG', '2', /from 0 to 1/],
      ['OTEL_TRACES_EXPORTER', 'zipkin', /expected one of/],
      ['OTEL_EXPORTER_OTLP_ENDPOINT', 'collector:4318', /URL/],
    ] as const) {
      assert.throws(() => parseConfig(base, { [k]: v }), (e: Error) => want.test(e.message), `${k}=${v}`);
    }
  });

  test('the default protocol sends protobuf to <endpoint>/v1/traces, with the decoded headers and resource attributes', async () => {
    const receiver = await startReceiver();
    try {
      const base = { shared_secret: Buffer.alloc(32, 1).toString('base64'), cookie_secret: Buffer.alloc(32, 2).toString('base64'), insecure_server: true, authenticate_service_url: 'http://auth.localhost', idp_provider_url: 'http://idp.localhost', idp_client_id: 'x' };
      const c = parseConfig(base, {
        OTEL_EXPORTER_OTLP_ENDPOINT: receiver.url + '/', OTEL_EXPORTER_OTLP_HEADERS: 'x-tenant=a%20b', OTEL_EXPORTER_OTLP_TRACES_HEADERS: 'x-only=t%2Fone',
        OTEL_RESOURCE_ATTRIBUTES: 'service.name=from%20attributes,team=blue%20team',
      });
      const tracer = createOtelTracer(c);
      const fake = { method: 'GET', headers: { host: 'x' } } as unknown as IncomingMessage;
      const span = tracer.startRequest(fake);
      span.phase('limen.policy').end();
      span.end({ 'limen.route': 'r' }, false);
      await tracer.close();
      assert.equal(receiver.got.length, 1);
      assert.equal(receiver.got[0]!.path, '/v1/traces');
      assert.equal(receiver.got[0]!.contentType, 'application/x-protobuf');
      assert.ok(receiver.got[0]!.body.includes(Buffer.from('limen.policy')), 'the span name is in the protobuf body');
      assert.equal(receiver.got[0]!.headers['x-tenant'], 'a b');
      assert.equal(receiver.got[0]!.headers['x-only'], 't/one');
      for (const v of ['from attributes', 'blue team']) assert.ok(receiver.got[0]!.body.includes(Buffer.from(v)), `resource attribute value ${v}`);
    } finally {
      receiver.server.close();
    }
  });

  // How often it is told (at most once a minute) is src/observe/otel.test.ts's, on a frozen clock.
  test('a collector that cannot be reached is told in the log, without the export headers', async () => {
    const dead = await startReceiver();
    dead.server.close();
    const lines: string[] = [];
    const base = { shared_secret: Buffer.alloc(32, 1).toString('base64'), cookie_secret: Buffer.alloc(32, 2).toString('base64'), insecure_server: true, authenticate_service_url: 'http://auth.localhost', idp_provider_url: 'http://idp.localhost', idp_client_id: 'x' };
    const c = parseConfig(base, { OTEL_EXPORTER_OTLP_ENDPOINT: dead.url, OTEL_EXPORTER_OTLP_HEADERS: 'api-key=collector-secret-123', OTEL_BSP_SCHEDULE_DELAY: '100' });
    const tracer = createOtelTracer(c, createLogger('info', (l) => { lines.push(l); }));
    try {
      const span = tracer.startRequest({ method: 'GET', headers: { host: 'x' } } as unknown as IncomingMessage);
      span.end({ 'limen.route': 'r' }, false);
      await waitFor(() => (lines.length > 0 ? true : undefined), 'the export failure line');
      const line = JSON.parse(lines[0]!) as Record<string, unknown>;
      assert.equal(line.level, 'warn');
      assert.equal(line.message, 'trace export failed; spans are being lost');
      assert.match(String(line.error), /ECONNREFUSED/);
      assert.ok(!lines[0]!.includes('collector-secret-123'));
    } finally {
      await tracer.close();
    }
  });
});
