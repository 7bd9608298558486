import { test } from 'node:test';
import assert from 'node:assert/strict';
import { claimHeaderValue } from './identity-headers.js';

// Every value must be one a header can carry: no CR, LF or other control character, nothing above U+00FF (Node writes Latin-1).
test('claim values become header values: control characters as spaces, beyond ASCII as UTF-8 bytes', () => {
  const utf8 = (s: string): string => Buffer.from(s, 'utf8').toString('latin1');
  const cases: [unknown, string][] = [
    ['ada@example.com', 'ada@example.com'],
    ['a\r\nx-injected: 1', 'a  x-injected: 1'],
    [['eng', 'a\r\nb'], 'eng,a  b'],
    [['engineering', '日本'], utf8('engineering,日本')],
    ['€', utf8('€')],
    ['zoë', utf8('zoë')],
    ['tab\tkept', 'tab\tkept'],
    [{ team: '日本' }, utf8('{"team":"日本"}')],
    [null, ''],
    [42, '42'],
  ];
  for (const [claim, want] of cases) {
    const got = claimHeaderValue(claim);
    assert.equal(got, want, JSON.stringify(claim));
    assert.doesNotMatch(got, /[\r\n\u0100-\uffff]/, JSON.stringify(claim));
  }
});
