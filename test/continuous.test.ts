import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import WebSocket from 'ws';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CookieJar, request, scriptedLogin, closeHttpAgents } from './support/index.js';
import { startStack, freePort, SHARED_SECRET, COOKIE_SECRET, type Stack } from './stack.js';
import { loadRecords } from '../src/records/index.js';
import { parseConfig } from '../src/config/index.js';
import { startLimen, type RunningLimen } from '../src/server/index.js';
import { startDemoUpstream } from '../src/devidp/index.js';
import { MemoryStore } from '../src/store/index.js';
import { silentLogger } from '../src/log/index.js';

const JSON_ACCEPT = { accept: 'application/json' };

describe('continuous evaluation: every request is decided on current time, data and session', () => {
  let s: Stack;
  let clock = Date.parse('2026-11-23T10:00:00Z');
  before(async () => {
    s = await startStack({
      now: () => clock,
      websocketRecheckMs: 100,
      config: { cookie_expire: '200h' },
      routes: [
        { name: 'live', from: 'http://live.localhost:PORT', to: 'UPSTREAM', allow_any_authenticated_user: true, allow_websockets: true },
        {
          name: 'office-hours', from: 'http://hours.localhost:PORT', to: 'UPSTREAM',
          policy: { allow: { and: [{ authenticated_user: true }, { time_of_day: { timezone: 'Europe/Berlin', after: '09:00', before: '18:00' } }, { day_of_week: 'mon-fri' }] } },
        },
        {
          name: 'devices', from: 'http://devices.localhost:PORT', to: 'UPSTREAM',
          policy: [
            { allow: { and: [{ authenticated_user: true }] } },
            { deny: { or: [{ record: { type: 'device_status', key: 'email', field: 'vulnerable', '=': true } }] } },
          ],
        },
      ],
    });
  });
  after(async () => { await s.close(); await closeHttpAgents(); });

  test('a user allowed at 10:00 is refused at 20:00 with the time reason (frozen clock)', async () => {
    const jar = new CookieJar();
    await scriptedLogin(`${s.origin('hours')}/`, 'ada@example.com', { jar });
    clock = Date.parse('2026-11-23T09:00:00Z'); // 10:00 in Berlin, a Monday
    assert.equal((await request(`${s.origin('hours')}/`, { jar, headers: JSON_ACCEPT })).status, 200);
    clock = Date.parse('2026-11-23T19:00:00Z'); // 20:00 in Berlin
    const late = await request(`${s.origin('hours')}/`, { jar, headers: JSON_ACCEPT });
    assert.equal(late.status, 403);
    assert.ok(late.json<{ reasons: string[] }>().reasons.includes('time-of-day-unauthorized'), late.text());
    clock = Date.parse('2026-11-28T09:00:00Z'); // Saturday 10:00
    const weekend = await request(`${s.origin('hours')}/`, { jar, headers: JSON_ACCEPT });
    assert.equal(weekend.status, 403);
    assert.ok(weekend.json<{ reasons: string[] }>().reasons.includes('day-of-week-unauthorized'), weekend.text());
    clock = Date.parse('2026-11-23T10:00:00Z');
  });

  test('a record loaded at run time flips the decision on the next request', async () => {
    const jar = new CookieJar();
    await scriptedLogin(`${s.origin('devices')}/`, 'grace@example.com', { jar });
    assert.equal((await request(`${s.origin('devices')}/`, { jar, headers: JSON_ACCEPT })).status, 200);
    await loadRecords(s.store, 'device_status', [{ id: 'grace@example.com', vulnerable: true, cve: 'CVE-2026-0001' }]);
    const denied = await request(`${s.origin('devices')}/`, { jar, headers: JSON_ACCEPT });
    assert.equal(denied.status, 403);
    assert.deepEqual(denied.json<{ reasons: string[] }>().reasons, ['record-ok']);
    await loadRecords(s.store, 'device_status', [{ id: 'grace@example.com', vulnerable: false }]);
    assert.equal((await request(`${s.origin('devices')}/`, { jar, headers: JSON_ACCEPT })).status, 200);
  });

  test('an open websocket is closed once its session is revoked', async () => {
    const jar = new CookieJar();
    await scriptedLogin(`${s.origin('live')}/`, 'ws@example.com', { jar });
    const me = (await request(`${s.origin('live')}/.pomerium/user`, { jar, headers: JSON_ACCEPT })).json<{ session_id: string }>();
    const ws = new WebSocket(`ws://127.0.0.1:${s.port}/ws`, { headers: { host: `live.localhost:${s.port}`, cookie: jar.header(`${s.origin('live')}/`)! } });
    const echo = await new Promise<string>((resolve, reject) => {
      ws.once('open', () => ws.send('still here'));
      ws.once('message', (m) => resolve(m.toString()));
      ws.once('error', reject);
    });
    assert.equal(echo, 'still here');
    const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()));
    await s.limen.services.sessions.delete(me.session_id);
    await closed;
    await s.limen.services.audit.flush();
    const events = await s.store.queryAudit({ kind: 'websocket_closed' });
    assert.equal(events.length, 1);
    assert.equal(events[0]!.route, 'live');
  });

  test('a revoked session is refused on the next request', async () => {
    const jar = new CookieJar();
    await scriptedLogin(`${s.origin('devices')}/`, 'revoked@example.com', { jar });
    const me = (await request(`${s.origin('devices')}/.pomerium/user`, { jar, headers: JSON_ACCEPT })).json<{ session_id: string }>();
    assert.equal((await request(`${s.origin('devices')}/`, { jar, headers: JSON_ACCEPT })).status, 200);
    await s.limen.services.sessions.delete(me.session_id);
    assert.equal((await request(`${s.origin('devices')}/`, { jar, headers: JSON_ACCEPT })).status, 401);
  });
});

