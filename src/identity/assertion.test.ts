import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { decodeJwt } from 'jose';
import { AssertionSigner, loadKeySet } from './index.js';

const NOW = Date.UTC(2026, 10, 23, 12);
const identity = (i: number) => ({ cacheKey: `s:${i}:1:eng`, user: `u${i}`, email: `user${i}@example.com`, name: `User ${i}`, groups: ['eng'], sid: `s${i}`, claims: {} });

const cases: { name: string; bounds: { maxEntries?: number; maxBytes?: number }; check: (s: { entries: number; bytes: number }) => boolean }[] = [
  { name: 'by count', bounds: { maxEntries: 4 }, check: (s) => s.entries <= 4 },
  { name: 'by bytes', bounds: { maxBytes: 5_000 }, check: (s) => s.bytes <= 5_000 && s.entries < 20 },
];

for (const c of cases) {
  test(`the signer's token cache is bounded ${c.name}; an evicted identity gets a new, correct token`, async () => {
    const clock = { t: NOW };
    const keys = await loadKeySet([], randomBytes(32));
    const signer = new AssertionSigner(keys, { issuerFormat: 'hostOnly', groupsFilter: undefined, claimsHeaders: {} }, () => clock.t, c.bounds);
    // Fresh identity objects each time: the per-object shortcut must not hide the bound.
    const first: string[] = [];
    for (let i = 0; i < 20; i++) first.push(await signer.sign(identity(i), 'app.example.com'));
    assert.ok(c.check(signer.cacheSize), JSON.stringify(signer.cacheSize));
    // The last one is still cached: the same token.
    assert.equal(await signer.sign(identity(19), 'app.example.com'), first[19]);
    // The first was evicted: a new token (new jti) for the same person.
    const again = await signer.sign(identity(0), 'app.example.com');
    assert.notEqual(again, first[0]);
    const claims = decodeJwt(again);
    assert.equal(claims.sub, 'u0');
    assert.equal(claims.email, 'user0@example.com');
    assert.equal(claims.aud, 'app.example.com');
    assert.ok(c.check(signer.cacheSize));
  });
}
