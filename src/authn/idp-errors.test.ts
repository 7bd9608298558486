/**
 * What an operator is told of an IdP failure: the OAuth error code the IdP
 * answered with, as RFC 6749 §5.2 lets it be spelled and bounded, and the
 * cause under a failed call (failureOf), from the errors openid-client
 * really throws (its own fetch replaced, so no network), never a secret, a
 * query string or text the IdP wrote.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import * as oidc from 'openid-client';
import { failureOf, IdpError, OidcClient, oauthErrorCode } from './oidc.js';

const ISSUER = 'http://idp.test/realm';

/** What oidc.discovery throws when its fetch does `answer`. */
async function discoveryError(answer: () => Promise<Response>): Promise<unknown> {
  try {
    await oidc.discovery(new URL(ISSUER), 'c', 's', undefined, { execute: [oidc.allowInsecureRequests], [oidc.customFetch]: answer });
  } catch (e) {
    return e;
  }
  throw new Error('discovery succeeded');
}

/** A Node.js system error, as undici's `fetch failed` carries it. */
function systemError(code: string, message: string): Error {
  return Object.assign(new Error(message), { code });
}

describe('oauthErrorCode', () => {
  const table: { input: unknown; want: string | undefined }[] = [
    { input: 'invalid_client', want: 'invalid_client' },
    { input: 'invalid_grant', want: 'invalid_grant' },
    { input: 'temporarily_unavailable', want: 'temporarily_unavailable' },
    // NQSCHAR excludes '"', '\' and everything outside %x20-7E.
    { input: 'a"b\\c', want: 'abc' },
    { input: 'bad\r\nX-Injected: 1', want: 'badX-Injected: 1' },
    { input: 'erreur_é', want: 'erreur_' },
    { input: 'x'.repeat(10_000), want: 'x'.repeat(64) },
  ];
  for (const { input, want } of table) {
    test(`${JSON.stringify(input).slice(0, 40)} → ${want === undefined ? 'none' : want.slice(0, 20)}`, () => {
      assert.equal(oauthErrorCode(input), want);
    });
  }
  test('nothing usable is no code', () => {
    for (const v of ['', ' ', '\u0000', 'é', 42, null, undefined, {}, ['invalid_client']]) assert.equal(oauthErrorCode(v), undefined, JSON.stringify(v));
  });
});

