import { test } from 'node:test';
import assert from 'node:assert/strict';
import { apacheConfig, APACHE_CALLBACK_PATH } from './apache.js';

const base = {
  dir: '/tmp/limen-bench-apache-x', listenPort: 41000, upstreamPort: 42000, threads: 32,
  issuer: 'http://127.0.0.1:43000', clientId: 'apache-bench', clientSecret: 'c0ffee', cryptoPassphrase: 'pass-phrase',
};

test('Apache config: one child of N threads, loopback only, files in its directory, OIDC with claims as headers', () => {
  const conf = apacheConfig(base);
  for (const want of [
    /^LoadModule mpm_worker_module \/usr\/lib\/apache2\/modules\/mod_mpm_worker\.so$/m,
    /^ServerLimit 1$/m, /^StartServers 1$/m, /^ThreadsPerChild 32$/m, /^ThreadLimit 32$/m, /^MaxRequestWorkers 32$/m,
    /^Listen 127\.0\.0\.1:41000$/m,
    /^KeepAlive On$/m, /^MaxKeepAliveRequests 0$/m,
    /^OIDCProviderMetadataURL "http:\/\/127\.0\.0\.1:43000\/\.well-known\/openid-configuration"$/m,
    /^OIDCClientID "apache-bench"$/m,
    /^OIDCRedirectURI "http:\/\/127\.0\.0\.1:41000\/oidc\/callback"$/m,
    /^OIDCPKCEMethod S256$/m,
    /^OIDCPassClaimsAs headers$/m,
    /^ProxyPass \/ http:\/\/127\.0\.0\.1:42000\/$/m,
    /^\s+AuthType openid-connect$/m,
    /^\s+Require valid-user$/m,
  ]) assert.match(conf, want);
  // The callback is answered by mod_auth_openidc, never proxied, and comes before `/`.
  assert.ok(conf.indexOf(`ProxyPass ${APACHE_CALLBACK_PATH} !`) >= 0);
  assert.ok(conf.indexOf(`ProxyPass ${APACHE_CALLBACK_PATH} !`) < conf.indexOf('ProxyPass / '));
  for (const m of conf.matchAll(/^(?:ServerRoot|DefaultRuntimeDir|PidFile|ErrorLog) "([^"]+)"$/gm)) assert.ok(m[1]!.startsWith(base.dir), m[1]);
  assert.equal([...conf.matchAll(/^Listen /gm)].length, 1);
  assert.doesNotMatch(conf, /^User /m);
  assert.match(apacheConfig({ ...base, runAs: 'www-data' }), /^User www-data\nGroup www-data$/m);
});

test('Apache config: values that would break out of a quoted argument are refused', () => {
  for (const [key, value] of [['clientSecret', 'a"b'], ['cryptoPassphrase', 'a b'], ['clientId', 'x\\y'], ['clientSecret', '']] as const) {
    assert.throws(() => apacheConfig({ ...base, [key]: value }), new RegExp(`apache config: ${key} must be printable ASCII`));
  }
});
