/**
 * Inline TLS material (base64 PEM, as Pomerium accepts beside the `_file`
 * keys) does what the file does, proven with real TLS handshakes: the
 * listener serves `certificate`/`certificate_key`, `downstream_mtls.ca`
 * decides which client certificates complete the handshake, and a route's
 * `tls_custom_ca` is the only trust its upstream gets.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseConfig } from '../src/config/index.js';
import { startLimen, type RunningLimen } from '../src/server/index.js';
import { startDemoUpstream } from '../src/devidp/index.js';
import { MemoryStore } from '../src/store/index.js';
import { silentLogger } from '../src/log/index.js';
import { COOKIE_SECRET, freePort, SHARED_SECRET } from './stack.js';
import { startProbeUpstream, type ProbeUpstream } from './support/upstream-probe.js';
import { makePki, type TestPki } from './support/pki.js';

const b64 = (pem: string): string => Buffer.from(pem).toString('base64');
const testdata = (name: string): string => fileURLToPath(new URL(`../src/config/testdata/${name}`, import.meta.url));

/** GET over HTTPS; resolves with the status, or 'handshake refused' when the TLS handshake fails. */
function httpsGet(port: number, host: string, ca: string, client?: { cert: string; key: string }): Promise<number | 'handshake refused'> {
  return new Promise((resolve) => {
    const req = httpsRequest({
      host: '127.0.0.1', port, path: '/', servername: host, ca, agent: false,
      headers: { host: `${host}:${port}`, accept: 'application/json' }, ...(client ?? {}),
    }, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode ?? 0)); });
    req.on('error', () => resolve('handshake refused'));
    req.end();
  });
}

describe('inline base64 TLS material', () => {
  let dir: string;
  let pki: TestPki;
  let limen: RunningLimen;
  let store: MemoryStore;
  let upstream: Awaited<ReturnType<typeof startDemoUpstream>>;
  let tlsUpstream: ProbeUpstream;
  let port: number;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'limen-inline-tls-'));
    pki = makePki(dir, { serverName: 'app.localhost' });
    upstream = await startDemoUpstream({ host: '127.0.0.1', port: 0 });
    // Self-signed for limen.test: trusted only through a route's tls_custom_ca.
    tlsUpstream = await startProbeUpstream({ cert: readFileSync(testdata('tls.pem'), 'utf8'), key: readFileSync(testdata('tls.key'), 'utf8') });
    port = await freePort();
    const open = { allow_public_unauthenticated_access: true };
    const config = parseConfig({
      address: `127.0.0.1:${port}`,
      certificate: b64(pki.serverCert),
      certificate_key: b64(pki.serverKey),
      downstream_mtls: { ca: b64(pki.ca), enforcement: 'reject_connection' },
      authenticate_service_url: `https://authenticate.localhost:${port}`,
      idp_provider_url: 'http://127.0.0.1:9', idp_client_id: 'x', idp_client_secret: 'y',
      shared_secret: SHARED_SECRET, cookie_secret: COOKIE_SECRET, databroker_storage_type: 'memory',
      routes: [
        { name: 'app', from: `https://app.localhost:${port}`, to: upstream.url, ...open },
        { name: 'trusted', from: `https://trusted.app.localhost:${port}`, to: tlsUpstream.url, tls_custom_ca: b64(readFileSync(testdata('tls.pem'), 'utf8')), tls_server_name: 'limen.test', ...open },
        { name: 'untrusted', from: `https://untrusted.app.localhost:${port}`, to: tlsUpstream.url, tls_server_name: 'limen.test', ...open },
      ],
    }, {});
    store = new MemoryStore();
    limen = await startLimen({ config, store, logger: silentLogger });
  });
  after(async () => {
    await limen.close();
    await upstream.close();
    await tlsUpstream.close();
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const client = () => ({ cert: pki.clientCert, key: pki.clientKey });
  test('the listener serves the inline certificate, and the inline CA admits a client certificate it signed', async () => {
    assert.equal(await httpsGet(port, 'app.localhost', pki.ca, client()), 200);
  });
  test('without a client certificate the handshake is refused (reject_connection with the inline CA)', async () => {
    assert.equal(await httpsGet(port, 'app.localhost', pki.ca), 'handshake refused');
  });
  test('a client certificate the inline CA did not sign is refused', async () => {
    const other = { cert: readFileSync(testdata('tls.pem'), 'utf8'), key: readFileSync(testdata('tls.key'), 'utf8') };
    assert.equal(await httpsGet(port, 'app.localhost', pki.ca, other), 'handshake refused');
  });
  test('a route\'s inline tls_custom_ca trusts its upstream; without it the same upstream is refused', async () => {
    // The server certificate covers app.localhost only; these names are routed by Host, the SNI stays app.localhost.
    const via = (name: string) => new Promise<number>((resolve, reject) => {
      const req = httpsRequest({ host: '127.0.0.1', port, path: '/fast', servername: 'app.localhost', ca: pki.ca, agent: false, ...client(), headers: { host: `${name}.app.localhost:${port}`, accept: 'application/json' } }, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode ?? 0)); });
      req.on('error', reject);
      req.end();
    });
    assert.equal(await via('trusted'), 200);
    assert.equal(await via('untrusted'), 502);
  });
});
