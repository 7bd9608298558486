/**
 * One token, one spelling: a token whose segments carry whitespace, padding
 * or other characters that jose's decoder would skip is refused as malformed
 * at every entry point (session handles and service-account tokens, carried
 * assertions, sealed values), though its signature would check.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { isCompactJwe, isCompactJws } from './compact.js';
import { signSessionHandle, verifySharedSecretToken } from './tokens.js';
import { deriveKey, seal, unseal } from '../authn/seal.js';

const T0 = Date.UTC(2026, 11, 5, 12);

/** The same token spelled other ways: whitespace inside or around a segment, padding. */
function respellings(token: string): { name: string; value: string }[] {
  const parts = token.split('.');
  const last = parts.length - 1;
  const withLast = (s: string) => [...parts.slice(0, last), s].join('.');
  return [
    { name: 'newline at the start of the last segment', value: withLast(`\n${parts[last]}`) },
    { name: 'newline inside the last segment', value: withLast(`${parts[last]!.slice(0, 5)}\n${parts[last]!.slice(5)}`) },
    { name: 'space inside the last segment', value: withLast(`${parts[last]!.slice(0, 5)} ${parts[last]!.slice(5)}`) },
    { name: 'tab inside the second segment', value: [parts[0], `${parts[1]!.slice(0, 3)}\t${parts[1]!.slice(3)}`, ...parts.slice(2)].join('.') },
    { name: 'trailing space', value: `${token} ` },
    { name: 'padding', value: `${token}=` },
  ];
}

describe('compact serialization', () => {
  test('the shapes', () => {
    assert.equal(isCompactJws('a.b.c'), true);
    assert.equal(isCompactJws('a..c'), true);
    assert.equal(isCompactJws('a.b.c.d.e'), false);
    assert.equal(isCompactJwe('a..c.d.e'), true);
    assert.equal(isCompactJwe('a.b.c'), false);
  });

  test('a shared-secret token respelled is malformed, not verified', async () => {
    const secret = randomBytes(32);
    const token = await signSessionHandle({ sid: 's1', sub: 'u1', iss: 'auth.example.com', aud: 'app.example.com' }, secret, T0);
    assert.equal((await verifySharedSecretToken(token, secret, T0)).ok, true);
    for (const r of respellings(token)) {
      assert.deepEqual(await verifySharedSecretToken(r.value, secret, T0), { ok: false, reason: 'token-malformed' }, r.name);
    }
  });

  test('a sealed value respelled does not open', async () => {
    const key = deriveKey(randomBytes(32), 'test');
    const value = await seal({ jti: 'x' }, key, 'aud', T0, 60);
    assert.ok(await unseal(value, key, 'aud', T0));
    for (const r of respellings(value)) assert.equal(await unseal(r.value, key, 'aud', T0), undefined, r.name);
  });
});
