import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { checkCsrf, checkCsrfToken, checkRequestOrigin, csrfToken, isStateChanging, type CsrfFailure } from './csrf.js';

const AUTH = 'https://auth.example.com';

describe('checkRequestOrigin', () => {
  const cases: { name: string; headers: Record<string, string | string[]>; want: CsrfFailure | undefined }[] = [
    { name: 'same origin', headers: { origin: AUTH }, want: undefined },
    { name: 'same origin, any case', headers: { origin: 'HTTPS://Auth.Example.com' }, want: undefined },
    { name: 'same origin with Sec-Fetch-Site same-origin', headers: { origin: AUTH, 'sec-fetch-site': 'same-origin' }, want: undefined },
    { name: 'no Origin, Sec-Fetch-Site same-origin', headers: { 'sec-fetch-site': 'same-origin' }, want: undefined },
    { name: 'neither header', headers: {}, want: 'csrf-origin-missing' },
    { name: 'cross-site origin', headers: { origin: 'http://evil.example' }, want: 'csrf-origin-mismatch' },
    { name: 'same site, other host', headers: { origin: 'https://app.example.com' }, want: 'csrf-origin-mismatch' },
    { name: 'http instead of https', headers: { origin: 'http://auth.example.com' }, want: 'csrf-origin-mismatch' },
    { name: 'other port', headers: { origin: 'https://auth.example.com:8443' }, want: 'csrf-origin-mismatch' },
    { name: 'explicit default port is not how browsers write it', headers: { origin: 'https://auth.example.com:443' }, want: 'csrf-origin-mismatch' },
    { name: 'a path after the origin', headers: { origin: `${AUTH}/x` }, want: 'csrf-origin-mismatch' },
    { name: 'suffix attack', headers: { origin: 'https://auth.example.com.evil.example' }, want: 'csrf-origin-mismatch' },
    { name: 'Origin null', headers: { origin: 'null' }, want: 'csrf-origin-mismatch' },
    { name: 'empty Origin', headers: { origin: '' }, want: 'csrf-origin-mismatch' },
    { name: 'two Origin values', headers: { origin: [AUTH, AUTH] }, want: 'csrf-origin-mismatch' },
    { name: 'matching Origin but Sec-Fetch-Site cross-site', headers: { origin: AUTH, 'sec-fetch-site': 'cross-site' }, want: 'csrf-origin-mismatch' },
    { name: 'no Origin, Sec-Fetch-Site same-site', headers: { 'sec-fetch-site': 'same-site' }, want: 'csrf-origin-mismatch' },
    { name: 'no Origin, Sec-Fetch-Site none', headers: { 'sec-fetch-site': 'none' }, want: 'csrf-origin-mismatch' },
  ];
  for (const c of cases) {
    test(c.name, () => assert.equal(checkRequestOrigin(c.headers, AUTH), c.want));
  }
});

describe('CSRF tokens', () => {
  const key = randomBytes(32);
  const token = csrfToken(key, 'session-1', AUTH);

  test('bound to the session, the origin and the key', () => {
    assert.equal(checkCsrfToken(key, 'session-1', AUTH, token), undefined);
    assert.equal(checkCsrfToken(key, 'session-1', `${AUTH}/`, token), undefined, 'the origin is compared canonically');
    const cases: { name: string; sessionId: string | undefined; origin: string; presented: string | undefined; k?: Uint8Array; want: CsrfFailure }[] = [
      { name: 'absent', sessionId: 'session-1', origin: AUTH, presented: undefined, want: 'csrf-token-missing' },
      { name: 'empty', sessionId: 'session-1', origin: AUTH, presented: '', want: 'csrf-token-missing' },
      { name: 'another session', sessionId: 'session-2', origin: AUTH, presented: token, want: 'csrf-token-invalid' },
      { name: 'another origin', sessionId: 'session-1', origin: 'https://app.example.com', presented: token, want: 'csrf-token-invalid' },
      { name: 'another key (cookie_secret rotated)', sessionId: 'session-1', origin: AUTH, presented: token, k: randomBytes(32), want: 'csrf-token-invalid' },
      { name: 'no session (a non-session credential in the cookie)', sessionId: undefined, origin: AUTH, presented: token, want: 'csrf-token-invalid' },
      { name: 'truncated', sessionId: 'session-1', origin: AUTH, presented: token.slice(0, -1), want: 'csrf-token-invalid' },
      { name: 'one character changed', sessionId: 'session-1', origin: AUTH, presented: `${token.slice(0, -1)}${token.endsWith('A') ? 'B' : 'A'}`, want: 'csrf-token-invalid' },
    ];
    for (const c of cases) assert.equal(checkCsrfToken(c.k ?? key, c.sessionId, c.origin, c.presented), c.want, c.name);
  });

  test('checkCsrf: the origin is checked before the token', () => {
    assert.equal(checkCsrf({ origin: 'http://evil.example' }, { key, origin: AUTH, sessionId: 'session-1', token }), 'csrf-origin-mismatch');
    assert.equal(checkCsrf({ origin: AUTH }, { key, origin: AUTH, sessionId: 'session-1', token: undefined }), 'csrf-token-missing');
    assert.equal(checkCsrf({ origin: AUTH }, { key, origin: AUTH, sessionId: 'session-1', token }), undefined);
  });

  test('only safe methods skip the checks', () => {
    assert.deepEqual(['GET', 'HEAD', 'OPTIONS', 'get'].map(isStateChanging), [false, false, false, false]);
    assert.deepEqual(['POST', 'PUT', 'PATCH', 'DELETE', 'PROPFIND'].map(isStateChanging), [true, true, true, true, true]);
  });
});
