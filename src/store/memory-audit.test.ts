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

test('audit columns that repeat, change, go missing and come back are stored as given, across batches and stores', async () => {
  // Each column's last text is kept between rows (and between stores): a row must never carry the one before it.
  const rows = [
    { kind: 'authorize', decision: 'allow', route: 'app', userId: 'u1', email: 'a@example.com' },
    { kind: 'authorize', decision: 'allow', route: 'app', userId: 'u1', email: 'a@example.com' },
    { kind: 'authorize', decision: 'deny', route: 'other', userId: undefined, email: undefined, actor: 'admin' },
    { kind: 'sign_in', userId: 'u1', email: 'ü@example.com', actor: 'admin' },
    { kind: 'authorize', decision: 'allow', route: 'app', userId: 'u1', email: 'a@example.com' },
    { kind: 'authorize', decision: '"quoted"', route: 'app\\', userId: 'u2', email: 'a@example.com' },
  ];
  const a = new MemoryStore();
  const b = new MemoryStore();
  for (const [i, r] of rows.entries()) {
    for (const s of [a, b]) await s.appendAudit([{ time: 1_000 + i, requestId: `r${i}`, details: { i }, ...r }]);
  }
  for (const s of [a, b]) {
    const kept = (await s.queryAudit({ limit: 100 })).sort((x, y) => x.time - y.time);
    assert.deepEqual(kept.map((e) => [e.kind, e.decision, e.route, e.userId, e.email, e.actor, e.details]),
      rows.map((r, i) => [r.kind, r.decision, r.route, r.userId, r.email, r.actor, { i }]));
    await s.close();
  }
});
