import { describe, mock, test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage, ServerResponse } from 'node:http';
import fc from 'fast-check';
import { parseConfig, type Config } from '../config/index.js';
import type { Caller } from '../authn/index.js';
import { AccessLog, canonicalHeaderKey, millisText, routeChecksum } from './access-log.js';
import { lineDestination, type LineDestination, type LineMaker } from './line-sink.js';

const config = parseConfig({
  shared_secret: Buffer.alloc(32, 1).toString('base64'), cookie_secret: Buffer.alloc(32, 2).toString('base64'),
  insecure_server: true, authenticate_service_url: 'http://auth.localhost', idp_provider_url: 'http://idp.localhost', idp_client_id: 'x',
  access_log_fields: ['authority', 'duration', 'path', 'query', 'request-id', 'user-agent', 'email', 'headers.x-note'],
  authorize_log_fields: ['check-request-id', 'email', 'host', 'path', 'request-id', 'user', 'headers.x-note'],
  routes: [{ from: 'http://app.localhost', to: 'http://127.0.0.1:9', allow_any_authenticated_user: true }],
}, {});
const route = config.routes[0]!;

interface Values {
  readonly host: string;
  readonly path: string;
  readonly query: string;
  readonly agent: string;
  readonly email: string;
  readonly note: string;
  readonly user: string;
}

function request(v: Values): IncomingMessage {
  const headers = { 'host': v.host, 'user-agent': v.agent, 'x-note': v.note };
  return { method: 'GET', url: `${v.path}?${v.query}`, headers, socket: { remoteAddress: '127.0.0.1' } } as unknown as IncomingMessage;
}

function caller(v: Values): Caller {
  return { kind: 'session', policy: { user: v.user, email: v.email, sessionId: 's1', groups: [] }, session: { id: 's1', claims: {} } } as unknown as Caller;
}

/** Both lines of one request, as written to `destination`. */
function logRequest(log: AccessLog, v: Values, requestId: string, durationMs: number): void {
  const req = request(v);
  log.decision({ req, requestId, config, route, result: 'allow', byDenyRule: false, reasons: ['allowed'], caller: caller(v), ip: '127.0.0.1' });
  log.access({
    req, res: {} as ServerResponse, socket: req.socket, peer: req.socket.remoteAddress, requestId, durationMs, status: 200, config, route, upstream: 'http://127.0.0.1:9',
    caller: caller(v), details: 'via_upstream', bytes: 10, ip: '127.0.0.1',
  });
}

/** A destination that takes ASCII lines, as the batching sink does, and checks they are ASCII. */
function asciiDestination(lines: string[]): LineDestination {
  return {
    write: (l) => lines.push(l),
    writeAscii: (l) => {
      assert.match(l, /^[\x00-\x7f]*$/, 'a line given as ASCII is ASCII');
      lines.push(l);
    },
  };
}

const anyText = fc.string({ unit: 'binary', maxLength: 40 });

describe('access and authorize lines', () => {
  test('any text in any field: every line is ASCII JSON holding exactly the value sent', () => {
    fc.assert(fc.property(fc.record({ host: anyText, path: anyText, query: fc.constant(''), agent: anyText, email: anyText, note: anyText, user: anyText }), (v) => {
      const lines: string[] = [];
      logRequest(new AccessLog(asciiDestination(lines)), v, 'id-1', 1.5);
      assert.equal(lines.length, 2);
      const [decision, access] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
      assert.equal(decision!.host, v.host);
      assert.equal(decision!.path, v.path);
      assert.equal(decision!.email, v.email); // "" when there is none, as Pomerium writes it
      assert.equal(decision!.user, v.user);
      assert.deepEqual(decision!.headers, { 'X-Note': v.note }); // Go's canonical names, as Pomerium's authorize log has them
      assert.equal(access!.authority, v.host);
      assert.equal(access!['user-agent'], v.agent);
      assert.deepEqual(access!.headers, { 'x-note': v.note });
    }), { numRuns: 300 });
  });

  test('a destination without writeAscii gets the same lines through write', () => {
    const v: Values = { host: 'app.localhost', path: '/ünï', query: 'q=✓', agent: 'curl', email: 'é@example.com', note: '😀', user: 'u' };
    const plain: string[] = [];
    const ascii: string[] = [];
    logRequest(new AccessLog(lineDestination((l) => plain.push(l))), v, 'id-2', 2);
    logRequest(new AccessLog(asciiDestination(ascii)), v, 'id-2', 2);
    const strip = (l: string) => { const o = JSON.parse(l) as Record<string, unknown>; delete o.time; return o; };
    assert.deepEqual(plain.map(strip), ascii.map(strip));
    assert.equal((JSON.parse(plain[1]!) as { path: string }).path, '/ünï');
  });

  test('the request id is written in both lines, each request its own', () => {
    const lines: string[] = [];
    const log = new AccessLog(asciiDestination(lines));
    const v: Values = { host: 'h', path: '/', query: '', agent: 'a', email: 'e', note: 'n', user: 'u' };
    for (const id of ['a1', 'a1', 'b"2', 'c3']) logRequest(log, v, id, 1);
    const ids = lines.map((l) => JSON.parse(l) as Record<string, unknown>).map((o) => [o['request-id'], o['check-request-id']]);
    assert.deepEqual(ids, [['a1', 'a1'], ['a1', undefined], ['a1', 'a1'], ['a1', undefined], ['b"2', 'b"2'], ['b"2', undefined], ['c3', 'c3'], ['c3', undefined]]);
  });
});

