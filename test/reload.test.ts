import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request, runCli, closeHttpAgents } from './support/index.js';
import { freePort, startStack, SHARED_SECRET, COOKIE_SECRET, type Stack } from './stack.js';
import { startDemoUpstream } from '../src/devidp/index.js';

const JSON_ACCEPT = { accept: 'application/json' };
const REPO = new URL('..', import.meta.url).pathname;

describe('config reload in process', () => {
  let s: Stack;
  // An upstream that says when a request has arrived and answers only when told, so the
  // reload below lands while a request is provably in flight (no sleeps).
  let arrived!: () => void;
  const arrival = new Promise<void>((r) => { arrived = r; });
  let release!: () => void;
  const released = new Promise<void>((r) => { release = r; });
  const held = createServer((req, res) => { arrived(); void released.then(() => res.end('done')); });
  let heldUrl = '';
  before(async () => {
    await new Promise<void>((r) => held.listen(0, '127.0.0.1', r));
    heldUrl = `http://127.0.0.1:${(held.address() as AddressInfo).port}`;
    s = await startStack({ routes: [{ name: 'r', from: 'http://r.localhost:PORT', to: heldUrl, allow_public_unauthenticated_access: true }] });
  });
  after(async () => {
    release();
    await s.close();
    await closeHttpAgents();
    await new Promise<void>((r) => held.close(() => r()));
  });

  test('new routes and policies apply to new requests; in-flight requests finish', async () => {
    const inflight = request(`${s.origin('r')}/slow`, { headers: JSON_ACCEPT });
    await arrival;
    await s.limen.reload(s.configWith([
      { name: 'r', from: 'http://r.localhost:PORT', to: heldUrl, allow_any_authenticated_user: true },
      { name: 'n', from: 'http://n.localhost:PORT', to: 'UPSTREAM', allow_public_unauthenticated_access: true },
    ]));
    release();
    const done = await inflight;
    assert.equal(done.status, 200, 'the in-flight request completed on the old config');
    assert.equal(done.text(), 'done');
    assert.equal((await request(`${s.origin('r')}/`, { headers: JSON_ACCEPT })).status, 401);
    assert.equal((await request(`${s.origin('n')}/`, { headers: JSON_ACCEPT })).status, 200);
  });

  test('a reload with a bad policy is refused and the running config stays', async () => {
    const before = s.limen.runtime();
    await assert.rejects(s.limen.reload(s.configWith([
      { name: 'bad', from: 'http://r.localhost:PORT', to: 'UPSTREAM', policy: { allow: { or: [{ emial: 'x' }] } } },
    ])), /routes\[0\]\.policy.*emial/);
    assert.equal(s.limen.runtime(), before);
  });
});

function waitForOutput(child: ChildProcess, pattern: RegExp, timeoutMs = 20_000): Promise<string> {
  return new Promise((resolve, reject) => {
    let seen = '';
    const timer = setTimeout(() => reject(new Error(`timed out waiting for ${pattern}; got:\n${seen}`)), timeoutMs);
    const on = (d: Buffer) => {
      seen += d.toString();
      if (pattern.test(seen)) { clearTimeout(timer); child.stdout?.off('data', on); child.stderr?.off('data', on); resolve(seen); }
    };
    child.stdout?.on('data', on);
    child.stderr?.on('data', on);
  });
}

