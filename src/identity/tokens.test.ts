import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { handleAudienceAccepts, sessionHandleAudience, type HandleAudiencePolicy } from './tokens.js';

describe('session handle audience (CONTRACT §4)', () => {
  const plain: HandleAudiencePolicy = { authHost: 'auth.example.com', cookieDomain: undefined };
  const shared: HandleAudiencePolicy = { authHost: 'auth.example.com', cookieDomain: '.example.com' };
  const cases: [name: string, p: HandleAudiencePolicy | undefined, aud: unknown, host: string, want: boolean][] = [
    ['own host', plain, 'app.example.com', 'app.example.com', true],
    ['another route host', plain, 'app.example.com', 'staff.example.com', false],
    ['a route host on the authenticate host', plain, 'app.example.com', 'auth.example.com', false],
    ['the authenticate host on a route host', plain, 'auth.example.com', 'app.example.com', false],
    ['case of aud', plain, 'APP.example.com', 'app.example.com', true],
    ['missing aud', plain, undefined, 'app.example.com', false],
    ['empty aud', plain, '', 'app.example.com', false],
    ['aud list', plain, ['app.example.com'], 'app.example.com', false],
    ['no policy: exact host only', undefined, 'app.example.com', 'app.example.com', true],
    ['cookie domain handle on a host within it', shared, 'example.com', 'staff.example.com', true],
    ['cookie domain handle on the authenticate host', shared, 'example.com', 'auth.example.com', false],
    ['cookie domain handle outside the domain', shared, 'example.com', 'app.other.example', false],
    ['a suffix that is not a label boundary', shared, 'example.com', 'evilexample.com', false],
  ];
  for (const [name, p, aud, host, want] of cases) {
    test(`${name} → ${want ? 'accepted' : 'refused'}`, () => assert.equal(handleAudienceAccepts(p, aud, host), want));
  }
  test('issued audience: the host, or the cookie domain for route hosts within it', () => {
    assert.equal(sessionHandleAudience(plain, 'app.example.com'), 'app.example.com');
    assert.equal(sessionHandleAudience(shared, 'app.example.com'), 'example.com');
    assert.equal(sessionHandleAudience(shared, 'auth.example.com'), 'auth.example.com');
    assert.equal(sessionHandleAudience(shared, 'app.other.example'), 'app.other.example');
  });
});
