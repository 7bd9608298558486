import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { openStore, type Store } from '../store/index.js';
import { Metrics } from './metrics.js';
import { MeasuredStore } from './store.js';

/** `limen_store_operation_duration_seconds_count` by operation, from a scrape. */
async function counts(m: Metrics): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  for (const line of (await m.scrape()).split('\n')) {
    const match = /^limen_store_operation_duration_seconds_count\{operation="([^"]+)"\} (\S+)$/.exec(line);
    if (match) out.set(match[1]!, Number(match[2]));
  }
  return out;
}

/** Each store operation, called through the wrapper and straight on a store with the same contents. */
const CALLS: readonly { method: keyof Store; op: string; call: (s: Store) => Promise<unknown> }[] = [
  { method: 'get', op: 'get', call: (s) => s.get('session', 'a') },
  { method: 'put', op: 'put', call: (s) => s.put('session', 'b', { n: 2 }) },
  { method: 'replace', op: 'replace', call: (s) => s.replace('session', 'a', { n: 3 }) },
  { method: 'delete', op: 'delete', call: (s) => s.delete('session', 'b') },
  { method: 'list', op: 'list', call: (s) => s.list('session') },
  { method: 'purgeExpired', op: 'purge_expired', call: (s) => s.purgeExpired() },
  { method: 'appendAudit', op: 'append_audit', call: (s) => s.appendAudit([{ id: 'e1', time: 1000, kind: 'authorize', details: {} }]) },
  { method: 'queryAudit', op: 'query_audit', call: (s) => s.queryAudit({}) },
  { method: 'pruneAudit', op: 'prune_audit', call: (s) => s.pruneAudit(500) },
  { method: 'tryLease', op: 'try_lease', call: (s) => s.tryLease('retention', 'me', 1000) },
];

/** Records' versions and times differ between two stores; what an operation answers is compared without them. */
function shape(v: unknown): unknown {
  return JSON.parse(JSON.stringify(v ?? null, (k, x: unknown) => (k === 'version' || k === 'createdAt' || k === 'updatedAt' || k === 'modifiedAt' ? undefined : x))) as unknown;
}

describe('MeasuredStore: every store operation timed, answered as the store answers it', () => {
  test('each operation delegates, answers the same and moves only its own histogram by one', async () => {
    const metrics = new Metrics({ version: 'test' });
    const measured = new MeasuredStore(await openStore({ type: 'memory', connectionString: '' }), metrics);
    const plain = await openStore({ type: 'memory', connectionString: '' });
    for (const s of [measured, plain]) await s.put('session', 'a', { n: 1 });
    const before = await counts(metrics);
    for (const c of CALLS) {
      const want = await c.call(plain);
      const got = await c.call(measured);
      assert.deepEqual(shape(got), shape(want), `${c.method} answers as the store does`);
      const now = await counts(metrics);
      assert.equal((now.get(c.op) ?? 0) - (before.get(c.op) ?? 0), 1, `${c.method} is timed once as ${c.op}`);
      before.set(c.op, now.get(c.op)!);
    }
    // `replace` wrote through: the record holds what it was replaced with.
    assert.deepEqual((await measured.get('session', 'a'))?.data, { n: 3 });
    await measured.close();
    await plain.close();
  });

  test('the table covers every operation the wrapper has', () => {
    const own = Object.getOwnPropertyNames(MeasuredStore.prototype)
      .filter((n) => n !== 'constructor' && n !== 'time' && n !== 'run' && n !== 'watch' && n !== 'close');
    assert.deepEqual(own.sort(), CALLS.map((c) => c.method as string).sort());
  });

  test('a failing operation is counted as an error of that operation and rethrown', async () => {
    const metrics = new Metrics({ version: 'test' });
    const inner = await openStore({ type: 'memory', connectionString: '' });
    const failing = Object.assign(Object.create(inner) as Store, {
      replace: () => Promise.reject(Object.assign(new Error('down'), { code: 'ERR_STORE_UNAVAILABLE' })),
    });
    const measured = new MeasuredStore(failing, metrics);
    await assert.rejects(measured.replace('session', 'a', {}), /down/);
    assert.match(await metrics.scrape(), /^limen_store_operation_errors_total\{operation="replace"\} 1$/m);
    await inner.close();
  });
});
