/**
 * Upstream client certificates (`tls_client_cert*` / `tls_client_key*`),
 * proven with real TLS handshakes: an https upstream that requires a client
 * certificate signed by a CA made for this test answers when the route
 * presents one (inline or from files, plain requests and websocket
 * upgrades), and Limen answers 502 with a reason when the route has none.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { TLSSocket } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../src/config/index.js';
import { startLimen, type RunningLimen } from '../src/server/index.js';
import { MemoryStore } from '../src/store/index.js';
import { silentLogger } from '../src/log/index.js';
import { COOKIE_SECRET, freePort, SHARED_SECRET } from './stack.js';
import { makePki } from './support/pki.js';

const b64 = (pem: string): string => Buffer.from(pem).toString('base64');

const WS_GUID = '258EAFA5-E914-47DA-95CA-C5AB0DC85B11';
const accept = (key: string): string => createHash('sha1').update(key + WS_GUID).digest('base64');

describe('upstream client certificates', () => {
  let dir: string;
  let upstream: Server;
  let limen: RunningLimen;
  let store: MemoryStore;
  let port: number;
  /** Subject CN of the client certificate each upstream request came with. */
  const seen: string[] = [];

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'limen-upstream-mtls-'));
    makePki(dir, { serverName: 'upstream.test' });
    const read = (f: string) => readFileSync(join(dir, f), 'utf8');
    upstream = createServer({ cert: read('server.pem'), key: read('server.key'), ca: read('ca.pem'), requestCert: true, rejectUnauthorized: true }, (req, res) => {
      seen.push(String((req.socket as TLSSocket).getPeerCertificate().subject?.CN ?? ''));
      res.end('ok');
    });
    upstream.on('upgrade', (req, socket) => {
      seen.push(String((req.socket as TLSSocket).getPeerCertificate().subject?.CN ?? ''));
      socket.end(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept(String(req.headers['sec-websocket-key']))}\r\n\r\n`);
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    const to = `https://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    port = await freePort();
    const base = { to, tls_server_name: 'upstream.test', tls_custom_ca: b64(read('ca.pem')), allow_public_unauthenticated_access: true, allow_websockets: true };
    const config = parseConfig({
      address: `127.0.0.1:${port}`,
      insecure_server: true,
      authenticate_service_url: `http://authenticate.localhost:${port}`,
      idp_provider_url: 'http://127.0.0.1:9', idp_client_id: 'x', idp_client_secret: 'y',
      shared_secret: SHARED_SECRET, cookie_secret: COOKIE_SECRET, databroker_storage_type: 'memory',
      routes: [
        { ...base, from: `http://inline.localhost:${port}`, tls_client_cert: b64(read('client.pem')), tls_client_key: b64(read('client.key')) },
        { ...base, from: `http://files.localhost:${port}`, tls_client_cert_file: join(dir, 'client.pem'), tls_client_key_file: join(dir, 'client.key') },
        { ...base, from: `http://none.localhost:${port}` },
      ],
    }, {});
    store = new MemoryStore();
    limen = await startLimen({ config, store, logger: silentLogger });
  });
  after(async () => {
    await limen.close();
    upstream.closeAllConnections();
    await new Promise<void>((resolve) => upstream.close(() => resolve()));
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });

  /** A request through Limen: the status and body, or for an upgrade the status it answered with. */
  const via = (host: string, upgrade = false) => new Promise<{ status: number; body: string }>((resolve, reject) => {
    const headers: Record<string, string> = { host: `${host}.localhost:${port}`, accept: 'application/json' };
    if (upgrade) Object.assign(headers, { connection: 'Upgrade', upgrade: 'websocket', 'sec-websocket-version': '13', 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==' });
    const req = httpRequest({ host: '127.0.0.1', port, path: '/', headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => { body += c; });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('upgrade', (res, socket) => { socket.destroy(); resolve({ status: res.statusCode ?? 0, body: '' }); });
    req.on('error', reject);
    req.end();
  });

  const cases = [
    { name: 'inline tls_client_cert / tls_client_key', host: 'inline', want: 200 },
    { name: 'tls_client_cert_file / tls_client_key_file', host: 'files', want: 200 },
    { name: 'no client certificate', host: 'none', want: 502 },
  ];
  for (const c of cases) {
    test(`${c.name}: ${c.want}`, async () => {
      seen.length = 0;
      const r = await via(c.host);
      assert.equal(r.status, c.want, r.body);
      if (c.want === 200) {
        assert.equal(r.body, 'ok');
        assert.deepEqual(seen, ['client'], 'the upstream saw the client certificate');
      } else {
        assert.deepEqual(seen, [], 'the upstream refused the handshake');
        // With TLS 1.3 the upstream's refusal (a certificate_required alert) comes after Limen's side of the handshake completed.
        assert.match(String(JSON.parse(r.body).reasons), /^upstream-(reset|unreachable)$/);
      }
    });
    test(`${c.name}, websocket upgrade: ${c.want === 200 ? 101 : c.want}`, async () => {
      seen.length = 0;
      const r = await via(c.host, true);
      assert.equal(r.status, c.want === 200 ? 101 : c.want, r.body);
      if (c.want !== 200) assert.match(String(JSON.parse(r.body).reasons), /^upstream-(reset|unreachable)$/);
      else assert.deepEqual(seen, ['client']);
    });
  }
});
