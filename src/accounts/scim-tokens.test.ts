import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryStore, type Store } from '../store/index.js';
import { createScimToken, listScimTokens, revokeScimToken, SCIM_TOKEN_TYPE, verifyScimToken, type ScimTokenRecord } from './scim-tokens.js';

const NOW = Date.parse('2030-06-01T12:00:00Z');

/**
 * A store that runs `between` right after the first read of a SCIM token
 * record, before the reader goes on: the interleaving of a request that has
 * just checked a token with a revocation committed at that moment.
 */
function interleaving(inner: MemoryStore, between: () => Promise<void>): Store {
  let armed = true;
  return new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === 'get') {
        return async (type: string, id: string, now?: number) => {
          const r = await target.get(type, id, now);
          if (armed && type === SCIM_TOKEN_TYPE) { armed = false; await between(); }
          return r;
        };
      }
      const v = Reflect.get(target, prop, receiver) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

describe('SCIM tokens', () => {
  test('a revocation committed while a request records the token use stays revoked', async () => {
    const store = new MemoryStore();
    const { token, record } = await createScimToken(store, { description: 'okta', createdBy: 'admin@example.com' }, NOW);
    const racing = interleaving(store, async () => { await revokeScimToken(store, record.id, NOW + 1); });
    // The request read the token before the revocation: it is let through once...
    assert.ok(await verifyScimToken(racing, token, NOW + 2));
    // ...but its use write must not have put the unrevoked copy back.
    const after = await store.get<ScimTokenRecord>(SCIM_TOKEN_TYPE, record.id);
    assert.equal(after?.data.revokedAt, NOW + 1);
    assert.equal(await verifyScimToken(store, token, NOW + 120_000), undefined);
    const [listed] = await listScimTokens(store);
    assert.equal(listed?.revokedAt, NOW + 1);
    assert.equal(listed?.lastUsedAt, NOW + 2, 'the use is still recorded');
  });

  test('the last use is recorded at most once a minute and shown in the list', async () => {
    const store = new MemoryStore();
    const { token } = await createScimToken(store, { description: 'd', createdBy: 'a' }, NOW);
    assert.equal((await listScimTokens(store))[0]?.lastUsedAt, undefined);
    for (const [t, want] of [[NOW + 1_000, NOW + 1_000], [NOW + 30_000, NOW + 1_000], [NOW + 62_000, NOW + 62_000]] as const) {
      assert.ok(await verifyScimToken(store, token, t));
      assert.equal((await listScimTokens(store))[0]?.lastUsedAt, want);
    }
  });

  test('malformed, unknown and tampered tokens are refused', async () => {
    const store = new MemoryStore();
    const { token } = await createScimToken(store, { description: 'd', createdBy: 'a' }, NOW);
    for (const bad of ['', 'x', token.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A')), `lscim.${'0'.repeat(16)}.x`, token + 'x'.repeat(200)]) {
      assert.equal(await verifyScimToken(store, bad, NOW), undefined, bad.slice(0, 40));
    }
  });
});
