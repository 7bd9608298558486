import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { normalizePath } from './path.js';

describe('normalizePath', () => {
  const cases: [string, string][] = [
    ['/', '/'],
    ['/admin', '/admin'],
    ['/admin/', '/admin/'],
    ['/%61dmin', '/admin'],
    ['/%41DMIN', '/ADMIN'],
    ['//admin', '/admin'],
    ['/a//b///c', '/a/b/c'],
    ['/x/../admin', '/admin'],
    ['/x/%2e%2e/admin', '/admin'],
    ['/x/%2E./admin', '/admin'],
    ['/./admin', '/admin'],
    ['/admin/.', '/admin/'],
    ['/admin/..', '/'],
    ['/../../admin', '/admin'],
    ['/a/b/../../..', '/'],
    ['/a%2fb', '/a%2Fb'], // an encoded slash is data, kept encoded
    ['/a%2Fb/../c', '/c'],
    ['/caf%c3%a9', '/caf%C3%A9'],
    ['/%7euser', '/~user'],
    ['/a b', '/a b'],
    ['', '/'],
    ['admin', '/admin'],
    ['/%zz', '/%zz'],
    ['/..%2f..%2fetc', '/..%2F..%2Fetc'], // a single segment: no traversal without real slashes
  ];
  for (const [input, want] of cases) {
    test(`${JSON.stringify(input)} → ${want}`, () => assert.equal(normalizePath(input), want));
  }
  test('a normalized path is a fixed point', () => {
    for (const [input] of cases) assert.equal(normalizePath(normalizePath(input)), normalizePath(input));
  });
});
