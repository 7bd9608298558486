/**
 * The autocert keys (issue 15): what each one becomes, and every refusal
 * naming the key. Issuance itself is tested against pebble in
 * test/autocert.test.ts.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../errors/index.js';
import { parseConfig, type Config } from './index.js';

const SECRET = Buffer.alloc(32, 7).toString('base64');
const CERT = fileURLToPath(new URL('./testdata/tls.pem', import.meta.url));
const KEY = fileURLToPath(new URL('./testdata/tls.key', import.meta.url));
const CA_B64 = Buffer.from('-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n').toString('base64');
const BASE = {
  shared_secret: SECRET, cookie_secret: SECRET, idp_provider_url: 'https://idp.example.com', idp_client_id: 'limen',
  authenticate_service_url: 'https://authenticate.example.com',
};
const ON = { autocert: true };

describe('autocert keys that take effect', () => {
  const cases: { name: string; doc: Record<string, unknown>; env?: Record<string, string>; want: Partial<Config> }[] = [
    { name: 'off by default: no redirect listener', doc: { certificate_file: CERT, certificate_key_file: KEY }, want: { autocert: false, httpRedirectAddr: undefined } },
    { name: 'autocert alone needs no certificate and listens on :80 for HTTP-01', doc: ON, want: { autocert: true, httpRedirectAddr: { host: '', port: 80 }, autocertDir: undefined, autocertCa: undefined } },
    { name: 'from the environment, as Pomerium\'s images set it', doc: {}, env: { AUTOCERT: 'true', AUTOCERT_DIR: '/data/autocert' }, want: { autocert: true, autocertDir: '/data/autocert' } },
    { name: 'every key', doc: { ...ON, autocert_dir: '/var/lib/limen/certs', autocert_use_staging: true, autocert_ca: 'https://acme.example.com/dir', autocert_email: 'ops@example.com', autocert_eab_key_id: 'kid-1', autocert_eab_mac_key: 'zWNDZM6eQGHWpSRTPal5eIUYFTu7EajVIoguysqZ9wG44nMEtx3MUAsUDkMTQ12W', autocert_must_staple: false, autocert_trusted_ca_file: CERT, http_redirect_addr: '127.0.0.1:8080' },
      want: { autocertDir: '/var/lib/limen/certs', autocertUseStaging: true, autocertCa: 'https://acme.example.com/dir', autocertEmail: 'ops@example.com', autocertEabKeyId: 'kid-1', autocertMustStaple: false, autocertTrustedCaFile: CERT, httpRedirectAddr: { host: '127.0.0.1', port: 8080 } } },
    { name: 'the trusted CA inline as base64', doc: { ...ON, autocert_trusted_ca: CA_B64 }, want: { autocertTrustedCa: Buffer.from(CA_B64, 'base64').toString('utf8') } },
    { name: 'a redirect listener without autocert (Pomerium)', doc: { certificate_file: CERT, certificate_key_file: KEY, http_redirect_addr: ':8080' }, want: { autocert: false, httpRedirectAddr: { host: '', port: 8080 } } },
    { name: 'autocert beside configured certificates', doc: { ...ON, certificate_file: CERT, certificate_key_file: KEY }, want: { autocert: true, certificateFile: CERT } },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const config = parseConfig({ ...BASE, ...c.doc }, c.env ?? {});
      for (const [field, value] of Object.entries(c.want)) assert.deepEqual(config[field as keyof Config], value, field);
    });
  }
});

describe('autocert keys that are refused, naming the key', () => {
  const cases: { name: string; doc: Record<string, unknown>; key: string; want: RegExp }[] = [
    { name: 'with insecure_server', doc: { ...ON, insecure_server: true }, key: 'autocert', want: /no HTTPS listener/ },
    { name: 'an autocert key without autocert', doc: { certificate_file: CERT, certificate_key_file: KEY, autocert_use_staging: true }, key: 'autocert_use_staging', want: /applies only with autocert: true/ },
    { name: 'autocert_dir without autocert', doc: { certificate_file: CERT, certificate_key_file: KEY, autocert_dir: '/x' }, key: 'autocert_dir', want: /applies only with autocert: true/ },
    { name: 'an S3 bucket', doc: { ...ON, autocert_dir: 's3://bucket.s3.amazonaws.com/certs' }, key: 'autocert_dir', want: /object storage .* not supported .* shared storage/ },
    { name: 'an http ACME URL', doc: { ...ON, autocert_ca: 'http://acme.example.com/dir' }, key: 'autocert_ca', want: /https URL .*RFC 8555/ },
    { name: 'not a URL', doc: { ...ON, autocert_ca: 'acme' }, key: 'autocert_ca', want: /absolute URL/ },
    { name: 'not an email', doc: { ...ON, autocert_email: 'ops' }, key: 'autocert_email', want: /email address/ },
    { name: 'a key id without its MAC key', doc: { ...ON, autocert_eab_key_id: 'kid' }, key: 'autocert_eab_mac_key', want: /required when autocert_eab_key_id is set/ },
    { name: 'a MAC key without its key id', doc: { ...ON, autocert_eab_mac_key: 'zWNDZM6eQGHWpSRTPal5eIUYFTu7EajV' }, key: 'autocert_eab_mac_key', want: /needs autocert_eab_key_id/ },
    { name: 'a MAC key that is not base64url', doc: { ...ON, autocert_eab_key_id: 'k', autocert_eab_mac_key: 'not base64!' }, key: 'autocert_eab_mac_key', want: /base64url/ },
    { name: 'must-staple', doc: { ...ON, autocert_must_staple: true }, key: 'autocert_must_staple', want: /does not staple OCSP/ },
    { name: 'a trusted CA that is not PEM', doc: { ...ON, autocert_trusted_ca: 'bm90IHBlbQ==' }, key: 'autocert_trusted_ca', want: /PEM certificate bundle/ },
    { name: 'both trusted CA forms', doc: { ...ON, autocert_trusted_ca: CA_B64, autocert_trusted_ca_file: CERT }, key: 'autocert_trusted_ca_file', want: /not both/ },
    { name: 'a missing trusted CA file', doc: { ...ON, autocert_trusted_ca_file: '/nonexistent/ca.pem' }, key: 'autocert_trusted_ca_file', want: /ENOENT/ },
    { name: 'a redirect listener with insecure_server', doc: { insecure_server: true, http_redirect_addr: ':80' }, key: 'http_redirect_addr', want: /no HTTPS to redirect to/ },
    { name: 'a bad redirect address', doc: { ...ON, http_redirect_addr: '80' }, key: 'http_redirect_addr', want: /expected an address/ },
  ];
  for (const c of cases) {
    test(c.name, () => {
      assert.throws(() => parseConfig({ ...BASE, ...c.doc }, {}), (error: unknown) => {
        assert.ok(error instanceof ConfigError, String(error));
        assert.equal(error.key, c.key);
        assert.match(error.message, c.want);
        return true;
      });
    });
  }

  test('the EAB MAC key is never quoted in an error', () => {
    const mac = 'c2VjcmV0LW1hYy1rZXktdGhhdC1pcy1sb25n';
    assert.throws(() => parseConfig({ ...BASE, ...ON, autocert_eab_mac_key: mac }, {}), (e: unknown) => !String((e as Error).message).includes(mac));
  });
});