describe('limen serve --config: reload on SIGHUP and on file change', () => {
  let dir: string;
  let child: ChildProcess;
  let port: number;
  let upstream: Awaited<ReturnType<typeof startDemoUpstream>>;
  let started = '';
  const file = () => join(dir, 'limen.yaml');
  const yaml = (routeHost: string, extra = '') => `
address: 127.0.0.1:${port}
insecure_server: true
authenticate_service_url: http://authenticate.localhost:${port}
idp_provider_url: http://127.0.0.1:9/unused
idp_client_id: limen
idp_client_secret: s3cret
shared_secret: ${SHARED_SECRET}
cookie_secret: ${COOKIE_SECRET}
databroker_storage_type: memory
log_level: debug
routes:
  - from: http://${routeHost}.localhost:${port}
    to: ${upstream.url}
    allow_public_unauthenticated_access: true
${extra}`;

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'limen-reload-'));
    port = await freePort();
    upstream = await startDemoUpstream({ host: '127.0.0.1', port: 0 });
    writeFileSync(file(), yaml('one'));
    child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/main.ts', 'serve', '--config', file()], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
    started = await waitForOutput(child, /limen listening/);
  });
  after(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGTERM');
      await exited;
    }
    await upstream.close();
    rmSync(dir, { recursive: true, force: true });
    await closeHttpAgents();
  });

  test('log_level: debug logs the effective config at start, secrets redacted', () => {
    const line = started.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.message === 'effective config');
    assert.ok(line, started);
    assert.equal(line.level, 'debug');
    assert.match(String(line.config), /^log_level: debug$/m);
    assert.match(String(line.config), /^idp_client_secret: "?\[redacted\]"?$/m);
    for (const secret of ['s3cret', SHARED_SECRET, COOKIE_SECRET]) assert.ok(!started.includes(secret), 'no secret in the start-up lines');
  });

  test('routes change after the file changes; an invalid file keeps the old config and says why', async () => {
    const url = (h: string) => `http://${h}.localhost:${port}/`;
    assert.equal((await request(url('one'), { headers: JSON_ACCEPT })).status, 200);
    writeFileSync(file(), yaml('two'));
    child.kill('SIGHUP');
    const reloaded = await waitForOutput(child, /config reloaded/);
    // log_level: debug names what a reload changed, by name only.
    const changed = reloaded.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.message === 'config reload: what changed');
    assert.ok(changed, reloaded);
    assert.equal(changed.level, 'debug');
    assert.deepEqual(changed.routes_added, [`http://two.localhost:${port}`]);
    assert.deepEqual(changed.routes_removed, [`http://one.localhost:${port}`]);
    assert.deepEqual(changed.routes_changed, []);
    assert.equal((await request(url('two'), { headers: JSON_ACCEPT })).status, 200);
    assert.equal((await request(url('one'), { headers: JSON_ACCEPT })).status, 404);

    writeFileSync(file(), yaml('three', 'cookie_expir: 1h\n'));
    const out = await waitForOutput(child, /keeping the running config/);
    assert.match(out, /cookie_expir/);
    assert.match(out, /cookie_expire/, 'names the nearest known key');
    assert.equal((await request(url('two'), { headers: JSON_ACCEPT })).status, 200, 'old config still serves');
    assert.equal((await request(url('three'), { headers: JSON_ACCEPT })).status, 404);
  });
});

describe('limen config check', () => {
  test('prints ok for a valid file and names the key for a bad one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'limen-check-'));
    const run = async (args: string[]) => {
      const r = await runCli(args);
      return { code: r.code ?? -1, out: r.stdout + r.stderr };
    };
    const base = `insecure_server: true\nauthenticate_service_url: http://auth.localhost\nidp_provider_url: http://127.0.0.1:9\nidp_client_id: x\nidp_client_secret: y\nshared_secret: ${SHARED_SECRET}\ncookie_secret: ${COOKIE_SECRET}\n`;
    const cases: { name: string; text: string; code: number; want: RegExp }[] = [
      { name: 'valid', text: `${base}routes:\n  - from: http://a.localhost\n    to: http://127.0.0.1:1\n    allow_any_authenticated_user: true\n`, code: 0, want: /^ok: .* \(1 route\)/m },
      { name: 'unknown key', text: `${base}sharedsecret: x\n`, code: 1, want: /sharedsecret.*did you mean "shared_secret"/ },
      { name: 'bad duration', text: `${base}cookie_expire: soon\n`, code: 1, want: /cookie_expire.*duration/ },
      { name: 'short secret', text: base.replace(SHARED_SECRET, 'c2hvcnQ='), code: 1, want: /shared_secret/ },
      { name: 'ignored key beside an error', text: `${base}pomerium_debug: true\ncookie_expire: soon\n`, code: 1, want: /:8:1: warning: pomerium_debug: ignored[\s\S]*:9:\d+: error: cookie_expire/ },
      { name: 'ignored key beside a policy error', text: `${base}pomerium_debug: true\nroutes:\n  - from: http://a.localhost\n    to: http://127.0.0.1:1\n    policy:\n      allow:\n        or:\n          - email: {startswith: x}\n`, code: 1, want: /warning: pomerium_debug[\s\S]*error: routes\[0\]\.policy/ },
      { name: 'bad policy', text: `${base}routes:\n  - from: http://a.localhost\n    to: http://127.0.0.1:1\n    policy:\n      allow:\n        or:\n          - email: {startswith: x}\n`, code: 1, want: /routes\[0\]\.policy.*startswith/ },
    ];
    try {
      for (const c of cases) {
        const f = join(dir, `${c.name.replace(/ /g, '-')}.yaml`);
        writeFileSync(f, c.text);
        const r = await run(['config', 'check', '--config', f]);
        assert.equal(r.code, c.code, `${c.name}: ${r.out}`);
        assert.match(r.out, c.want, c.name);
        assert.ok(!r.out.includes('c2hvcnQ='), 'secret value never echoed');
      }
      const help = await run(['config', 'check', '--help']);
      assert.equal(help.code, 0);
      assert.match(help.out, /Usage: limen config check/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
