import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { buildResponseHeaders } from './headers.js';
import type { RouteConfig } from '../config/index.js';

const route = { setResponseHeaders: {} } as unknown as RouteConfig;
const own = new Set(['_pomerium', '_pomerium_csrf', '_pomerium_signin']);

function setCookies(headers: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < headers.length; i += 2) if (headers[i] === 'set-cookie') out.push(headers[i + 1]!);
  return out;
}

describe('an upstream cannot set Limen\'s own cookies', () => {
  test('Limen\'s names in any case and with __Host-/__Secure- prefixes are dropped; others pass', () => {
    const lines = [
      '_pomerium=x', '_Pomerium=x', '__Host-_pomerium=x; Secure; Path=/', '__secure-_POMERIUM_csrf=x',
      '_pomerium_signin=x', 'app=1', '_pomerium_other=2', '__Host-app=3; Secure; Path=/',
    ];
    const out = buildResponseHeaders([...lines.flatMap((l) => ['Set-Cookie', l]), 'Content-Type', 'text/plain'], route, 'rid', own);
    assert.deepEqual(setCookies(out), ['app=1', '_pomerium_other=2', '__Host-app=3; Secure; Path=/']);
    assert.ok(out.includes('content-type'));
  });
  test('a single Set-Cookie string is filtered the same way', () => {
    assert.deepEqual(setCookies(buildResponseHeaders([Buffer.from('set-cookie'), Buffer.from('_pomerium=x')], route, 'rid', own)), []);
    assert.deepEqual(setCookies(buildResponseHeaders(['set-cookie', 'a=b'], route, 'rid', own)), ['a=b']);
  });
});

describe('the upstream\'s response fields as the client gets them', () => {
  const bytes = (list: string[]): Buffer[] => list.map((x) => Buffer.from(x, 'latin1'));
  const cases: { name: string; raw: string[]; set?: Record<string, string>; want: string[] }[] = [
    {
      name: 'hop-by-hop fields dropped, the rest in the order received, names lower case',
      raw: ['Content-Type', 'text/plain', 'Connection', 'keep-alive', 'Keep-Alive', 'timeout=5', 'X-App', 'a', 'Transfer-Encoding', 'chunked', 'x-app', 'b'],
      want: ['content-type', 'text/plain', 'x-app', 'a', 'x-app', 'b', 'x-request-id', 'rid'],
    },
    {
      name: 'fields a Connection field names are dropped, across several Connection fields',
      raw: ['Connection', 'X-Hop-One', 'X-Hop-One', '1', 'connection', 'close, x-hop-two', 'X-Hop-Two', '2', 'X-Kept', '3'],
      want: ['x-kept', '3', 'x-request-id', 'rid'],
    },
    {
      name: 'the upstream\'s X-Request-Id is replaced by Limen\'s',
      raw: ['X-Request-Id', 'upstream-id', 'ETag', '"v1"'],
      want: ['etag', '"v1"', 'x-request-id', 'rid'],
    },
    {
      name: 'set_response_headers win over the upstream\'s field of the same name, in any case',
      raw: ['X-Frame-Options', 'ALLOW', 'Cache-Control', 'no-cache'],
      set: { 'x-frame-options': 'DENY' },
      want: ['cache-control', 'no-cache', 'x-frame-options', 'DENY', 'x-request-id', 'rid'],
    },
    {
      name: 'bytes beyond ASCII are passed as they came (one character per byte)',
      raw: ['X-Name', 'caf\u00e9'],
      want: ['x-name', 'caf\u00e9', 'x-request-id', 'rid'],
    },
  ];
  for (const c of cases) {
    const r = { setResponseHeaders: c.set ?? {} } as unknown as RouteConfig;
    test(`${c.name} (Buffers, as undici gives them)`, () => {
      assert.deepEqual(buildResponseHeaders(bytes(c.raw), r, 'rid', own), c.want);
    });
    test(`${c.name} (strings, as node:http gives them)`, () => {
      assert.deepEqual(buildResponseHeaders(c.raw, r, 'rid', own), c.want);
    });
  }
});
