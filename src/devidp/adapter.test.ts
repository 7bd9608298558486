import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createMemoryAdapter } from './adapter.js';

function frozen(): { now: () => number; advance(ms: number): void } {
  let t = Date.UTC(2030, 0, 1);
  return { now: () => t, advance: (ms) => (t += ms) };
}

test('entries expire after their TTL plus the clock tolerance', async () => {
  const clock = frozen();
  const { factory } = createMemoryAdapter(15, clock.now);
  const sessions = factory('Session');
  await sessions.upsert('s1', { uid: 'u1', accountId: 'a' }, 60);
  await sessions.upsert('s2', { uid: 'u2' });
  assert.deepEqual(await sessions.findByUid('u1'), { uid: 'u1', accountId: 'a' });
  clock.advance(74_999);
  assert.ok(await sessions.find('s1'));
  clock.advance(1);
  assert.equal(await sessions.find('s1'), undefined);
  assert.equal(await sessions.findByUid('u1'), undefined);
  clock.advance(10 * 365 * 24 * 3600_000);
  assert.ok(await sessions.find('s2'), 'no TTL means no expiry');
});

test('models do not see each other, and destroy removes secondary indexes', async () => {
  const { factory } = createMemoryAdapter(0, frozen().now);
  const a = factory('AccessToken');
  const s = factory('Session');
  await a.upsert('same-id', { kind: 'token' }, 60);
  await s.upsert('same-id', { kind: 'session', uid: 'u' }, 60);
  assert.deepEqual(await a.find('same-id'), { kind: 'token' });
  await s.destroy('same-id');
  assert.equal(await s.findByUid('u'), undefined);
  assert.deepEqual(await a.find('same-id'), { kind: 'token' });
});

test('revokeByGrantId removes exactly the grant\'s tokens', async () => {
  const { factory } = createMemoryAdapter(0, frozen().now);
  const access = factory('AccessToken');
  const refresh = factory('RefreshToken');
  const sessions = factory('Session');
  await access.upsert('at1', { grantId: 'g1' }, 60);
  await refresh.upsert('rt1', { grantId: 'g1' }, 60);
  await access.upsert('at2', { grantId: 'g2' }, 60);
  await sessions.upsert('s1', { grantId: 'g1', uid: 'u' }, 60); // sessions are not grant members
  await refresh.revokeByGrantId('g1');
  assert.equal(await access.find('at1'), undefined);
  assert.equal(await refresh.find('rt1'), undefined);
  assert.ok(await access.find('at2'));
  assert.ok(await sessions.find('s1'));
  await refresh.revokeByGrantId('unknown');
});

test('consume marks the payload; upsert replaces; clear empties everything', async () => {
  const clock = frozen();
  const storage = createMemoryAdapter(0, clock.now);
  const codes = storage.factory('AuthorizationCode');
  await codes.upsert('c1', { grantId: 'g' }, 60);
  await codes.consume('c1');
  assert.equal((await codes.find('c1'))?.consumed, Math.floor(clock.now() / 1000));
  await codes.consume('missing');
  await codes.upsert('c1', { grantId: 'g', v: 2 }, 60);
  assert.deepEqual(await codes.find('c1'), { grantId: 'g', v: 2 });
  const users = storage.factory('DeviceCode');
  await users.upsert('d1', { userCode: 'ABCD' }, 60);
  assert.ok(await users.findByUserCode('ABCD'));
  storage.clear();
  assert.equal(await codes.find('c1'), undefined);
  assert.equal(await users.findByUserCode('ABCD'), undefined);
});

test('expired entries are swept on later writes', async () => {
  const clock = frozen();
  const { factory } = createMemoryAdapter(0, clock.now);
  const tokens = factory('AccessToken');
  await tokens.upsert('old', { grantId: 'g' }, 1);
  clock.advance(120_000);
  await tokens.upsert('new', { grantId: 'g2' }, 60);
  // The sweep dropped "old" and its grant index: revoking g must not touch anything else.
  await tokens.revokeByGrantId('g');
  assert.ok(await tokens.find('new'));
  assert.equal(await tokens.find('old'), undefined);
});
