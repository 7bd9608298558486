/**
 * Fuzzing sealed values read back from clients (the CSRF/state cookie, the
 * sign-in hand-off, the programmatic-login state): any damage makes unseal
 * return undefined, never throw, and nothing but the sealed claims opens.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { fuzzAsync, mutatedString } from '../../test/support/fuzz.js';
import { seal, unseal } from './seal.js';

const NOW = Date.UTC(2026, 10, 23, 12);

test('sealed values: a damaged, foreign or expired value does not open, and never throws', async () => {
  const key = randomBytes(32);
  const claims = { state: 's', nonce: 'n', verifier: 'v', redirect: 'https://app.example.com/' };
  const valid = await seal(claims, key, 'csrf:auth.example.com', NOW, 600);
  const foreign = await seal(claims, randomBytes(32), 'csrf:auth.example.com', NOW, 600);
  const other = await seal(claims, key, 'handoff:app.example.com', NOW, 60);
  const value = fc.oneof(fc.constantFrom(valid, foreign, other), mutatedString(valid, foreign, other), fc.string({ maxLength: 60 }));
  const at = fc.constantFrom(NOW, NOW + 599_000, NOW + 601_000, NOW - 3_600_000);
  await fuzzAsync('sealed-value', 500, [value, at], async (v, now) => {
    const opened = await unseal(v, key, 'csrf:auth.example.com', now);
    if (opened === undefined) return;
    assert.equal(v.split('.').slice(0, 4).join('.'), valid.split('.').slice(0, 4).join('.'), 'opened a value Limen did not seal');
    assert.ok(now < NOW + 600_000 + 1000, 'opened an expired value');
    assert.deepEqual({ ...opened, iat: undefined, exp: undefined, aud: undefined }, { ...claims, iat: undefined, exp: undefined, aud: undefined });
  });
});
