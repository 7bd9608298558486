import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryStore } from '../../src/store/index.js';
import { AuditSwitchStore } from './audit-switch-store.js';

test('audit appends reach the store only while writeAudit is on', async () => {
  const inner = new MemoryStore();
  const s = new AuditSwitchStore(inner);
  assert.equal(s.kind, inner.kind);
  assert.equal(s.writeAudit, true);
  const event = { time: 1000, kind: 'authorize', decision: 'allow', details: {} };
  await s.appendAudit([event]);
  s.writeAudit = false;
  await s.appendAudit([{ ...event, time: 2000 }, { ...event, time: 3000 }]);
  s.writeAudit = true;
  await s.appendAudit([{ ...event, time: 4000 }]);
  assert.deepEqual((await s.queryAudit({})).map((e) => e.time), [1000, 4000]);
  assert.equal(await s.pruneAudit(5000), 2);
  await s.close();
});

test('records, lists, deletes and change events always reach the inner store', async () => {
  const inner = new MemoryStore();
  const s = new AuditSwitchStore(inner);
  s.writeAudit = false;
  const changes: string[] = [];
  const stop = s.watch((e) => changes.push(e.id));
  await s.put('session', 's1', { user: 'u1' }, { index: 'u1' }, 1000);
  assert.deepEqual((await inner.get('session', 's1', 1000))?.data, { user: 'u1' });
  assert.deepEqual((await s.get('session', 's1', 1000))?.data, { user: 'u1' });
  assert.deepEqual((await s.list('session', { index: 'u1' }, 1000)).map((r) => r.id), ['s1']);
  assert.equal(await s.delete('session', 's1'), true);
  assert.equal(await inner.get('session', 's1', 1000), null);
  stop();
  assert.ok(changes.includes('s1'));
  await s.close();
});
