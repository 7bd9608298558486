import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cookieValue } from './request.js';

describe('cookieValue', () => {
  const cases: [header: string | undefined, name: string, want: string | undefined][] = [
    [undefined, '_pomerium', undefined],
    ['', '_pomerium', undefined],
    ['_pomerium=abc', '_pomerium', 'abc'],
    ['a=1; _pomerium=abc; b=2', '_pomerium', 'abc'],
    ['a=1;_pomerium=abc', '_pomerium', 'abc'],
    ['  _pomerium  =  abc  ; b=2', '_pomerium', 'abc'],
    // The first of two wins (RFC 6265 §5.4 orders the more specific path first).
    ['_pomerium=first; _pomerium=second', '_pomerium', 'first'],
    ['_pomerium="quoted"', '_pomerium', 'quoted'],
    ['_pomerium="', '_pomerium', '"'],
    ['_pomerium=', '_pomerium', ''],
    ['_pomerium=a=b', '_pomerium', 'a=b'],
    // A name that only contains, starts or ends like the wanted one is another cookie.
    ['x_pomerium=1; _pomerium_csrf=2', '_pomerium', undefined],
    ['_pomerium_csrf=2; _pomerium=3', '_pomerium', '3'],
    // Parts without a name or without "=" are skipped, not mistaken for the next part.
    ['=abc; _pomerium; _pomerium=ok', '_pomerium', 'ok'],
    ['garbage;;; _pomerium=ok;', '_pomerium', 'ok'],
    ['a=1', '', undefined],
  ];
  for (const [header, name, want] of cases) {
    test(`${JSON.stringify(header)} → ${JSON.stringify(want)}`, () => assert.equal(cookieValue(header, name), want));
  }
});