/** A destination that makes lines later, as the batching sink does: when `make()` is called, with the time each was given. */
function laterDestination(lines: string[]): LineDestination & { given: number; make(): void } {
  let waiting: [LineMaker<unknown>, unknown, number][] = [];
  const d = asciiDestination(lines);
  return {
    ...d,
    given: 0,
    writeLater<F>(maker: LineMaker<F>, facts: F): void {
      this.given++;
      waiting.push([maker as LineMaker<unknown>, facts, Date.now()]);
    },
    make(): void {
      const w = waiting;
      waiting = [];
      for (const [maker, facts, time] of w) { const l = maker.makeLine(facts, time); if (l !== undefined) d.writeAscii!(l); }
    },
  };
}

describe('lines made later, from the facts (the batching sink)', () => {
  test('the same lines as made at once, with the time the facts were given', () => {
    mock.timers.enable({ apis: ['Date'], now: Date.UTC(2026, 11, 7, 12, 0, 0, 5) });
    try {
      fc.assert(fc.property(fc.array(fc.record({ host: anyText, path: anyText, query: anyText, agent: anyText, email: anyText, note: anyText, user: anyText }), { minLength: 1, maxLength: 4 }), (vs) => {
        const now: string[] = [];
        const later: string[] = [];
        const atOnce = new AccessLog(asciiDestination(now));
        const dest = laterDestination(later);
        const log = new AccessLog(dest);
        const start = Date.now();
        vs.forEach((v, i) => {
          logRequest(atOnce, v, `id-${i}`, i + 0.25);
          logRequest(log, v, `id-${i}`, i + 0.25);
          mock.timers.tick(3);
        });
        assert.deepEqual(later, [], 'nothing made while the facts are given');
        assert.equal(dest.given, 2 * vs.length);
        mock.timers.tick(1_000);
        dest.make();
        assert.deepEqual(later, now);
        assert.equal(JSON.parse(later[0]!).time, new Date(start).toISOString());
      }), { numRuns: 100 });
    } finally {
      mock.timers.reset();
    }
  });

  test('with client-certificate in the access fields, the access line is made at once (the connection may close before later)', () => {
    const c = parseConfig({
      shared_secret: Buffer.alloc(32, 1).toString('base64'), cookie_secret: Buffer.alloc(32, 2).toString('base64'),
      insecure_server: true, authenticate_service_url: 'http://auth.localhost', idp_provider_url: 'http://idp.localhost', idp_client_id: 'x',
      access_log_fields: ['request-id', 'client-certificate'], authorize_log_fields: ['request-id'],
      routes: [{ from: 'http://app.localhost', to: 'http://127.0.0.1:9', allow_any_authenticated_user: true }],
    }, {});
    const lines: string[] = [];
    const dest = laterDestination(lines);
    const log = new AccessLog(dest);
    let open = true;
    const socket = { remoteAddress: '127.0.0.1', getPeerCertificate: () => (open ? { subject: { CN: 'client' }, fingerprint256: 'AB:CD' } : null) } as unknown as IncomingMessage['socket'];
    const req = { method: 'GET', url: '/', headers: { host: 'app.localhost' }, socket } as unknown as IncomingMessage;
    log.decision({ req, requestId: 'r1', config: c, route: c.routes[0]!, result: 'allow', byDenyRule: false, reasons: ['allowed'], caller: null, ip: '127.0.0.1' });
    log.access({ req, res: {} as ServerResponse, socket, peer: '127.0.0.1', requestId: 'r1', durationMs: 1, status: 200, config: c, route: c.routes[0], upstream: undefined, caller: null, details: 'via_upstream', bytes: 0 });
    open = false;
    assert.equal(dest.given, 1, 'only the authorize line is left to be made');
    assert.equal(lines.length, 1);
    assert.deepEqual((JSON.parse(lines[0]!) as { 'client-certificate': unknown })['client-certificate'], { subject: { CN: 'client' }, fingerprint256: 'AB:CD' });
    dest.make();
    assert.equal((JSON.parse(lines[1]!) as { message: string }).message, 'authorize check');
  });
});

