import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { approxBytes, BoundedCache } from './bounded-cache.js';
import { MemoryStore, ReadCachingStore } from './index.js';

type Op = ['set', string, number] | ['get', string];

describe('BoundedCache', () => {
  // Each value's size is its number; keys cost nothing.
  const cases: { name: string; maxEntries: number; maxBytes: number; ops: Op[]; keys: string[]; bytes: number }[] = [
    { name: 'under both bounds: everything kept', maxEntries: 3, maxBytes: 100, ops: [['set', 'a', 10], ['set', 'b', 10]], keys: ['a', 'b'], bytes: 20 },
    { name: 'count bound: the oldest goes', maxEntries: 2, maxBytes: 100, ops: [['set', 'a', 1], ['set', 'b', 1], ['set', 'c', 1]], keys: ['b', 'c'], bytes: 2 },
    { name: 'byte bound: as many of the oldest as needed go', maxEntries: 10, maxBytes: 30, ops: [['set', 'a', 10], ['set', 'b', 10], ['set', 'c', 10], ['set', 'd', 25]], keys: ['d'], bytes: 25 },
    { name: 'byte bound: one old entry is enough', maxEntries: 10, maxBytes: 30, ops: [['set', 'a', 10], ['set', 'b', 10], ['set', 'c', 10], ['set', 'd', 5]], keys: ['b', 'c', 'd'], bytes: 25 },
    { name: 'an entry read since insertion gets a second chance', maxEntries: 2, maxBytes: 100, ops: [['set', 'a', 1], ['set', 'b', 1], ['get', 'a'], ['set', 'c', 1]], keys: ['a', 'c'], bytes: 2 },
    { name: 'a second chance is given once', maxEntries: 2, maxBytes: 100, ops: [['set', 'a', 1], ['set', 'b', 1], ['get', 'a'], ['set', 'c', 1], ['set', 'd', 1]], keys: ['c', 'd'], bytes: 2 },
    { name: 'every entry read: the oldest still goes', maxEntries: 2, maxBytes: 100, ops: [['set', 'a', 1], ['set', 'b', 1], ['get', 'a'], ['get', 'b'], ['set', 'c', 1]], keys: ['b', 'c'], bytes: 2 },
    { name: 'an entry larger than the byte bound is not kept, and evicts nothing', maxEntries: 10, maxBytes: 30, ops: [['set', 'a', 10], ['set', 'big', 31]], keys: ['a'], bytes: 10 },
    { name: 'replacing a key counts its new size only', maxEntries: 10, maxBytes: 30, ops: [['set', 'a', 20], ['set', 'a', 25]], keys: ['a'], bytes: 25 },
    { name: 'zero entries allowed: nothing kept', maxEntries: 0, maxBytes: 30, ops: [['set', 'a', 1]], keys: [], bytes: 0 },
  ];
  for (const c of cases) {
    test(c.name, () => {
      const cache = new BoundedCache<string, number>({ maxEntries: c.maxEntries, maxBytes: c.maxBytes, sizeOf: (_k, v) => v });
      for (const op of c.ops) {
        if (op[0] === 'set') cache.set(op[1], op[2]);
        else cache.get(op[1]);
      }
      const kept = ['a', 'b', 'c', 'd', 'big'].filter((k) => cache.has(k));
      assert.deepEqual(kept.sort(), [...c.keys].sort());
      assert.equal(cache.bytes, c.bytes);
      assert.equal(cache.size, c.keys.length);
      assert.ok(cache.size <= Math.max(0, c.maxEntries) && cache.bytes <= c.maxBytes);
    });
  }

  test('delete and clear give the bytes back', () => {
    const cache = new BoundedCache<string, number>({ maxEntries: 10, maxBytes: 100, sizeOf: (_k, v) => v });
    cache.set('a', 10);
    cache.set('b', 20);
    assert.equal(cache.delete('a'), true);
    assert.equal(cache.delete('a'), false);
    assert.equal(cache.bytes, 20);
    cache.clear();
    assert.equal(cache.bytes, 0);
    assert.equal(cache.size, 0);
  });

  test('many inserts stay within the byte bound', () => {
    const cache = new BoundedCache<number, string>({ maxEntries: 1_000_000, maxBytes: 10_000, sizeOf: (_k, v) => approxBytes(v) });
    for (let i = 0; i < 5_000; i++) {
      cache.set(i, 'x'.repeat(i % 300));
      if (i % 7 === 0) cache.get(i - 3);
      assert.ok(cache.bytes <= 10_000);
    }
  });

  test('approxBytes grows with the content', () => {
    const small = approxBytes({ id: 'a', groups: ['x'] });
    const big = approxBytes({ id: 'a'.repeat(1000), groups: Array.from({ length: 100 }, (_, i) => `group-${i}`) });
    assert.ok(small > 0 && small < 200, String(small));
    assert.ok(big > 2000, String(big));
  });
});

describe('read cache bounded by bytes', () => {
  test('holds no more than its byte bound, and an evicted record is read again, unchanged', async () => {
    const inner = new MemoryStore();
    let reads = 0;
    const counting = new Proxy(inner, {
      get(target, p, r) {
        if (p === 'get') return (...a: Parameters<MemoryStore['get']>) => { reads++; return target.get(...a); };
        const v = Reflect.get(target, p, r) as unknown;
        return typeof v === 'function' ? (v as (...x: unknown[]) => unknown).bind(target) : v;
      },
    });
    const store = new ReadCachingStore(counting, (t) => t === 'session', { maxBytes: 4_000 });
    const pad = 'p'.repeat(900);
    for (let i = 0; i < 20; i++) await inner.put('session', `s${i}`, { user: `u${i}`, pad });
    for (let i = 0; i < 20; i++) assert.equal((await store.get<{ user: string }>('session', `s${i}`))?.data.user, `u${i}`);
    assert.equal(reads, 20);
    // Only the last few fit in 4 000 bytes: the first is read again from the store, and is right.
    const again = await store.get<{ user: string; pad: string }>('session', 's0');
    assert.equal(reads, 21);
    assert.deepEqual(again?.data, { user: 'u0', pad });
    // The most recent one is still a hit.
    await store.get('session', 's0');
    assert.equal(reads, 21);
    // Revocation still applies on the next read, cached or evicted.
    await store.delete('session', 's0');
    await store.delete('session', 's1');
    assert.equal(await store.get('session', 's0'), null);
    assert.equal(await store.get('session', 's1'), null);
    await store.close();
  });
});
