import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../config/index.js';
import { PassThrough } from 'node:stream';
import type { HealthReport } from '../observe/index.js';
import { combineHealth, listenMode, relayLines, restartDelay, workerCount } from './workers.js';

const base = {
  shared_secret: Buffer.alloc(32, 1).toString('base64'), cookie_secret: Buffer.alloc(32, 2).toString('base64'),
  insecure_server: true, authenticate_service_url: 'http://auth.localhost', idp_provider_url: 'http://idp.localhost', idp_client_id: 'x',
};

describe('the workers key', () => {
  const accepted: { doc: Record<string, unknown>; env?: Record<string, string>; want: number | 'auto' }[] = [
    { doc: {}, want: 'auto' },
    { doc: { workers: 'auto' }, want: 'auto' },
    { doc: { workers: 'AUTO' }, want: 'auto' },
    { doc: { workers: 1 }, want: 1 },
    { doc: { workers: 4 }, want: 4 },
    { doc: { workers: '3' }, want: 3 },
    { doc: {}, env: { WORKERS: '2' }, want: 2 },
    { doc: {}, env: { WORKERS: 'auto' }, want: 'auto' },
    { doc: { workers: 1, databroker_storage_type: 'memory' }, want: 1 },
    { doc: { workers: 'auto', databroker_storage_type: 'memory' }, want: 'auto' },
    { doc: { workers: 2, databroker_storage_type: 'postgres', databroker_storage_connection_string: 'postgres://db/limen' }, want: 2 },
  ];
  for (const c of accepted) {
    test(`${JSON.stringify(c.doc)} ${JSON.stringify(c.env ?? {})} → ${c.want}`, () => {
      assert.equal(parseConfig({ ...base, ...c.doc }, c.env ?? {}).workers, c.want);
    });
  }

  const refused: { value: unknown; storage?: string; want: RegExp }[] = [
    { value: 0, want: /^workers: expected a whole number from 1 to 1024, got 0/ },
    { value: -2, want: /^workers: expected a whole number from 1 to 1024/ },
    { value: 1.5, want: /^workers: expected a whole number from 1 to 1024/ },
    { value: 2000, want: /^workers: expected a whole number from 1 to 1024/ },
    { value: 'all', want: /^workers: expected a whole number from 1 or auto, got "all"/ },
    { value: '', want: /^workers: expected a whole number from 1 or auto/ },
    { value: true, want: /^workers: expected a whole number from 1 to 1024/ },
    { value: [2], want: /^workers: expected a whole number from 1 to 1024/ },
    { value: 2, storage: 'memory', want: /^workers: 2 worker processes cannot share the memory store .*set workers: 1, or databroker_storage_type: file or postgres/ },
  ];
  for (const c of refused) {
    test(`refused: ${JSON.stringify(c.value)}${c.storage ? ` on ${c.storage}` : ''}`, () => {
      assert.throws(() => parseConfig({ ...base, workers: c.value, ...(c.storage ? { databroker_storage_type: c.storage } : {}) }, {}), (e: Error) => c.want.test(e.message));
    });
  }
});

describe('workerCount', () => {
  const cases: { workers: number | 'auto'; storage: 'memory' | 'file' | 'postgres'; cpus: number; want: number }[] = [
    { workers: 'auto', storage: 'file', cpus: 8, want: 8 },
    { workers: 'auto', storage: 'postgres', cpus: 2, want: 2 },
    { workers: 'auto', storage: 'memory', cpus: 8, want: 1 },
    { workers: 'auto', storage: 'file', cpus: 1, want: 1 },
    { workers: 3, storage: 'file', cpus: 8, want: 3 },
    { workers: 1, storage: 'memory', cpus: 8, want: 1 },
  ];
  for (const c of cases) {
    test(`${c.workers} on ${c.storage} with ${c.cpus} CPUs → ${c.want}`, () => {
      assert.equal(workerCount({ workers: c.workers, databrokerStorageType: c.storage }, c.cpus), c.want);
    });
  }
});

test('listenMode: reusePort on Linux from Node 22.12, node:cluster otherwise', () => {
  const cases: [string, NodeJS.Platform, string][] = [
    ['20.20.2', 'linux', 'cluster'], ['22.11.0', 'linux', 'cluster'], ['22.12.0', 'linux', 'reuse-port'],
    ['23.1.0', 'linux', 'reuse-port'], ['24.22.3', 'linux', 'reuse-port'], ['26.0.0', 'linux', 'reuse-port'],
    ['24.22.3', 'darwin', 'cluster'], ['24.22.3', 'win32', 'cluster'],
  ];
  for (const [version, platform, want] of cases) assert.equal(listenMode(version, platform), want, `${version} ${platform}`);
});

