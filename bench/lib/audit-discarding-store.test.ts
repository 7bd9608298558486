import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryStore } from '../../src/store/index.js';
import { AuditDiscardingStore } from './audit-discarding-store.js';

test('audit appends are dropped; records and everything else reach the inner store', async () => {
  const inner = new MemoryStore();
  const s = new AuditDiscardingStore(inner);
  assert.equal(s.kind, inner.kind);
  const event = { time: 1000, kind: 'authorize', decision: 'allow', details: {} };
  await inner.appendAudit([event]);
  await s.appendAudit([{ ...event, time: 2000 }, { ...event, time: 3000 }]);
  assert.deepEqual((await s.queryAudit({})).map((e) => e.time), [1000]);

  const changes: string[] = [];
  const stop = s.watch((e) => changes.push(e.id));
  await s.put('session', 's1', { user: 'u1' }, { index: 'u1' }, 1000);
  assert.deepEqual((await inner.get('session', 's1', 1000))?.data, { user: 'u1' });
  assert.deepEqual((await s.list('session', { index: 'u1' }, 1000)).map((r) => r.id), ['s1']);
  assert.equal(await s.delete('session', 's1'), true);
  assert.equal(await inner.get('session', 's1', 1000), null);
  stop();
  assert.ok(changes.includes('s1'));
  assert.equal(await s.pruneAudit(5000), 1);
  await s.close();
});
