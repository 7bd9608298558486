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
