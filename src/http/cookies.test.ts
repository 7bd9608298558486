import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cookieValues, setCookieBaseName } from './cookies.js';

describe('cookieValues', () => {
  const cases: [header: string | undefined, want: string[]][] = [
    [undefined, []],
    ['', []],
    ['_pomerium=a', ['a']],
    ['_pomerium=a; x=1; _pomerium="b"', ['a', 'b']],
    ['_pomerium_csrf=a; x_pomerium=b', []],
    ['=a; _pomerium; _pomerium=', ['']],
  ];
  for (const [header, want] of cases) test(JSON.stringify(header), () => assert.deepEqual(cookieValues(header, '_pomerium'), want));
});

describe('setCookieBaseName: what a browser would set, without its prefix, lower-cased', () => {
  const cases: [line: string, want: string][] = [
    ['_pomerium=x; Path=/', '_pomerium'],
    ['_POMERIUM=x', '_pomerium'],
    ['__Host-_pomerium=x; Secure; Path=/', '_pomerium'],
    ['__host-_pomerium=x', '_pomerium'],
    ['__SECURE-_pomerium_csrf=x', '_pomerium_csrf'],
    ['  _pomerium  = x', '_pomerium'],
    ['__Host-__Secure-_pomerium=x', '__secure-_pomerium'],
    ['app=1', 'app'],
    ['no-equals-sign; Path=/', ''],
  ];
  for (const [line, want] of cases) test(line, () => assert.equal(setCookieBaseName(line), want));
});
