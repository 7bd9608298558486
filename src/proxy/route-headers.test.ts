/**
 * Pomerium's route options for the upstream request: header templates in
 * set_request_headers, X-Pomerium-* names a route sets, forwarding headers
 * a route removes, and where prefix_rewrite (or the path of `to`) applies.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { parseConfig, type RouteConfig } from '../config/index.js';
import { buildUpstreamHeaders, isPomeriumAuthorization } from './headers.js';
import { parseHeaderTemplate, renderHeaderTemplate, type TemplateValues } from './header-template.js';
import { upstreamPath } from './forward.js';

const values: TemplateValues = {
  jwt: 'JWT', idToken: 'IDT', accessToken: 'ACT', clientCertFingerprint: 'ab12',
  requestHeader: (name) => ({ 'x-tenant': 'blue' } as Record<string, string>)[name] ?? '',
};

describe('header templates, as Pomerium renders them', () => {
  const cases: [string, string][] = [
    ['${pomerium.jwt}', 'JWT'],
    ['Bearer ${pomerium.access_token}', 'Bearer ACT'],
    ['$pomerium.id_token', 'IDT'],
    ['${ pomerium . id_token }', 'IDT'],
    ['${pomerium.client_cert_fingerprint}', 'ab12'],
    ['${pomerium.request.headers["X-Tenant"]}', 'blue'],
    ['$pomerium.request.headers.x-tenant', 'blue'],
    ['cost $5 and $$', 'cost  and $'],
    ['${unknown.thing}', ''],
    ['${pomerium.jwt', '${pomerium.jwt'],
    ['a $ b', 'a $ b'],
    ['trailing $', 'trailing $'],
    ['${pomerium.request.headers["a\\"b"]}', ''],
  ];
  for (const [src, want] of cases) test(JSON.stringify(src), () => { assert.equal(renderHeaderTemplate(parseHeaderTemplate(src)!, values), want); });
  test('a value without $ is no template; a rendered value never holds a line break', () => {
    assert.equal(parseHeaderTemplate('plain'), undefined);
    assert.equal(renderHeaderTemplate(parseHeaderTemplate('${pomerium.jwt}')!, { ...values, jwt: 'a\r\nX-Evil: 1' }), 'aX-Evil: 1');
  });
});

const base = {
  shared_secret: Buffer.alloc(32, 1).toString('base64'), cookie_secret: Buffer.alloc(32, 2).toString('base64'),
  insecure_server: true, authenticate_service_url: 'http://auth.localhost', idp_provider_url: 'http://idp.localhost', idp_client_id: 'x',
};
const route = (r: Record<string, unknown>): RouteConfig => parseConfig({ ...base, routes: [{ from: 'http://app.localhost', to: 'http://127.0.0.1:9', allow_public_unauthenticated_access: true, ...r }] }, {}).routes[0]!;
const req = { rawHeaders: ['Host', 'app.localhost', 'X-Tenant', 'blue', 'X-Forwarded-Host', 'spoofed'], headers: { host: 'app.localhost', 'x-tenant': 'blue' }, socket: { remoteAddress: '10.0.0.1' } } as unknown as IncomingMessage;
const plan = { requestId: 'rid', proto: 'http', originalHost: 'app.localhost', upstreamHost: '127.0.0.1:9', dropCookies: new Set<string>(), identityHeaders: {} };
const pairs = (h: string[]): [string, string][] => { const o: [string, string][] = []; for (let i = 0; i < h.length; i += 2) o.push([h[i]!, h[i + 1]!]); return o; };

describe('set_request_headers and remove_request_headers', () => {
  test('templates render per request; without values (none given) their variables are empty', () => {
    const r = route({ set_request_headers: { 'X-Jwt': '${pomerium.jwt}', 'Authorization': 'Bearer ${pomerium.access_token}', 'X-Plain': 'p' } });
    assert.deepEqual(pairs(buildUpstreamHeaders(req, r, { ...plan, templateValues: values })).filter(([k]) => k.startsWith('X-') || k === 'Authorization'),
      [['X-Tenant', 'blue'], ['X-Jwt', 'JWT'], ['Authorization', 'Bearer ACT'], ['X-Plain', 'p']]);
  });
  test('an X-Pomerium-* header the route sets reaches the upstream; one Limen sends itself wins', () => {
    const r = route({ set_request_headers: { 'X-Pomerium-Custom': 'mine', 'X-Pomerium-Jwt-Assertion': 'forged' } });
    const out = pairs(buildUpstreamHeaders(req, r, { ...plan, identityHeaders: { 'x-pomerium-jwt-assertion': 'real' } }));
    assert.deepEqual(out.filter(([k]) => k.toLowerCase().startsWith('x-pomerium-')), [['X-Pomerium-Custom', 'mine'], ['x-pomerium-jwt-assertion', 'real']]);
  });
  test('the forwarding headers Limen makes are left out when the route removes them', () => {
    const names = (r: RouteConfig) => pairs(buildUpstreamHeaders(req, r, plan)).map(([k]) => k.toLowerCase());
    assert.deepEqual(names(route({})).filter((k) => k.startsWith('x-forwarded-') || k === 'x-request-id'), ['x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host', 'x-request-id']);
    assert.deepEqual(names(route({ remove_request_headers: ['X-Forwarded-Host', 'x-forwarded-for'] })).filter((k) => k.startsWith('x-forwarded-')), ['x-forwarded-proto']);
  });
  test('Host cannot be set or removed here: host_rewrite and preserve_host_header say it', () => {
    assert.throws(() => route({ set_request_headers: { Host: 'b.test' } }), /set_request_headers.*Host.*host_rewrite/);
    assert.throws(() => route({ remove_request_headers: ['host'] }), /remove_request_headers.*needs a Host/);
  });
});

describe('prefix_rewrite and the path of `to`', () => {
  const cases: { name: string; r: Record<string, unknown>; path: string; want: string }[] = [
    { name: 'prefix', r: { prefix: '/api/', prefix_rewrite: '/v2/' }, path: '/api/x?q=1', want: '/v2/x?q=1' },
    { name: 'path route: the whole path is replaced', r: { path: '/exact', prefix_rewrite: '/other' }, path: '/exact?q', want: '/other?q' },
    { name: 'regex route: the whole path is replaced', r: { regex: '^/re/(\\d+)$', prefix_rewrite: '/rx' }, path: '/re/12', want: '/rx' },
    { name: 'the first `to`\'s path, for every upstream', r: { to: ['http://127.0.0.1:9/one', 'http://127.0.0.1:10/two'], prefix: '/p/' }, path: '/p/x', want: '/one/x' },
    { name: 'no rewrite', r: { prefix: '/p/' }, path: '/p/x', want: '/p/x' },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const r = route(c.r);
      for (const u of r.to) assert.equal(upstreamPath(r, u, c.path), c.want);
    });
  }
});

describe('allow_websockets', () => {
  test('the route\'s timeout and idle_timeout default to none, as in Pomerium; set ones stay', () => {
    const ws = route({ allow_websockets: true });
    assert.deepEqual([ws.timeoutMs, ws.idleTimeoutMs], [0, 0]);
    const set = route({ allow_websockets: true, timeout: '10s', idle_timeout: '1m' });
    assert.deepEqual([set.timeoutMs, set.idleTimeoutMs], [10_000, 60_000]);
    const plain = route({});
    assert.deepEqual([plain.timeoutMs, plain.idleTimeoutMs], [30_000, 300_000]);
  });
});

describe('Pomerium credentials never reach the upstream, in any spelling', () => {
  const cases: [string, boolean][] = [
    ['Pomerium eyJ.x.y', true], ['pomerium eyJ.x.y', true], ['POMERIUM\teyJ.x.y', true], ['Pomerium', true],
    ['Bearer Pomerium-eyJ.x.y', true], ['bearer pomerium-eyJ.x.y', true], ['Bearer  Pomerium-x', true],
    ['Bearer eyJ.x.y', false], ['Basic dXNlcjpw', false], ['PomeriumX abc', false], ['Bearer PomeriumX', false],
  ];
  for (const [value, stripped] of cases) test(JSON.stringify(value), () => { assert.equal(isPomeriumAuthorization(value), stripped); });
});
