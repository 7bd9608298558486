/**
 * Server settings that take effect (timeouts, shutdown bound) and reloads
 * that cannot apply a change (listener, store, logger) and say so instead
 * of logging it as applied.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { startStack, type Stack } from './stack.js';
import { closeHttpAgents, request } from './support/index.js';
import { eventually, startProbeUpstream, type ProbeUpstream } from './support/upstream-probe.js';

/** A raw connection: what arrived, and how it ended. */
function rawClient(port: number): Promise<{ socket: Socket; received: () => string; ended: Promise<'end' | 'reset'> }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let data = '';
    socket.on('data', (d: Buffer) => { data += d.toString('latin1'); });
    const ended = new Promise<'end' | 'reset'>((r) => {
      socket.once('end', () => { socket.end(); r('end'); });
      socket.once('error', () => r('reset'));
      socket.once('close', () => r('end'));
    });
    socket.once('error', reject);
    socket.once('connect', () => resolve({ socket, received: () => data, ended }));
  });
}

describe('server settings', () => {
  let upstream: ProbeUpstream;
  let s: Stack;
  const logLines: string[] = [];
  const routes = () => [{ name: 'open', from: 'http://open.localhost:PORT', to: upstream.url, allow_public_unauthenticated_access: true }];
  const host = () => `open.localhost:${s.port}`;

  before(async () => {
    upstream = await startProbeUpstream();
    s = await startStack({ routes: [], logLines });
    await s.limen.reload(s.configWith(routes()));
  });
  after(async () => {
    await s.close();
    await upstream.close();
    await closeHttpAgents();
  });

  test('a reload that changes the listener or the store applies the rest, the log level too, and names those keys', async () => {
    const running = s.limen.runtime().config;
    logLines.length = 0;
    const result = await s.limen.reload(s.configWith([...routes(), { name: 'added', from: 'http://added.localhost:PORT', to: upstream.url, allow_public_unauthenticated_access: true }], {
      address: '127.0.0.1:1', databroker_storage_type: 'file', log_level: 'warning', audit_retention: '1d',
    }));
    assert.deepEqual([...result.restartRequired].sort(), ['address', 'audit_retention', 'databroker_storage_connection_string', 'databroker_storage_type']);
    const now = s.limen.runtime().config;
    assert.deepEqual(now.address, running.address, 'the running address is kept');
    assert.equal(now.databrokerStorageType, 'memory');
    assert.equal(now.logLevel, 'warn', 'log_level is applied (Pomerium\'s "warning" read as warn), as Pomerium applies it');
    assert.equal(now.routes.length, 2, 'the rest is applied');
    assert.equal((await request(`http://added.localhost:${s.port}/fast`)).status, 200);
    const line = logLines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => Array.isArray(l.restart_required));
    assert.ok(line, logLines.join(''));
    assert.equal(line.level, 'warn');
    assert.match(String(line.message), /need a restart/);
    assert.ok(!logLines.some((l) => (JSON.parse(l) as { message: string }).message === 'config reloaded'), 'never logged as simply applied');
    // At warn, info lines (a request's access line) are no longer written.
    const quiet = await request(`http://added.localhost:${s.port}/fast?quiet`);
    assert.ok(!logLines.some((l) => l.includes(quiet.header('x-request-id') ?? '-') && l.includes('"http-request"')), 'no access line at warn');
    // Back to the running values: nothing needs a restart, and info lines are written again.
    assert.deepEqual((await s.limen.reload(s.configWith(routes()))).restartRequired, []);
    assert.ok(logLines.some((l) => (JSON.parse(l) as { message: string }).message === 'config reloaded'), 'info again');
  });

  test('timeout_write closes a response still being written after it; 0 leaves it', async () => {
    await s.limen.reload(s.configWith(routes(), { timeout_write: '1s' }));
    try {
      const c = await rawClient(s.port);
      c.socket.write(`GET /stream HTTP/1.1\r\nHost: ${host()}\r\n\r\n`);
      await c.ended;
      assert.match(c.received(), /^HTTP\/1\.1 200/);
      assert.ok(!c.received().endsWith('0\r\n\r\n'), 'the endless response was cut, not completed');
      const ok = await request(`http://${host()}/slow?ms=100`);
      assert.equal(ok.text(), 'slow done', 'a response within the bound is whole');
    } finally {
      await s.limen.reload(s.configWith(routes()));
    }
    const c = await rawClient(s.port);
    c.socket.write(`GET /slow?ms=1500 HTTP/1.1\r\nHost: ${host()}\r\n\r\n`);
    assert.ok(await eventually(() => c.received().endsWith('slow done')), c.received());
    c.socket.destroy();
  });

  // The status written (if any) is the clientError handler's; what this
  // setting guarantees is that the connection and the upstream request end.
  test('timeout_read ends a request whose body does not arrive in time, upstream request included', async () => {
    await s.limen.reload(s.configWith(routes(), { timeout_read: '1s' }));
    try {
      const c = await rawClient(s.port);
      c.socket.write(`POST /upload HTTP/1.1\r\nHost: ${host()}\r\nContent-Length: 100\r\n\r\nonly-part`);
      await c.ended;
      assert.doesNotMatch(c.received(), /got /, 'the upstream never saw a whole body');
      assert.ok(await eventually(() => upstream.busy() === 0), 'the upstream request was ended too');
    } finally {
      await s.limen.reload(s.configWith(routes()));
    }
  });

  test('timeout_idle closes an idle keep-alive connection, without a reset', async () => {
    await s.limen.reload(s.configWith(routes(), { timeout_idle: '1s' }));
    try {
      const c = await rawClient(s.port);
      c.socket.write(`GET /fast HTTP/1.1\r\nHost: ${host()}\r\n\r\n`);
      assert.equal(await c.ended, 'end');
      assert.ok(c.received().endsWith('ok'), c.received());
    } finally {
      await s.limen.reload(s.configWith(routes()));
    }
  });
});