/** A throwaway CA with a server certificate and two client certificates (one from another CA). */
function makePki(dir: string): Record<string, string> {
  const o = (args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  const key = (name: string) => o(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', `${name}.key`]);
  for (const ca of ['ca', 'rogue-ca']) {
    key(ca);
    o(['req', '-x509', '-new', '-key', `${ca}.key`, '-days', '2', '-subj', `/CN=${ca}`, '-out', `${ca}.pem`]);
  }
  const leaf = (name: string, ca: string, ext: string) => {
    key(name);
    o(['req', '-new', '-key', `${name}.key`, '-subj', `/CN=${name}`, '-out', `${name}.csr`]);
    writeFileSync(join(dir, `${name}.ext`), ext);
    o(['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.pem`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-days', '2', '-extfile', `${name}.ext`, '-out', `${name}.pem`]);
  };
  leaf('server', 'ca', 'subjectAltName=DNS:mtls.localhost,DNS:open.localhost\n');
  leaf('alice', 'ca', 'subjectAltName=email:alice@example.com\nextendedKeyUsage=clientAuth\n');
  leaf('mallory', 'rogue-ca', 'subjectAltName=email:alice@example.com\nextendedKeyUsage=clientAuth\n');
  const read = (f: string) => readFileSync(join(dir, f), 'utf8');
  return { ca: read('ca.pem'), aliceCert: read('alice.pem'), aliceKey: read('alice.key'), malloryCert: read('mallory.pem'), malloryKey: read('mallory.key') };
}

function get(port: number, host: string, ca: string, client?: { cert: string; key: string }): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest({
      host: '127.0.0.1', port, path: '/', servername: host, ca,
      headers: { host: `${host}:${port}`, accept: 'application/json' },
      ...(client ?? {}),
      agent: false,
    }, (res) => {
      let body = '';
      res.on('data', (d) => { body += d; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('downstream mTLS: client certificates in policy', () => {
  let dir: string;
  let pki: Record<string, string>;
  let limen: RunningLimen;
  let upstream: Awaited<ReturnType<typeof startDemoUpstream>>;
  let port: number;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'limen-mtls-'));
    pki = makePki(dir);
    upstream = await startDemoUpstream({ host: '127.0.0.1', port: 0 });
    port = await freePort();
    const config = parseConfig({
      address: `127.0.0.1:${port}`,
      certificate_file: join(dir, 'server.pem'),
      certificate_key_file: join(dir, 'server.key'),
      authenticate_service_url: `https://authenticate.localhost:${port}`,
      idp_provider_url: 'http://127.0.0.1:9', idp_client_id: 'x', idp_client_secret: 'y',
      shared_secret: SHARED_SECRET, cookie_secret: COOKIE_SECRET,
      databroker_storage_type: 'memory',
      downstream_mtls: { ca_file: join(dir, 'ca.pem'), enforcement: 'policy' },
      routes: [
        { from: `https://mtls.localhost:${port}`, to: upstream.url, policy: { allow: { and: [{ client_certificate: { san_email: 'alice@example.com' } }] }, deny: { or: [{ invalid_client_certificate: true }] } } },
        { from: `https://open.localhost:${port}`, to: upstream.url, allow_public_unauthenticated_access: true },
      ],
    }, {});
    limen = await startLimen({ config, store: new MemoryStore(), logger: silentLogger });
  });
  after(async () => {
    await limen.close();
    await upstream.close();
    rmSync(dir, { recursive: true, force: true });
  });

  test('the right certificate is allowed; a certificate from another CA or none is refused', async () => {
    const ok = await get(port, 'mtls.localhost', pki.ca!, { cert: pki.aliceCert!, key: pki.aliceKey! });
    assert.equal(ok.status, 200, ok.body);
    const rogue = await get(port, 'mtls.localhost', pki.ca!, { cert: pki.malloryCert!, key: pki.malloryKey! });
    assert.equal(rogue.status, 403);
    assert.ok(JSON.parse(rogue.body).reasons.includes('invalid-client-certificate'), rogue.body);
    const none = await get(port, 'mtls.localhost', pki.ca!);
    assert.equal(none.status, 403);
    // With enforcement "policy", a route that does not ask for a certificate does not need one.
    assert.equal((await get(port, 'open.localhost', pki.ca!)).status, 200);
  });

  test('policy_with_default_deny refuses a request without a valid certificate on every route', async () => {
    const cfg = limen.runtime().config;
    const raw = parseConfig({
      address: `127.0.0.1:${port}`, certificate_file: cfg.certificateFile, certificate_key_file: cfg.certificateKeyFile,
      authenticate_service_url: `https://authenticate.localhost:${port}`,
      idp_provider_url: 'http://127.0.0.1:9', idp_client_id: 'x', idp_client_secret: 'y',
      shared_secret: SHARED_SECRET, cookie_secret: COOKIE_SECRET, databroker_storage_type: 'memory',
      downstream_mtls: { ca_file: join(dir, 'ca.pem') },
      routes: [{ from: `https://open.localhost:${port}`, to: upstream.url, allow_public_unauthenticated_access: true }],
    }, {});
    await limen.reload(raw);
    const none = await get(port, 'open.localhost', pki.ca!);
    assert.equal(none.status, 403);
    assert.deepEqual(JSON.parse(none.body).reasons, ['invalid-client-certificate']);
    assert.equal((await get(port, 'open.localhost', pki.ca!, { cert: pki.aliceCert!, key: pki.aliceKey! })).status, 200);
  });
});