describe('health checks (/ping, /healthz) in the access log', () => {
  const withLevel = (level: string): Config => parseConfig({
    shared_secret: Buffer.alloc(32, 1).toString('base64'), cookie_secret: Buffer.alloc(32, 2).toString('base64'),
    insecure_server: true, authenticate_service_url: 'http://auth.localhost', idp_provider_url: 'http://idp.localhost', idp_client_id: 'x',
    log_level: level, access_log_fields: ['path'],
    routes: [{ from: 'http://app.localhost', to: 'http://127.0.0.1:9', allow_any_authenticated_user: true }],
  }, {});
  const cases: [string, string, string | undefined][] = [
    ['info', '/ping', undefined], ['info', '/healthz?x=1', undefined], ['info', '/pingx', 'info'],
    ['debug', '/ping', 'debug'], ['debug', '/healthz', 'debug'], ['debug', '/app', 'info'],
  ];
  for (const [level, url, want] of cases) {
    for (const later of [false, true]) {
      test(`log_level ${level}, ${url}, made ${later ? 'later' : 'at once'}: ${want ?? 'no line'}`, () => {
        const c = withLevel(level);
        const lines: string[] = [];
        const dest = later ? laterDestination(lines) : asciiDestination(lines);
        const req = { method: 'GET', url, headers: { host: 'app.localhost' }, socket: { remoteAddress: '127.0.0.1' } } as unknown as IncomingMessage;
        new AccessLog(dest).access({ req, res: {} as ServerResponse, socket: req.socket, peer: '127.0.0.1', requestId: 'r1', durationMs: 1, status: 200, config: c, route: c.routes[0], upstream: undefined, caller: null, details: 'limen_response', bytes: 2 });
        if (later) (dest as ReturnType<typeof laterDestination>).make();
        assert.deepEqual(lines.map((l) => (JSON.parse(l) as { level: string }).level), want === undefined ? [] : [want]);
      });
    }
  }
});

describe('header names in the authorize line, as Go writes them', () => {
  const cases: [string, string][] = [
    ['x-foo', 'X-Foo'], ['user-agent', 'User-Agent'], ['host', 'Host'], ['x-forwarded-for', 'X-Forwarded-For'], ['www-authenticate', 'Www-Authenticate'],
    ['x-b3-traceid', 'X-B3-Traceid'], ['dnt', 'Dnt'], ['x--double', 'X--Double'], ['-lead', '-Lead'], ['x_under', 'X_under'],
    ['with space', 'with space'], ['', ''],
  ];
  for (const [name, want] of cases) test(JSON.stringify(name), () => { assert.equal(canonicalHeaderKey(name), want); });
});

