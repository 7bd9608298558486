import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { consumeSignInBinding, isSignInBinding, MAX_PENDING_SIGN_INS, newSignInNonce, rememberSignInNonce, signInBinding } from './binding.js';

describe('sign-in binding', () => {
  test('a nonce matches its own binding only, once', () => {
    const a = newSignInNonce();
    const b = newSignInNonce();
    const cookie = rememberSignInNonce(rememberSignInNonce(undefined, a), b);
    assert.equal(consumeSignInBinding(cookie, signInBinding(newSignInNonce())).matched, false);
    const used = consumeSignInBinding(cookie, signInBinding(a));
    assert.deepEqual(used, { matched: true, rest: b });
    assert.equal(consumeSignInBinding(used.rest, signInBinding(a)).matched, false);
  });

  test('the binding is not the nonce, and has the shape the endpoints check', () => {
    const n = newSignInNonce();
    assert.notEqual(signInBinding(n), n);
    assert.ok(isSignInBinding(signInBinding(n)));
    for (const v of [undefined, null, '', n, 'A'.repeat(42), 'A'.repeat(44), `${'A'.repeat(42)}=`, 42]) assert.equal(isSignInBinding(v), false, String(v));
  });

  test(`at most ${MAX_PENDING_SIGN_INS} sign-ins in flight; the oldest is forgotten`, () => {
    const nonces = Array.from({ length: MAX_PENDING_SIGN_INS + 1 }, () => newSignInNonce());
    let cookie: string | undefined;
    for (const n of nonces) cookie = rememberSignInNonce(cookie, n);
    assert.equal(cookie!.split('.').length, MAX_PENDING_SIGN_INS);
    assert.equal(consumeSignInBinding(cookie, signInBinding(nonces[0]!)).matched, false);
    assert.equal(consumeSignInBinding(cookie, signInBinding(nonces.at(-1)!)).matched, true);
  });

  test('malformed cookie values match nothing and are dropped', () => {
    const n = newSignInNonce();
    for (const junk of ['', '.', 'short', 'a b c', `${n}!`, '..'.repeat(50)]) {
      assert.equal(consumeSignInBinding(junk, signInBinding(n)).matched, false, junk);
      assert.equal(rememberSignInNonce(junk, n), n, junk);
    }
  });
});
