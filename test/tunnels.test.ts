/**
 * Websocket tunnels open only on a real `101` for websocket: an upstream
 * that answers anything else gets its answer relayed as an ordinary
 * response, and the connection is closed, never reused as a raw tunnel.
 * The upstream here is a scripted TCP server so that it can answer an
 * upgrade the way a misbehaving (or plain HTTP) application would.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import { websocketAccept } from '../src/proxy/index.js';
import { closeHttpAgents } from './support/index.js';
import { startStack, type Stack } from './stack.js';

interface Seen { readonly line: string; readonly head: string }

/**
 * An upstream speaking raw HTTP/1.1 over TCP, answering by path:
 * `/ok-200` 200 keep-alive, `/chunked` 200 chunked keep-alive, `/switch-h2c`
 * 101 to h2c, `/bad-accept` 101 websocket with a wrong accept, `/real` a
 * proper 101 that then echoes raw bytes. Every request head it reads is kept.
 */
async function scriptedUpstream(): Promise<{ url: string; seen: Seen[]; raw: () => string; close: () => Promise<void> }> {
  const seen: Seen[] = [];
  let rawAll = '';
  const sockets = new Set<Socket>();
  const server: Server = createServer((sock) => {
    sockets.add(sock);
    sock.once('close', () => sockets.delete(sock));
    sock.on('error', () => undefined);
    let buf = '';
    let echoing = false;
    sock.on('data', (d) => {
      rawAll += d.toString('latin1');
      if (echoing) { sock.write(d); return; }
      buf += d.toString('latin1');
      for (let end = buf.indexOf('\r\n\r\n'); end >= 0 && !echoing; end = buf.indexOf('\r\n\r\n')) {
        const head = buf.slice(0, end);
        buf = buf.slice(end + 4);
        const line = head.split('\r\n', 1)[0]!;
        seen.push({ line, head });
        const path = line.split(' ')[1] ?? '';
        const key = /\r\nsec-websocket-key: *([^\r]*)/i.exec(head)?.[1] ?? '';
        if (path === '/chunked') {
          sock.write('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive\r\n\r\n5\r\nhello\r\n0\r\n\r\n');
        } else if (path === '/switch-h2c') {
          sock.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n');
        } else if (path === '/switch-bare') {
          sock.write('HTTP/1.1 101 Switching Protocols\r\n\r\n');
        } else if (path === '/bad-accept') {
          sock.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${websocketAccept('AAAAAAAAAAAAAAAAAAAAAA==')}\r\n\r\n`);
        } else if (path === '/real') {
          sock.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${websocketAccept(key)}\r\n\r\n`);
          echoing = true;
          if (buf.length > 0) sock.write(buf);
        } else {
          const body = JSON.stringify({ path, head });
          sock.write(`HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: keep-alive\r\n\r\n${body}`);
        }
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`, seen, raw: () => rawAll,
    close: () => new Promise((r) => { for (const s of sockets) s.destroy(); server.close(() => r()); }),
  };
}

/**
 * Opens a connection to Limen, writes `first`, and once the response head
 * has arrived writes `then` (when given) on the same socket. Resolves with
 * everything read when the connection closes.
 */
function exchange(port: number, first: string, then?: string): Promise<{ text: string; status: number }> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1');
    let text = '';
    let sentThen = false;
    const timer = setTimeout(() => { sock.destroy(); reject(new Error(`connection still open; read so far: ${text}`)); }, 20_000);
    sock.on('data', (d) => {
      text += d.toString('latin1');
      if (then !== undefined && !sentThen && text.includes('\r\n\r\n')) {
        sentThen = true;
        sock.write(then);
      }
    });
    sock.on('error', () => undefined);
    sock.on('close', () => {
      clearTimeout(timer);
      resolve({ text, status: Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0) });
    });
    sock.write(first);
  });
}

const key = (): string => randomBytes(16).toString('base64');

function upgradeRequest(host: string, path: string, extra = ''): string {
  return `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${key()}\r\n${extra}\r\n`;
}

function forgedRequest(host: string): string {
  return `GET /headers HTTP/1.1\r\nHost: ${host}\r\nX-Pomerium-Claim-Email: admin@example.com\r\nX-Pomerium-Jwt-Assertion: forged.jwt.value\r\n\r\n`;
}

describe('websocket tunnels', () => {
  let s: Stack;
  let up: Awaited<ReturnType<typeof scriptedUpstream>>;
  let host: string;

  before(async () => {
    up = await scriptedUpstream();
    s = await startStack({
      routes: [
        { name: 'ws', from: 'http://ws.localhost:PORT', to: up.url, allow_public_unauthenticated_access: true, allow_websockets: true },
        { name: 'plain', from: 'http://plain.localhost:PORT', to: 'UPSTREAM', allow_public_unauthenticated_access: true },
      ],
    });
    host = `ws.localhost:${s.port}`;
  });
  after(async () => {
    await s.close();
    await up.close();
    await closeHttpAgents();
  });

  const neverForwarded = (): void => {
    assert.ok(!up.seen.some((r) => r.line.startsWith('GET /headers')), `the upstream read a second request: ${up.seen.map((r) => r.line).join(' | ')}`);
    assert.ok(!up.raw().includes('forged.jwt.value'), 'the forged assertion reached the upstream');
    assert.ok(!/x-pomerium-claim-email: admin@example\.com/i.test(up.raw()), 'the forged claim header reached the upstream');
  };

  test('upgrade answered 200 keep-alive: relayed and closed, a forged request written next never reaches the upstream', async () => {
    up.seen.length = 0;
    const r = await exchange(s.port, upgradeRequest(host, '/ok-200'), forgedRequest(host));
    assert.equal(r.status, 200);
    assert.match(r.text, /\r\nconnection: close\r\n/i);
    assert.equal(up.seen.length, 1);
    assert.match(up.seen[0]!.line, /^GET \/ok-200 /);
    assert.ok(!r.text.includes('"path":"/headers"'), 'the client got an answer from the upstream to its second request');
    neverForwarded();
  });

  test('bytes pipelined behind the upgrade request never reach the upstream when it does not switch', async () => {
    up.seen.length = 0;
    for (const path of ['/ok-200', '/chunked', '/switch-h2c', '/bad-accept', '/switch-bare']) {
      const r = await exchange(s.port, upgradeRequest(host, path) + forgedRequest(host));
      assert.notEqual(r.status, 101, path);
      assert.ok(!/^HTTP\/1\.1 \d{3}[^]*HTTP\/1\.1 /.test(r.text), `${path}: a second response came back`);
    }
    neverForwarded();
  });

  test('a 101 to another protocol or with a wrong Sec-WebSocket-Accept is a 502, not a tunnel', async () => {
    for (const [path, want] of [['/switch-h2c', 'upstream-bad-switch'], ['/bad-accept', 'upstream-bad-switch'], ['/switch-bare', 'upstream-bad-switch']] as const) {
      const r = await exchange(s.port, upgradeRequest(host, path, 'Accept: application/json\r\n'), forgedRequest(host));
      assert.equal(r.status, 502, path);
      assert.ok(r.text.includes(want), `${path}: ${r.text}`);
    }
    neverForwarded();
  });

  test('a chunked keep-alive answer is relayed whole and the connection closed', async () => {
    const r = await exchange(s.port, upgradeRequest(host, '/chunked'), forgedRequest(host));
    assert.equal(r.status, 200);
    assert.match(r.text, /hello/);
    assert.match(r.text, /\r\nconnection: close\r\n/i);
    neverForwarded();
  });

  test('a real 101 opens the tunnel, and bytes the client sent early arrive after the switch', async () => {
    const r = await new Promise<string>((resolve, reject) => {
      const sock = connect(s.port, '127.0.0.1');
      let text = '';
      sock.on('data', (d) => {
        text += d.toString('latin1');
        if (text.includes('early-bytes')) { sock.destroy(); resolve(text); }
      });
      sock.on('error', reject);
      sock.write(upgradeRequest(host, '/real') + 'early-bytes');
    });
    assert.match(r, /^HTTP\/1\.1 101 /);
    assert.ok(r.indexOf('early-bytes') > r.indexOf('\r\n\r\n'));
  });

  test('the ws client still gets a working websocket through a real 101', async () => {
    // The scripted upstream echoes raw bytes after its 101; a masked client
    // frame echoed back is not a valid server frame, so the ws client sees
    // an open followed by a protocol error: the open is what is checked.
    const opened = await new Promise<boolean>((resolve) => {
      const ws = new WebSocket(`ws://127.0.0.1:${s.port}/real`, { headers: { host } });
      ws.on('open', () => { resolve(true); ws.terminate(); });
      ws.on('unexpected-response', () => resolve(false));
      ws.on('error', () => resolve(false));
    });
    assert.equal(opened, true);
  });

  test('an upgrade request with a body is refused and nothing reaches the upstream', async () => {
    up.seen.length = 0;
    for (const framing of ['Content-Length: 5\r\n', 'Transfer-Encoding: chunked\r\n']) {
      const body = framing.startsWith('Content') ? 'hello' : '5\r\nhello\r\n0\r\n\r\n';
      const r = await exchange(s.port, upgradeRequest(host, '/ok-200', `Accept: application/json\r\n${framing}`) + body);
      assert.equal(r.status, 400, framing);
      assert.ok(r.text.includes('upgrade-with-body'), r.text);
    }
    assert.equal(up.seen.length, 0);
  });

  test('h2c and other upgrades are ignored: served as an ordinary request without Upgrade, then closed', async () => {
    const plain = `plain.localhost:${s.port}`;
    const r = await exchange(s.port,
      `GET /h2c-check HTTP/1.1\r\nHost: ${plain}\r\nAccept: application/json\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\nHTTP2-Settings: AAMAAABkAAQAoAAAAAIAAAAA\r\n\r\n`,
      forgedRequest(plain));
    assert.equal(r.status, 200);
    assert.match(r.text, /\r\nconnection: close\r\n/i);
    const body = JSON.parse(r.text.slice(r.text.indexOf('{'), r.text.lastIndexOf('}') + 1)) as { headers: Record<string, string> };
    assert.equal(body.headers.upgrade, undefined);
    assert.equal(body.headers['http2-settings'], undefined);
    assert.ok(!r.text.includes('"url":"/headers"'));
    // On a websocket route, an h2c upgrade is also just a request.
    up.seen.length = 0;
    const w = await exchange(s.port, `GET /ok-200 HTTP/1.1\r\nHost: ${host}\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n`, forgedRequest(host));
    assert.equal(w.status, 200);
    assert.equal(up.seen.length, 1);
    assert.ok(!/\r\nupgrade:/i.test(up.seen[0]!.head));
    neverForwarded();
  });

  test('malformed websocket handshakes are refused before the upstream', async () => {
    up.seen.length = 0;
    const cases = [
      { name: 'no key', raw: `GET /ok-200 HTTP/1.1\r\nHost: ${host}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n`, want: 'websocket-key-invalid' },
      { name: 'POST', raw: `POST /ok-200 HTTP/1.1\r\nHost: ${host}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: ${key()}\r\n\r\n`, want: 'websocket-handshake-not-get' },
      { name: 'two protocols', raw: `GET /ok-200 HTTP/1.1\r\nHost: ${host}\r\nConnection: Upgrade\r\nUpgrade: websocket, h2c\r\nSec-WebSocket-Key: ${key()}\r\n\r\n`, want: 'upgrade-protocol-not-supported' },
    ];
    for (const c of cases) {
      const r = await exchange(s.port, c.raw.replace('\r\n\r\n', '\r\nAccept: application/json\r\n\r\n'));
      assert.equal(r.status, 400, c.name);
      assert.ok(r.text.includes(c.want), `${c.name}: ${r.text}`);
    }
    assert.equal(up.seen.length, 0);
  });
});
