import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryStore } from './index.js';

test('the memory store keeps at most maxAuditEvents audit events, dropping the oldest batches first', async () => {
  const store = new MemoryStore({ maxAuditEvents: 250 });
  for (let b = 0; b < 10; b++) {
    await store.appendAudit(Array.from({ length: 100 }, (_, i) => ({ time: 1_000 + b * 100 + i, kind: 'authorize', requestId: `r${b * 100 + i}`, details: {} })));
  }
  const kept = await store.queryAudit({ limit: 10_000 });
  assert.equal(kept.length, 200, 'whole batches are dropped, so at most the bound is kept');
  assert.deepEqual(kept.map((e) => e.requestId).sort(), Array.from({ length: 200 }, (_, i) => `r${800 + i}`).sort(), 'the newest events are the ones kept');
  assert.equal(await store.pruneAudit(1_900), 100, 'retention still prunes by time');
  assert.equal((await store.queryAudit({ limit: 10_000 })).length, 100);
  await store.close();
});