describe('fields Pomerium always writes', () => {
  // Its access log writes these strings whatever they hold, and its authorize log `user` and `email`; a
  // pipeline's schema may require them. `removed-groups-count` only when groups were removed.
  test('present as "" (or {}) when the request has nothing for them', () => {
    const c = parseConfig({
      shared_secret: Buffer.alloc(32, 1).toString('base64'), cookie_secret: Buffer.alloc(32, 2).toString('base64'),
      insecure_server: true, authenticate_service_url: 'http://auth.localhost', idp_provider_url: 'http://idp.localhost', idp_client_id: 'x',
      access_log_fields: ['authority', 'method', 'path', 'referer', 'upstream-cluster', 'user-agent', 'client-certificate'],
      routes: [{ from: 'http://app.localhost', to: 'http://127.0.0.1:9', allow_any_authenticated_user: true }],
    }, {});
    const lines: string[] = [];
    const log = new AccessLog(lineDestination((l) => lines.push(l)));
    const req = { method: 'GET', url: '/x', headers: { host: 'app.localhost' }, socket: { remoteAddress: '127.0.0.1' } } as unknown as IncomingMessage;
    log.decision({ req, requestId: 'r1', config: c, route: c.routes[0]!, result: 'login', byDenyRule: false, reasons: ['user-unauthenticated'], caller: null, ip: '127.0.0.1' });
    log.access({ req, res: {} as ServerResponse, socket: req.socket, peer: '127.0.0.1', requestId: 'r1', durationMs: 1, status: 302, config: c, route: c.routes[0], upstream: undefined, caller: null, details: 'ext_authz_denied', bytes: 0 });
    const [decision, access] = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual([decision!.user, decision!.email], ['', '']);
    assert.ok(!('removed-groups-count' in decision!), 'no groups were removed');
    assert.deepEqual(
      Object.fromEntries(['authority', 'method', 'path', 'referer', 'upstream-cluster', 'user-agent', 'client-certificate'].map((k) => [k, access![k]])),
      { 'authority': 'app.localhost', 'method': 'GET', 'path': '/x', 'referer': '', 'upstream-cluster': '', 'user-agent': '', 'client-certificate': {} },
    );
  });
});

describe('access lines after Node.js let go of the request\'s socket', () => {
  // Every default field (Pomerium's and Limen's), on a request whose `req.socket` is gone by the time its response closed (a request with a body).
  const defaults = parseConfig({
    shared_secret: Buffer.alloc(32, 1).toString('base64'), cookie_secret: Buffer.alloc(32, 2).toString('base64'),
    insecure_server: true, authenticate_service_url: 'http://auth.localhost', idp_provider_url: 'http://idp.localhost', idp_client_id: 'x',
    xff_num_trusted_hops: 1,
    routes: [{ from: 'http://app.localhost', to: 'http://127.0.0.1:9', allow_any_authenticated_user: true }],
  }, {});
  const socket = { remoteAddress: '10.0.0.7', bytesWritten: 0 } as unknown as IncomingMessage['socket'];
  const cases: { name: string; xff?: string; ip?: string; want: Record<string, unknown> }[] = [
    { name: 'default fields, the decision\'s client address', ip: '192.0.2.1', want: { 'forwarded-for': '10.0.0.7', 'ip': '192.0.2.1' } },
    { name: 'no decision: the address is worked out from the connection taken at the start', want: { 'forwarded-for': '10.0.0.7', 'ip': '10.0.0.7' } },
    { name: 'a forwarded chain and a trusted hop', xff: '198.51.100.4', want: { 'forwarded-for': '198.51.100.4, 10.0.0.7', 'ip': '198.51.100.4' } },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const lines: string[] = [];
      const log = new AccessLog(asciiDestination(lines));
      const req = {
        method: 'POST', url: '/form', headers: { 'host': 'app.localhost', ...(c.xff ? { 'x-forwarded-for': c.xff } : {}) },
        rawHeaders: ['Host', 'app.localhost', ...(c.xff ? ['X-Forwarded-For', c.xff] : [])], socket: null,
      } as unknown as IncomingMessage;
      log.access({
        req, res: {} as ServerResponse, socket, peer: socket.remoteAddress, requestId: 'r1', durationMs: 2, status: 200, config: defaults, route: defaults.routes[0],
        upstream: 'http://127.0.0.1:9', caller: null, details: 'via_upstream', bytes: 10, ...(c.ip ? { ip: c.ip } : {}),
      });
      assert.equal(lines.length, 1);
      const line = JSON.parse(lines[0]!) as Record<string, unknown>;
      assert.equal(line['request-id'], 'r1');
      for (const [k, v] of Object.entries(c.want)) assert.equal(line[k], v, k);
      assert.equal(log.lost(), 0);
    });
  }

  test('a field that cannot be made costs the line, counted as lost, never a throw', () => {
    const lines: string[] = [];
    const log = new AccessLog(asciiDestination(lines));
    const req = { method: 'GET', url: '/', get headers(): never { throw new Error('gone'); }, socket: null } as unknown as IncomingMessage;
    assert.doesNotThrow(() => log.access({
      req, res: {} as ServerResponse, socket, peer: socket.remoteAddress, requestId: 'r2', durationMs: 1, status: 200, config: defaults, route: defaults.routes[0],
      upstream: undefined, caller: null, details: 'limen_response', bytes: 0,
    }));
    assert.doesNotThrow(() => log.decision({ req, requestId: 'r2', config: defaults, route: defaults.routes[0]!, result: 'allow', byDenyRule: false, reasons: [], caller: null, ip: '10.0.0.7' }));
    assert.deepEqual(lines, []);
    assert.equal(log.lost(), 2);
  });
});

