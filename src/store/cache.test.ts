import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runStoreContract } from './contract.js';
import { MemoryStore, ReadCachingStore, SqliteStore } from './index.js';

// The cache must not change what the store means: the whole contract again.
runStoreContract('memory behind the read cache', async () => new ReadCachingStore(new MemoryStore(), () => true), { frozenReads: true });

describe('read cache over SQLite', () => {
  const dir = mkdtempSync(join(tmpdir(), 'limen-cache-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  let n = 0;
  const paths = new WeakMap<object, string>();
  runStoreContract('sqlite behind the read cache', async () => {
    const path = join(dir, `c-${++n}`, 'limen.db');
    const s = new ReadCachingStore(SqliteStore.open({ path, pollIntervalMs: 50 }), () => true);
    paths.set(s, path);
    return s;
  }, { frozenReads: true, openPeer: async (s) => SqliteStore.open({ path: paths.get(s)!, pollIntervalMs: 50 }) });

  test('a write by another process is seen on the very next read, with no poll in between', async () => {
    const path = join(dir, 'next-read', 'limen.db');
    const cached = new ReadCachingStore(SqliteStore.open({ path, pollIntervalMs: 60_000 }), (t) => t === 'session');
    const other = SqliteStore.open({ path });
    try {
      await other.put('session', 's1', { user: 'ada' });
      assert.deepEqual((await cached.get('session', 's1'))?.data, { user: 'ada' });
      assert.deepEqual((await cached.get('session', 's1'))?.data, { user: 'ada' }, 'served from the cache');
      await other.delete('session', 's1');
      assert.equal(await cached.get('session', 's1'), null, 'revocation applies at once');
      await other.put('session', 's1', { user: 'grace' });
      assert.deepEqual((await cached.get('session', 's1'))?.data, { user: 'grace' });
    } finally {
      await other.close();
      await cached.close();
    }
  });

  test('cached records are frozen and expire by the caller clock', async () => {
    const s = new ReadCachingStore(new MemoryStore(), () => true);
    await s.put('session', 'x', { n: 1 }, { expiresAt: 1_000 }, 0);
    const rec = await s.get<{ n: number }>('session', 'x', 10);
    assert.ok(Object.isFrozen(rec!.data));
    assert.throws(() => { (rec!.data as { n: number }).n = 2; }, TypeError);
    assert.equal(await s.get('session', 'x', 999), rec);
    assert.equal(await s.get('session', 'x', 1_000), null);
    await s.close();
  });
});