test('restartDelay doubles with each quick death in a row, up to the cap', () => {
  const o = { firstMs: 250, maxMs: 30_000 };
  assert.deepEqual([1, 2, 3, 4, 5, 8, 20].map((n) => restartDelay(n, o)), [250, 500, 1000, 2000, 4000, 30_000, 30_000]);
});

describe('relayLines: a worker\'s output copied to the primary\'s a whole line at a time', () => {
  test('lines cut anywhere between reads (inside a character too) arrive whole, in order', async () => {
    const lines = Array.from({ length: 200 }, (_, i) => `${JSON.stringify({ n: i, s: 'ünïcødé ✓ 😀'.repeat(i % 7) })}\n`);
    const bytes = Buffer.from(lines.join(''));
    for (const step of [1, 3, 7, 64, 1000, bytes.length]) {
      const from = new PassThrough();
      const got: string[] = [];
      const done = relayLines(from, (t) => got.push(t));
      for (let i = 0; i < bytes.length; i += step) from.write(bytes.subarray(i, i + step));
      from.end();
      await done;
      for (const piece of got) assert.ok(piece.endsWith('\n'), 'each copy ends a line');
      assert.equal(got.join(''), lines.join(''), `read ${step} bytes at a time`);
    }
  });

  test('while the destination says it is full, the source is paused; every line arrives once it is not', async () => {
    const from = new PassThrough();
    const got: string[] = [];
    let full = true;
    const done = relayLines(from, (t) => got.push(t), () => full);
    from.write('{"n":1}\n');
    await new Promise((r) => setTimeout(r, 50));
    assert.ok(from.isPaused(), 'paused while full');
    from.write('{"n":2}\n');
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(got, ['{"n":1}\n'], 'nothing more is read while full');
    full = false;
    await new Promise((r) => setTimeout(r, 50));
    assert.ok(!from.isPaused(), 'resumed');
    from.end('{"n":3}\n');
    await done;
    assert.equal(got.join(''), '{"n":1}\n{"n":2}\n{"n":3}\n');
  });

  test('what is left without a line end when the worker exits is copied, with one', async () => {
    const from = new PassThrough();
    const got: string[] = [];
    const done = relayLines(from, (t) => got.push(t));
    from.end('{"a":1}\n{"b":');
    await done;
    assert.deepEqual(got, ['{"a":1}\n', '{"b":\n']);
  });
});

describe('the primary\'s health: the workers\' reports combined', () => {
  const ok: HealthReport = { status: 'ok', checks: { 'config-loaded': { status: 'ok' }, 'listeners-up': { status: 'ok' }, 'store-reachable': { status: 'ok' }, 'idp-discovery': { status: 'ok' } } };
  const storeDown: HealthReport = { status: 'unhealthy', checks: { ...ok.checks, 'store-reachable': { status: 'failed', error: 'connect ECONNREFUSED' } } };
  const cases: { name: string; reports: (HealthReport | undefined)[]; status: 'ok' | 'unhealthy'; workers: 'ok' | 'failed'; failed: string[]; error?: RegExp }[] = [
    { name: 'every worker healthy', reports: [ok, ok], status: 'ok', workers: 'ok', failed: [] },
    { name: 'one worker with its store down', reports: [ok, storeDown], status: 'unhealthy', workers: 'ok', failed: ['store-reachable'] },
    { name: 'every worker with its store down', reports: [storeDown, storeDown], status: 'unhealthy', workers: 'failed', failed: ['store-reachable', 'workers'], error: /^no worker is healthy \(2 of 2 ready\)$/ },
    { name: 'one worker did not answer, the other healthy', reports: [undefined, ok], status: 'unhealthy', workers: 'ok', failed: ['listeners-up'] },
    { name: 'no worker answered', reports: [undefined, undefined], status: 'unhealthy', workers: 'failed', failed: ['listeners-up', 'workers'], error: /^no worker is healthy/ },
    { name: 'no worker ready (all being replaced)', reports: [], status: 'unhealthy', workers: 'failed', failed: ['workers'], error: /^no worker is ready \(of 2\)$/ },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const r = combineHealth(c.reports.map((report, i) => ({ id: i + 1, pid: 100 + i, report })), 2);
      assert.equal(r.status, c.status);
      assert.equal(r.checks.workers?.status, c.workers);
      if (c.error) assert.match(r.checks.workers?.error ?? '', c.error);
      assert.deepEqual(Object.entries(r.checks).filter(([, v]) => v?.status === 'failed').map(([k]) => k).sort(), c.failed);
      assert.deepEqual(r.workers?.map((w) => w.status), c.reports.map((x) => x?.status ?? 'unhealthy'));
    });
  }
});