describe('millisText: a duration as JSON writes Math.round(ms * 1000) / 1000', () => {
  const table: [number, string][] = [
    [0, '0'], [0.0004, '0'], [0.0005, '0.001'], [0.01, '0.01'], [0.1, '0.1'], [0.123, '0.123'], [1, '1'], [1.5, '1.5'],
    [10.05, '10.05'], [999.9999, '1000'], [123456.789, '123456.789'], [-0.0004, '0'], [-1, '-1'], [Number.NaN, 'null'], [Number.POSITIVE_INFINITY, 'null'],
  ];
  for (const [ms, want] of table) test(`${ms} → ${want}`, () => assert.equal(millisText(ms), want));

  test('agrees with JSON.stringify for any double', () => {
    fc.assert(fc.property(fc.oneof(fc.double({ min: 0, max: 1e7, noNaN: true }), fc.double()), (ms) => {
      assert.equal(millisText(ms), JSON.stringify(Math.round(ms * 1000) / 1000));
    }), { numRuns: 20_000 });
  });
});

describe('the route fields Pomerium logs by default', () => {
  const load = (to: string, routes?: Record<string, unknown>[]) => parseConfig({
    shared_secret: Buffer.alloc(32, 1).toString('base64'), cookie_secret: Buffer.alloc(32, 2).toString('base64'),
    insecure_server: true, authenticate_service_url: 'http://auth.localhost', idp_provider_url: 'http://idp.localhost', idp_client_id: 'x',
    routes: routes ?? [{ name: 'app', from: 'http://app.localhost', to, allow_any_authenticated_user: true }],
  }, {});

  test('envoy-route-id, route-id, cluster-stat-name: the route; both checksums: the route\'s, a JSON-exact number', () => {
    const c0 = load('http://127.0.0.1:9');
    const c = { ...c0, authorizeLogFields: [...c0.authorizeLogFields, 'cluster-stat-name'] } as Config;
    const lines: string[] = [];
    const req = { method: 'GET', url: '/', headers: { host: 'app.localhost' }, socket: { remoteAddress: '127.0.0.1' } } as unknown as IncomingMessage;
    new AccessLog(lineDestination((l) => lines.push(l))).decision({ req, requestId: 'r1', config: c, route: c.routes[0]!, result: 'allow', byDenyRule: false, reasons: ['allowed'], caller: null, ip: '127.0.0.1' });
    const line = JSON.parse(lines[0]!) as Record<string, unknown>;
    assert.equal(line['route-id'], 'app');
    assert.equal(line['envoy-route-id'], 'app');
    assert.equal(line['cluster-stat-name'], 'app');
    assert.equal(line['route-checksum'], routeChecksum(c.routes[0]!));
    assert.equal(line['envoy-route-checksum'], line['route-checksum']);
    assert.ok(Number.isSafeInteger(line['route-checksum']) && (line['route-checksum'] as number) > 0);
  });

  test('the checksum follows the route\'s config: the same config the same number, any change another', () => {
    const a = routeChecksum(load('http://127.0.0.1:9').routes[0]!);
    assert.equal(routeChecksum(load('http://127.0.0.1:9').routes[0]!), a, 'loaded again, unchanged');
    assert.notEqual(routeChecksum(load('http://127.0.0.1:10').routes[0]!), a, 'another upstream');
    const regex = (r: string) => routeChecksum(load('', [{ name: 'app', from: 'http://app.localhost', to: 'http://127.0.0.1:9', regex: r, allow_any_authenticated_user: true }]).routes[0]!);
    assert.notEqual(regex('^/a'), regex('^/b'), 'another path regex');
  });
});