describe('shutdown_timeout bounds the drain', () => {
  test('a request still streaming at the bound is cut, and close() returns', async () => {
    const upstream = await startProbeUpstream();
    const logLines: string[] = [];
    const s = await startStack({
      routes: [{ name: 'open', from: 'http://open.localhost:PORT', to: upstream.url, allow_public_unauthenticated_access: true }],
      config: { shutdown_timeout: '1s' },
      logLines,
    });
    try {
      const c = await rawClient(s.port);
      c.socket.write(`GET /stream HTTP/1.1\r\nHost: open.localhost:${s.port}\r\n\r\n`);
      assert.ok(await eventually(() => c.received().includes('first chunk')));
      await s.limen.close();
      await c.ended;
      const cut = logLines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.message === 'shut down');
      assert.equal(cut?.cut, 1, logLines.join(''));
      // Logged as cut by Limen, not as the client leaving.
      const access = logLines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.message === 'http-request' && l.path === '/stream');
      assert.equal(access?.['response-code-details'], 'limen_shutdown_cut', logLines.join(''));
    } finally {
      await s.close().catch(() => undefined);
      await upstream.close();
      await closeHttpAgents();
    }
  });
});

describe('upstream settings', () => {
  const testdata = (name: string): string => fileURLToPath(new URL(`../src/config/testdata/${name}`, import.meta.url));
  let tlsUpstream: ProbeUpstream;
  let upstream: ProbeUpstream;
  let s: Stack;
  before(async () => {
    // Self-signed for limen.test: only trusted with tls_custom_ca_file or tls_skip_verify.
    tlsUpstream = await startProbeUpstream({ cert: readFileSync(testdata('tls.pem'), 'utf8'), key: readFileSync(testdata('tls.key'), 'utf8') });
    upstream = await startProbeUpstream();
    const open = { allow_public_unauthenticated_access: true };
    s = await startStack({
      config: { default_upstream_timeout: '1s' },
      routes: [
        { name: 'untrusted', from: 'http://untrusted.localhost:PORT', to: tlsUpstream.url, ...open },
        { name: 'ca', from: 'http://ca.localhost:PORT', to: tlsUpstream.url, tls_custom_ca_file: testdata('tls.pem'), tls_server_name: 'limen.test', ...open },
        { name: 'wrong-name', from: 'http://wrong-name.localhost:PORT', to: tlsUpstream.url, tls_custom_ca_file: testdata('tls.pem'), tls_server_name: 'other.test', ...open },
        { name: 'skip', from: 'http://skip.localhost:PORT', to: tlsUpstream.url, tls_skip_verify: true, ...open },
        { name: 'defaults', from: 'http://defaults.localhost:PORT', to: upstream.url, ...open },
        { name: 'idle', from: 'http://idle.localhost:PORT', to: upstream.url, idle_timeout: '1s', timeout: '0', ...open },
      ],
    });
  });
  after(async () => {
    await s.close();
    await tlsUpstream.close();
    await upstream.close();
    await closeHttpAgents();
  });

  const cases: { route: string; path: string; status: number; reason?: string }[] = [
    { route: 'untrusted', path: '/fast', status: 502, reason: 'upstream-reset' },
    { route: 'ca', path: '/fast', status: 200 },
    { route: 'wrong-name', path: '/fast', status: 502, reason: 'upstream-reset' },
    { route: 'skip', path: '/fast', status: 200 },
    // default_upstream_timeout (1s here) is the route timeout: 504.
    { route: 'defaults', path: '/slow?ms=5000', status: 504, reason: 'upstream-timeout' },
  ];
  for (const c of cases) {
    test(`${c.route} ${c.path} → ${c.status}`, async () => {
      const res = await request(`http://${c.route}.localhost:${s.port}${c.path}`, { headers: { accept: 'application/json' } });
      assert.equal(res.status, c.status, res.text());
      if (c.reason) assert.deepEqual(res.json<{ reasons: string[] }>().reasons, [c.reason]);
    });
  }

  test('idle_timeout cuts an upstream response that stops sending', async () => {
    const c = await rawClient(s.port);
    c.socket.write(`GET /stall HTTP/1.1\r\nHost: idle.localhost:${s.port}\r\n\r\n`);
    await c.ended;
    assert.match(c.received(), /^HTTP\/1\.1 200/);
    assert.ok(c.received().includes('first chunk') && !c.received().endsWith('0\r\n\r\n'), 'cut, not completed');
    assert.ok(await eventually(() => upstream.busy() === 0), 'the upstream request is ended too');
  });
});
