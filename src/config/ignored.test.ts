/**
 * Every accepted setting does something: a setting that would be accepted
 * and then have no effect (or fail only at the first TLS handshake) is a
 * ConfigError naming the key and saying why.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '../errors/index.js';
import { parseConfig } from './index.js';

const SECRET = Buffer.alloc(32, 7).toString('base64');
const testdata = (name: string): string => fileURLToPath(new URL(`./testdata/${name}`, import.meta.url));
const CERT = testdata('tls.pem');
const KEY = testdata('tls.key');
const OTHER_KEY = testdata('other.key');
const MISSING = testdata('missing.pem');
const NOT_PEM = testdata('README.md');

const BASE = {
  shared_secret: SECRET,
  cookie_secret: SECRET,
  idp_provider_url: 'https://idp.example.com',
  idp_client_id: 'limen',
  authenticate_service_url: 'https://authenticate.example.com',
};
const TLS = { certificate_file: CERT, certificate_key_file: KEY };
const route = (keys: Record<string, unknown>) => ({ routes: [{ from: 'https://app.example.com', to: 'http://10.0.0.1:8080', ...keys }] });

const refused: { name: string; doc: Record<string, unknown>; env?: Record<string, string>; key: string; want: RegExp }[] = [
  { name: 'HTTPS without a certificate', doc: {}, key: 'certificate_file', want: /required: Limen serves HTTPS unless insecure_server/ },
  { name: 'a missing certificate file', doc: { certificate_file: MISSING, certificate_key_file: KEY }, key: 'certificate_file', want: /cannot read the certificate file .*missing\.pem.* \(ENOENT\)/ },
  { name: 'a certificate file that is not PEM', doc: { certificate_file: NOT_PEM, certificate_key_file: KEY }, key: 'certificate_file', want: /holds no PEM certificate/ },
  { name: 'a key file that is not a key', doc: { certificate_file: CERT, certificate_key_file: CERT }, key: 'certificate_key_file', want: /holds no readable PEM private key/ },
  { name: 'a key that does not belong to the certificate', doc: { certificate_file: CERT, certificate_key_file: OTHER_KEY }, key: 'certificate_key_file', want: /does not belong to the certificate/ },
  { name: 'a mismatched pair in certificates', doc: { certificates: [{ cert: CERT, key: KEY }, { cert: CERT, key: OTHER_KEY }] }, key: 'certificates[1].key', want: /does not belong/ },
  { name: 'a missing file named in the environment', doc: {}, env: { CERTIFICATE_FILE: MISSING, CERTIFICATE_KEY_FILE: KEY }, key: 'certificate_file', want: /ENOENT\) \(from the CERTIFICATE_FILE environment variable\)/ },
  { name: 'a certificate with insecure_server', doc: { insecure_server: true, ...TLS }, key: 'certificate_file', want: /not used with insecure_server: true/ },
  { name: 'certificates with insecure_server', doc: { insecure_server: true, certificates: [{ cert: CERT, key: KEY }] }, key: 'certificates', want: /not used with insecure_server: true/ },
  { name: 'client certificates with insecure_server', doc: { insecure_server: true, downstream_mtls: { ca_file: CERT } }, key: 'downstream_mtls', want: /need TLS/ },
  { name: 'downstream_mtls without a CA', doc: { ...TLS, downstream_mtls: { enforcement: 'reject_connection' } }, key: 'downstream_mtls.ca_file', want: /required/ },
  { name: 'a missing downstream_mtls CA file', doc: { ...TLS, downstream_mtls: { ca_file: MISSING } }, key: 'downstream_mtls.ca_file', want: /ENOENT/ },
  { name: 'a missing upstream CA file', doc: { ...TLS, routes: [{ from: 'https://app.example.com', to: 'https://10.0.0.1', tls_custom_ca_file: MISSING }] }, key: 'routes[0].tls_custom_ca_file', want: /ENOENT/ },
  { name: 'upstream TLS settings on an http upstream', doc: { ...TLS, ...route({ tls_server_name: 'app.internal' }) }, key: 'routes[0].tls_server_name', want: /only to https upstreams/ },
  { name: 'tls_skip_verify on an http upstream', doc: { ...TLS, ...route({ tls_skip_verify: true }) }, key: 'routes[0].tls_skip_verify', want: /only to https upstreams/ },
  { name: 'host_rewrite with preserve_host_header', doc: { ...TLS, ...route({ host_rewrite: 'internal', preserve_host_header: true }) }, key: 'routes[0].host_rewrite', want: /not both/ },
  { name: 'two path matchers', doc: { ...TLS, ...route({ prefix: '/a', path: '/b' }) }, key: 'routes[0].prefix', want: /only one of regex, path and prefix; path is set and would win/ },
  { name: 'GitHub, which is not OpenID Connect', doc: { ...TLS, idp_provider: 'github' }, key: 'idp_provider', want: /OpenID Connect/ },
  { name: 'a connection string with the memory store', doc: { ...TLS, databroker_storage_type: 'memory', databroker_storage_connection_string: '/tmp/x.db' }, key: 'databroker_storage_connection_string', want: /not used with databroker_storage_type memory/ },
  { name: 'a PostgreSQL pool setting with SQLite', doc: { ...TLS, databroker_storage_pool_size: 5 }, key: 'databroker_storage_pool_size', want: /only to databroker_storage_type postgres, and the store is file/ },
  { name: 'a PostgreSQL cache bound with the memory store, from the environment', doc: { ...TLS, databroker_storage_type: 'memory' }, env: { DATABROKER_STORAGE_MAX_STALENESS: '2s' }, key: 'databroker_storage_max_staleness', want: /store is memory \(from the DATABROKER_STORAGE_MAX_STALENESS environment variable\)/ },
];

describe('settings that would be ignored are refused, naming the key', () => {
  for (const c of refused) {
    test(c.name, () => {
      assert.throws(() => parseConfig({ ...BASE, ...c.doc }, c.env ?? {}), (error: unknown) => {
        assert.ok(error instanceof ConfigError, String(error));
        assert.equal(error.key, c.key);
        assert.match(error.message, c.want);
        assert.ok(error.message.startsWith(`${c.key}: `), error.message);
        return true;
      });
    });
  }
});

describe('the same settings where they take effect', () => {
  const accepted: { name: string; doc: Record<string, unknown> }[] = [
    { name: 'a certificate and its key', doc: TLS },
    { name: 'certificate pairs', doc: { certificates: [{ cert: CERT, key: KEY }] } },
    { name: 'plain HTTP without certificates', doc: { insecure_server: true } },
    { name: 'client certificates with a CA', doc: { ...TLS, downstream_mtls: { ca_file: CERT } } },
    { name: 'upstream TLS settings on an https upstream', doc: { ...TLS, routes: [{ from: 'https://app.example.com', to: 'https://10.0.0.1', tls_custom_ca_file: CERT, tls_server_name: 'app.internal', tls_skip_verify: true }] } },
    { name: 'tls_skip_verify: false on an http upstream', doc: { ...TLS, ...route({ tls_skip_verify: false }) } },
    { name: 'one path matcher', doc: { ...TLS, ...route({ path: '/b' }) } },
  ];
  for (const c of accepted) {
    test(c.name, () => { parseConfig({ ...BASE, ...c.doc }, {}); });
  }

  test('gitlab and google supply their issuer', () => {
    const { idp_provider_url: _drop, ...noUrl } = BASE;
    assert.equal(parseConfig({ ...noUrl, ...TLS, idp_provider: 'gitlab' }, {}).idpProviderUrl, 'https://gitlab.com');
    assert.equal(parseConfig({ ...noUrl, ...TLS, idp_provider: 'google' }, {}).idpProviderUrl, 'https://accounts.google.com');
  });
});