describe('failureOf: the cause under a failed discovery', () => {
  const table: { name: string; answer: () => Promise<Response>; want: { code: string | undefined; message: string } }[] = [
    {
      name: 'connection refused',
      answer: () => Promise.reject(new TypeError('fetch failed', { cause: systemError('ECONNREFUSED', 'connect ECONNREFUSED 127.0.0.1:9399') })),
      want: { code: 'ECONNREFUSED', message: 'connect ECONNREFUSED 127.0.0.1:9399' },
    },
    {
      name: 'name not found',
      answer: () => Promise.reject(new TypeError('fetch failed', { cause: systemError('ENOTFOUND', 'getaddrinfo ENOTFOUND idp.example') })),
      want: { code: 'ENOTFOUND', message: 'getaddrinfo ENOTFOUND idp.example' },
    },
    {
      name: 'a certificate not trusted',
      answer: () => Promise.reject(new TypeError('fetch failed', { cause: systemError('DEPTH_ZERO_SELF_SIGNED_CERT', 'self-signed certificate') })),
      want: { code: 'DEPTH_ZERO_SELF_SIGNED_CERT', message: 'self-signed certificate' },
    },
    {
      name: 'OpenSSL\'s multi-line message: its first line',
      answer: () => Promise.reject(new TypeError('fetch failed', { cause: systemError('ERR_SSL_WRONG_VERSION_NUMBER', '80AC:error:0A00010B:SSL routines:ssl3_get_record:wrong version number\nat ssl3_record.c:350:\n') })),
      want: { code: 'ERR_SSL_WRONG_VERSION_NUMBER', message: '80AC:error:0A00010B:SSL routines:ssl3_get_record:wrong version number' },
    },
    {
      name: 'an HTTP status',
      answer: () => Promise.resolve(new Response('<h1>upstream connect error</h1>', { status: 500 })),
      want: { code: 'OAUTH_RESPONSE_IS_NOT_CONFORM', message: 'unexpected HTTP response status code (HTTP 500)' },
    },
    {
      name: 'not JSON',
      answer: () => Promise.resolve(new Response('<html>', { status: 200, headers: { 'content-type': 'text/html' } })),
      want: { code: 'OAUTH_RESPONSE_IS_NOT_JSON', message: 'unexpected response content-type (HTTP 200)' },
    },
    {
      name: 'another issuer: what the body said is not quoted',
      answer: () => Promise.resolve(Response.json({ issuer: 'http://elsewhere.test/secret-path' })),
      want: { code: 'OAUTH_JSON_ATTRIBUTE_COMPARISON_FAILED', message: 'discovered metadata issuer does not match the expected issuer' },
    },
    {
      name: 'a URL in a message: without userinfo, query or fragment',
      answer: () => Promise.reject(new TypeError('fetch failed', { cause: systemError('ERR_X', 'refused http://ops:pw@idp.test/x?client_secret=s3cret#frag, then https://idp.test/?a=b') })),
      want: { code: 'ERR_X', message: 'refused http://idp.test/x then https://idp.test/' },
    },
  ];
  for (const { name, answer, want } of table) {
    test(name, async () => {
      assert.deepEqual(failureOf(ISSUER, await discoveryError(answer)), { issuer: ISSUER, ...want });
    });
  }

  test('text the IdP wrote in an error body is never quoted', () => {
    const body = { error: 'invalid_client', error_description: 'client secret s3cret is wrong', code: 'BODY_CODE', message: 'body message' };
    const e = Object.assign(new Error('server responded with an error in the response body', { cause: body }), { code: 'OAUTH_RESPONSE_BODY_ERROR', status: 401 });
    assert.deepEqual(failureOf(ISSUER, e), { issuer: ISSUER, code: 'OAUTH_RESPONSE_BODY_ERROR', message: 'server responded with an error in the response body (HTTP 401)' });
  });

  test('what is not an error', () => {
    for (const v of [undefined, null, 'text', 42, {}, { code: 'X', message: 'y' }]) {
      assert.deepEqual(failureOf(ISSUER, v), { issuer: ISSUER, code: undefined, message: 'unknown error' }, JSON.stringify(v));
    }
  });
});

describe('OidcClient: a failed discovery says where and why', () => {
  test('an issuer with userinfo (refused by the config, and by fetch) is named without it', async () => {
    const client = new OidcClient({ idpProviderUrl: 'http://ops:userinfo-pw@127.0.0.1:1/realm', idpClientId: 'c', idpClientSecret: 'client-secret-value', idpScopes: [], idpRequestParams: {}, idpEmailVerification: 'ignore' } as never, 'http://auth.test/oauth2/callback');
    const e = await client.ready().then(() => undefined, (x: unknown) => x);
    assert.ok(e instanceof IdpError);
    assert.equal(e.code, 'ERR_IDP_DISCOVERY');
    assert.equal(e.failure?.issuer, 'http://127.0.0.1:1/realm');
    // fetch's own message quotes the URL: its userinfo is removed.
    assert.match(e.message, /^identity provider discovery failed at http:\/\/127\.0\.0\.1:1\/realm: Request cannot be constructed from a URL that includes credentials: http:\/\/127\.0\.0\.1:1\/realm\//);
    assert.doesNotMatch(e.message, /ops|userinfo-pw|client-secret-value/);
    assert.deepEqual({ ...client.errors }, { discovery: 1, exchange: 0, refresh: 0 });
  });
});
