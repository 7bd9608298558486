/**
 * Automatic certificates end to end (issue 15) against a real ACME server:
 * Debian's `pebble`, with `pebble-challtestsrv` as its DNS (every name →
 * 127.0.0.1), validating HTTP-01 for real on Limen's `http_redirect_addr`
 * listener. Issuance, serving by SNI and proxying, renewal on an injected
 * clock without a restart, a second replica sharing the directory, the
 * redirect listener, and a bad ACME URL.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { parseConfig } from '../src/config/index.js';
import { startDemoUpstream, startDevIdp } from '../src/devidp/index.js';
import { startLimen, type RunningLimen } from '../src/server/index.js';
import { MemoryStore } from '../src/store/index.js';
import { createLogger } from '../src/log/index.js';
import { AutocertManager } from '../src/autocert/index.js';
import { closeHttpAgents, request } from './support/index.js';
import { freePort } from './stack.js';

const PEBBLE = '/usr/bin/pebble';
const CHALLTESTSRV = '/usr/bin/pebble-challtestsrv';
const SECRET = Buffer.alloc(32, 9).toString('base64');

/** A self-signed certificate for pebble's own HTTPS on 127.0.0.1. */
function makePebbleCertificate(dir: string): { cert: string; key: string } {
  const cert = join(dir, 'pebble.pem');
  const key = join(dir, 'pebble.key');
  const r = spawnSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1',
    '-keyout', key, '-out', cert, '-subj', '/CN=pebble-test', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost',
  ], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl failed: ${r.stderr}`);
  return { cert, key };
}

async function waitFor(what: string, probe: () => Promise<boolean>, proc: ChildProcess, output: () => string, seconds = 10): Promise<void> {
  for (let i = 0; ; i++) {
    try { if (await probe()) return; } catch { /* not yet */ }
    if (i >= seconds * 10 || proc.exitCode !== null) throw new Error(`${what} did not come up: ${output()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function stop(p: ChildProcess | undefined): Promise<void> {
  if (p === undefined || p.exitCode !== null || p.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => { p.once('exit', () => resolve()); p.kill('SIGTERM'); });
}

/** The certificate Limen presents for `servername`. */
function peerCertificate(port: number, servername: string, ca: string): Promise<{ serial: string; issuer: string; validFrom: string }> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port, servername, ca }, () => {
      const c = s.getPeerCertificate();
      s.end();
      resolve({ serial: c.serialNumber, issuer: String(c.issuer.CN ?? ''), validFrom: c.valid_from });
    });
    s.once('error', reject);
  });
}

/** A plain HTTP request with a chosen Host header. */
function plainGet(port: number, host: string, path: string): Promise<{ status: number; location: string | undefined; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, headers: { host } }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => { body += d.toString(); });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, location: res.headers.location, body }));
    });
    req.once('error', reject);
    req.end();
  });
}

const missing = [PEBBLE, CHALLTESTSRV].filter((p) => !existsSync(p));

