/**
 * What the logs and traces may show of a request (redact.ts): every case a
 * credential could ride in, and the ordinary values that must stay readable.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { loggableHeader, loggablePath, loggableQuery, loggableReferer, REDACTED } from './redact.js';

const R = REDACTED;

describe('redaction for the logs', () => {
  const referers: [string, string][] = [
    ['https://app.example/page', 'https://app.example/page'],
    ['https://app.example/p?token=abc#frag', 'https://app.example/p'],
    ['http://user:RefPw0004@r.example/p?token=x', `http://${R}@r.example/p`],
    ['http://user@r.example/', `http://${R}@r.example/`],
    ['http://a:b@c@r.example:8080/p', `http://${R}@r.example:8080/p`],
    ['https://r.example/p/a@b', 'https://r.example/p/a@b'], // an @ in the path is not userinfo
    ['android-app://com.example', 'android-app://com.example'],
  ];
  for (const [sent, logged] of referers) {
    test(`Referer ${sent}`, () => {
      assert.equal(loggableReferer(sent), logged);
      assert.equal(loggableHeader('referer', sent), logged, 'the same through headers.referer');
    });
  }

  const paths: [string, string][] = [
    ['/', '/'],
    ['/a/b.html', '/a/b.html'],
    ['/user@example.com/profile', '/user@example.com/profile'],
    ['http://user:AbsPw0001@public.localhost:8080/abs', `http://${R}@public.localhost:8080/abs`],
    ['http://public.localhost/abs', 'http://public.localhost/abs'],
    ['/app;jsessionid=ABC123/x', `/app;jsessionid=${R}/x`],
    ['/a;JSESSIONID=1;v=2', `/a;JSESSIONID=${R};v=2`],
    ['/a;v=1.2/b', '/a;v=1.2/b'],
    ['/a;token=t;sig=s', `/a;token=${R};sig=${R}`],
  ];
  for (const [sent, logged] of paths) {
    test(`path ${sent}`, () => assert.equal(loggablePath(sent), logged));
  }

  const params: [string, boolean][] = [
    ['code', true], ['state', true], ['access_token', true], ['pomerium_jwt', true], ['password', true], ['pwd', true], ['pass', true],
    ['otp', true], ['sid', true], ['ticket', true], ['SAMLResponse', true], ['SAMLRequest', true], ['RelayState', true], ['code_verifier', true],
    ['hmac', true], ['private_key', true], ['api-key', true], ['X-Amz-Signature', true], ['acc%65ss_token', true],
    ['q', false], ['page', false], ['sort', false], ['passage', false], ['id', false], ['codec', false], ['statement', false],
  ];
  for (const [name, secret] of params) {
    test(`query parameter ${name} is ${secret ? 'redacted' : 'kept'}`, () => {
      assert.equal(loggableQuery(`${name}=VALUE&x=1`), `${name}=${secret ? R : 'VALUE'}&x=1`);
    });
  }
});