describe('autocert against pebble', { skip: missing.length > 0 ? `${missing.join(', ')} not installed` : false }, () => {
  let dir: string;
  let pebble: ChildProcess;
  let dns: ChildProcess;
  let pebbleOut = '';
  let acmeUrl: string;
  let pebbleTls: { cert: string; key: string };
  let rootPem: string;
  let limen: RunningLimen;
  let port: number;
  let redirectPort: number;
  let closeOthers: () => Promise<void>;
  let clock: number | undefined;
  const lines: string[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'limen-autocert-'));
    pebbleTls = makePebbleCertificate(dir);
    const [dnsPort, dnsMgmt, acmePort, acmeMgmt, tlsPort] = await Promise.all([freePort(), freePort(), freePort(), freePort(), freePort()]);
    port = await freePort();
    redirectPort = await freePort();
    dns = spawn(CHALLTESTSRV, ['-defaultIPv4', '127.0.0.1', '-defaultIPv6', '', '-dns01', `127.0.0.1:${dnsPort}`,
      '-http01', '', '-https01', '', '-tlsalpn01', '', '-management', `127.0.0.1:${dnsMgmt}`], { stdio: ['ignore', 'pipe', 'pipe'] });
    const config = join(dir, 'pebble.json');
    writeFileSync(config, JSON.stringify({
      pebble: {
        listenAddress: `127.0.0.1:${acmePort}`, managementListenAddress: `127.0.0.1:${acmeMgmt}`,
        certificate: pebbleTls.cert, privateKey: pebbleTls.key,
        // HTTP-01 is validated on Limen's http_redirect_addr listener; nothing answers TLS-ALPN-01.
        httpPort: redirectPort, tlsPort, ocspResponderURL: '', externalAccountBindingRequired: false,
      },
    }));
    pebble = spawn(PEBBLE, ['-config', config, '-dnsserver', `127.0.0.1:${dnsPort}`], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, PEBBLE_VA_NOSLEEP: '1', PEBBLE_WFE_NONCEREJECT: '0', PEBBLE_AUTHZREUSE: '0' },
    });
    pebble.stdout?.on('data', (d: Buffer) => { pebbleOut += d.toString(); });
    pebble.stderr?.on('data', (d: Buffer) => { pebbleOut += d.toString(); });
    acmeUrl = `https://127.0.0.1:${acmePort}/dir`;
    const ca = (await import('node:fs')).readFileSync(pebbleTls.cert);
    await waitFor('pebble', async () => (await request(acmeUrl, { tls: { ca }, lookupAll127: false, timeoutMs: 1000 })).status === 200, pebble, () => pebbleOut);
    // Pebble makes a new root at every start; its management port hands it out.
    rootPem = (await request(`https://127.0.0.1:${acmeMgmt}/roots/0`, { tls: { ca }, lookupAll127: false })).text();
    assert.match(rootPem, /BEGIN CERTIFICATE/);

    const upstream = await startDemoUpstream({ host: '127.0.0.1', port: 0 });
    const idp = await startDevIdp({ clients: [{ clientId: 'limen-test', clientSecret: 'x'.repeat(32), redirectUris: [`https://authenticate.example.test:${port}/oauth2/callback`] }], log: () => {} });
    closeOthers = async () => { await idp.close(); await upstream.close(); };
    limen = await startLimen({
      config: parseConfig({
        address: `127.0.0.1:${port}`,
        autocert: true,
        autocert_dir: join(dir, 'certs'),
        autocert_ca: acmeUrl,
        autocert_trusted_ca_file: pebbleTls.cert,
        autocert_email: 'ops@example.test',
        http_redirect_addr: `127.0.0.1:${redirectPort}`,
        authenticate_service_url: `https://authenticate.example.test:${port}`,
        idp_provider_url: idp.issuer, idp_client_id: 'limen-test', idp_client_secret: 'x'.repeat(32),
        shared_secret: SECRET, cookie_secret: SECRET, databroker_storage_type: 'memory',
        routes: [
          { from: `https://app.example.test:${port}`, to: upstream.url, allow_public_unauthenticated_access: true },
          { from: `https://*.wild.example.test:${port}`, to: upstream.url, allow_public_unauthenticated_access: true },
        ],
      }, {}),
      store: new MemoryStore(),
      logger: createLogger('debug', (l) => { lines.push(l); }),
      accessLogDestination: { write: () => undefined } as never,
      autocert: { now: () => clock ?? Date.now(), httpRetries: 0 },
    });
    // The first certificates are issued in the background; wait until both are served.
    // Two orders, one after the other, each polled with back-off: allow a loaded machine a minute.
    await waitFor('issuance', async () => limen.autocert!.status().ok, pebble, () => `${limen.autocert!.status().error}\n${lines.join('')}`, 60);
  });

  after(async () => {
    await limen?.close();
    await closeOthers?.();
    await Promise.all([stop(pebble), stop(dns)]);
    await closeHttpAgents();
    rmSync(dir, { recursive: true, force: true });
  });

  test('every route host and the authenticate host get a certificate from pebble, served by SNI; the request is proxied', async () => {
    for (const host of ['app.example.test', 'authenticate.example.test']) {
      const cert = await peerCertificate(port, host, rootPem);
      assert.match(cert.issuer, /Pebble Intermediate/i, host);
    }
    const res = await request(`https://app.example.test:${port}/hello`, { tls: { ca: rootPem } });
    assert.equal(res.status, 200);
    assert.match(res.text(), /hello/i);
  });

  test('a wildcard route host gets no certificate, with a warning that says why', () => {
    assert.ok(lines.some((l) => l.includes('no certificate can be obtained') && l.includes('*.wild.example.test') && l.includes('DNS-01')));
    assert.equal(limen.autocert!.certificate('*.wild.example.test'), undefined);
  });

  test('the certificate and the account key are stored in autocert_dir, and a second replica serves them without issuing', async () => {
    const caDirs = readdirSync(join(dir, 'certs', 'acme'));
    assert.equal(caDirs.length, 1);
    assert.deepEqual(readdirSync(join(dir, 'certs', 'acme', caDirs[0]!, 'certs')).sort(), ['app.example.test.pem', 'authenticate.example.test.pem']);
    assert.ok(existsSync(join(dir, 'certs', 'acme', caDirs[0]!, 'account.key')));
    const replicaLines: string[] = [];
    const replica = await AutocertManager.create({
      dir: join(dir, 'certs'), directoryUrl: acmeUrl, trustedCa: (await import('node:fs')).readFileSync(pebbleTls.cert, 'utf8'),
      logger: createLogger('debug', (l) => { replicaLines.push(l); }), holder: 'replica-2', httpRetries: 0,
    });
    replica.setHosts(['app.example.test']);
    await replica.check();
    await replica.close();
    assert.deepEqual(replica.certificate('app.example.test')?.serial, limen.autocert!.certificate('app.example.test')?.serial);
    assert.ok(!replicaLines.some((l) => l.includes('requesting a certificate')), 'the replica did not ask the CA');
  });

  test('renewal: before two thirds of the lifetime nothing changes; after, a new certificate is served without a restart', async () => {
    const first = limen.autocert!.certificate('app.example.test')!;
    const served = await peerCertificate(port, 'app.example.test', rootPem);
    const life = first.notAfter - first.notBefore;
    for (const { at, renewed } of [
      { at: first.notBefore + life * 0.6, renewed: false },
      { at: first.notBefore + life * 0.7, renewed: true },
    ]) {
      clock = at;
      await limen.autocert!.check();
      clock = undefined;
      const now = limen.autocert!.certificate('app.example.test')!;
      assert.equal(now.serial !== first.serial, renewed, `at ${Math.round((at - first.notBefore) / life * 100)}% of the lifetime`);
    }
    const after = await peerCertificate(port, 'app.example.test', rootPem);
    assert.notEqual(after.serial, served.serial, 'the HTTPS listener serves the renewed certificate');
    assert.equal(after.serial.toLowerCase(), limen.autocert!.certificate('app.example.test')!.serial.toLowerCase());
    assert.ok(lines.some((l) => l.includes('certificate renewed')));
  });

  test('the HTTP listener answers ACME challenges and redirects everything else to HTTPS', async () => {
    const caDir = readdirSync(join(dir, 'certs', 'acme'))[0]!;
    assert.ok(caDir);
    // A challenge another replica wrote to the shared directory is answered here too.
    writeFileSync(join(dir, 'certs', 'challenges', 'tok-from-replica'), 'tok-from-replica.thumbprint');
    const cases = [
      { host: 'app.example.test', path: '/.well-known/acme-challenge/tok-from-replica', status: 200, body: 'tok-from-replica.thumbprint' },
      { host: 'app.example.test', path: '/.well-known/acme-challenge/unknown', status: 404 },
      // Only a token's characters are looked up: never a path into the directory.
      { host: 'app.example.test', path: '/.well-known/acme-challenge/../../acme', status: 404 },
      { host: 'app.example.test', path: '/some/page?x=1', status: 301, location: `https://app.example.test:${port}/some/page?x=1` },
      { host: `authenticate.example.test:${redirectPort}`, path: '/', status: 301, location: `https://authenticate.example.test:${port}/` },
      { host: 'other.example.test', path: '/a', status: 301, location: 'https://other.example.test/a' },
      { host: 'bad host', path: '/a', status: 400 },
    ];
    for (const c of cases) {
      const res = await plainGet(redirectPort, c.host, c.path);
      assert.equal(res.status, c.status, `${c.host}${c.path}`);
      if (c.location !== undefined) assert.equal(res.location, c.location);
      if (c.body !== undefined) assert.equal(res.body, c.body);
    }
  });

  test('other ACME failures are named in words', async () => {
    const trusted = (await import('node:fs')).readFileSync(pebbleTls.cert, 'utf8');
    const cases = [
      { name: 'not an ACME directory', url: acmeUrl.replace(/\/dir$/, '/nothing-here'), trustedCa: trusted, want: /the directory answered HTTP 404; is autocert_ca an ACME directory URL\?/ },
      { name: 'the CA\'s certificate is not trusted', url: acmeUrl, trustedCa: undefined, want: /its TLS certificate is not trusted \(for a private CA set autocert_trusted_ca_file\)/ },
    ];
    for (const c of cases) {
      const m = await AutocertManager.create({ dir: join(dir, `fail-${cases.indexOf(c)}`), directoryUrl: c.url, trustedCa: c.trustedCa, logger: createLogger('error', () => undefined), holder: 't', httpRetries: 0 });
      m.start(['app.example.test']);
      await m.check();
      await m.close();
      assert.match(m.status().error ?? '', c.want, c.name);
    }
  });

  test('a bad ACME URL is a clear error in the log and in /readyz, not a crash', async () => {
    const closed = await freePort();
    const healthPort = await freePort();
    const badLines: string[] = [];
    const bad = await startLimen({
      config: parseConfig({
        address: '127.0.0.1:0',
        autocert: true, autocert_dir: join(dir, 'bad'), autocert_ca: `https://127.0.0.1:${closed}/directory`,
        http_redirect_addr: '127.0.0.1:0', health_check_addr: `127.0.0.1:${healthPort}`,
        authenticate_service_url: 'https://authenticate.bad.test',
        idp_provider_url: 'https://idp.example.test', idp_client_id: 'x',
        shared_secret: SECRET, cookie_secret: SECRET, databroker_storage_type: 'memory',
        routes: [{ from: 'https://app.bad.test', to: 'http://127.0.0.1:9', allow_public_unauthenticated_access: true }],
      }, {}),
      store: new MemoryStore(),
      logger: createLogger('debug', (l) => { badLines.push(l); }),
      accessLogDestination: { write: () => undefined } as never,
      autocert: { httpRetries: 0 },
    });
    try {
      await bad.autocert!.check();
      const status = bad.autocert!.status();
      assert.equal(status.ok, false);
      assert.match(status.error!, new RegExp(`app\\.bad\\.test \\(failed: ACME server https://127\\.0\\.0\\.1:${closed}/directory: ECONNREFUSED: cannot reach the directory: connection refused`));
      assert.ok(badLines.some((l) => l.includes('could not issue the certificate') && l.includes('connection refused')));
      const ready = await request(`http://127.0.0.1:${healthPort}/readyz`, { lookupAll127: false });
      assert.equal(ready.status, 503);
      const body = JSON.parse(ready.text()) as { checks: Record<string, { status: string; error?: string }> };
      assert.equal(body.checks.autocert?.status, 'failed');
      assert.match(body.checks.autocert?.error ?? '', /connection refused/);
    } finally {
      await bad.close();
    }
  });
});
