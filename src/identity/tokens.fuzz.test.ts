/**
 * Fuzzing what Limen accepts as a credential: shared-secret tokens (session
 * handles, service-account and route tokens), carried assertions
 * (`X-Pomerium-Jwt-Assertion` as received) and the three Pomerium bearer
 * header forms. A damaged token is refused with a typed reason and never
 * throws; nothing but the exact signed claims is ever accepted.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { SignJWT, base64url } from 'jose';
import { fuzzAsync, fuzzSync, mutatedJson, mutatedString } from '../../test/support/fuzz.js';
import { extractBearerToken, signSessionHandle, verifySharedSecretToken, type TokenFailure } from './tokens.js';
import { AssertionSigner, verifyCarriedAssertion, type CarriedAssertionFailure } from './assertion.js';
import { loadKeySet } from './keys.js';

const NOW = Date.UTC(2026, 10, 23, 12);
const SECRET = randomBytes(32);
const TOKEN_FAILURES: readonly TokenFailure[] = ['token-malformed', 'token-signature-invalid', 'token-expired', 'token-not-yet-valid', 'token-too-large', 'token-claims-invalid'];
const ASSERTION_FAILURES: readonly CarriedAssertionFailure[] = ['assertion-malformed', 'assertion-signature-invalid', 'assertion-expired', 'assertion-unknown-key', 'assertion-too-large'];

/** Header and payload of a compact JWS, the part the signature covers. */
function signingInput(token: string): string {
  return token.split('.').slice(0, 2).join('.');
}

const b64json = (v: unknown): string => base64url.encode(JSON.stringify(v) ?? 'null');

test('shared-secret tokens: a damaged token is refused with a typed reason; only the signed claims are ever accepted', async () => {
  const handle = await signSessionHandle({ sid: 'sess-1', sub: 'u1', iss: 'auth.example.com', aud: 'app.example.com', expiresAt: NOW + 3_600_000 }, SECRET, NOW);
  const account = await new SignJWT({}).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).setJti('sa-1').setSubject('bot').setIssuedAt(NOW / 1000).setNotBefore(NOW / 1000).sign(SECRET);
  const route = await new SignJWT({ email: 'ada@example.com', groups: ['eng'] }).setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
    .setAudience(['app.example.com']).setIssuedAt(NOW / 1000).setNotBefore(NOW / 1000).setExpirationTime(NOW / 1000 + 3600).setJti('rt-1').sign(SECRET);
  const valid = [handle, account, route];
  const originals = new Map<string, unknown>();
  for (const t of valid) {
    const v = await verifySharedSecretToken(t, SECRET, NOW);
    assert.ok(v.ok);
    originals.set(signingInput(t), v.claims);
  }
  // Tokens rebuilt from damaged headers and payloads, signed or not: alg
  // confusion (`none`, RS256), crit, b64, odd JSON in every claim.
  const rebuilt = fc.tuple(
    mutatedJson({ alg: 'HS256', typ: 'JWT' }, { alg: 'none' }, { alg: 'HS256', crit: ['b64'], b64: false }, { alg: 'RS256' }),
    mutatedJson({ jti: 'sess-1', sub: 'u1', iat: NOW / 1000, exp: NOW / 1000 + 60 }, { aud: ['app.example.com'], exp: NOW / 1000 + 60, nbf: NOW / 1000 }),
    fc.constantFrom('', 'sig', base64url.encode(randomBytes(32))),
  ).map(([h, p, s]) => `${b64json(h)}.${b64json(p)}.${s}`);
  const token = fc.oneof({ weight: 3, arbitrary: mutatedString(...valid) }, { weight: 1, arbitrary: rebuilt }, { weight: 1, arbitrary: fc.string({ maxLength: 100 }) });
  await fuzzAsync('shared-secret-token', 600, [token], async (t) => {
    const v = await verifySharedSecretToken(t, SECRET, NOW);
    if (v.ok) {
      assert.ok(originals.has(signingInput(t)), 'accepted a token Limen did not sign');
      assert.deepEqual(v.claims, originals.get(signingInput(t)));
    } else {
      assert.ok(TOKEN_FAILURES.includes(v.reason), v.reason);
    }
  });
});

test('carried assertions: a damaged or foreign assertion is dropped with a typed reason; only Limen-signed claims are carried', async () => {
  const keys = await loadKeySet([], SECRET);
  const signer = new AssertionSigner(keys, { issuerFormat: 'hostOnly', groupsFilter: undefined, claimsHeaders: {} }, () => NOW);
  const identity = { cacheKey: 'k', user: 'u1', email: 'ada@example.com', name: 'Ada', groups: ['eng'], sid: 's1', claims: {} };
  const valid = await signer.sign(identity, 'app.example.com');
  const ok = await verifyCarriedAssertion(valid, keys, NOW);
  assert.ok(ok.ok);
  const header = JSON.parse(Buffer.from(valid.split('.')[0]!, 'base64url').toString()) as Record<string, unknown>;
  const payload = JSON.parse(Buffer.from(valid.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;
  const signature = valid.split('.')[2]!;
  const hs256 = await new SignJWT(payload).setProtectedHeader({ alg: 'HS256', kid: String(header.kid) }).sign(SECRET);
  const rebuilt = fc.tuple(mutatedJson(header, { ...header, alg: 'none' }, { ...header, alg: 'HS256' }, { ...header, jwk: { kty: 'EC' } }), mutatedJson(payload))
    .map(([h, p]) => `${b64json(h)}.${b64json(p)}.${signature}`);
  const token = fc.oneof({ weight: 3, arbitrary: mutatedString(valid, hs256) }, { weight: 1, arbitrary: rebuilt }, { weight: 1, arbitrary: fc.string({ maxLength: 100 }) });
  await fuzzAsync('carried-assertion', 400, [token], async (t) => {
    const v = await verifyCarriedAssertion(t, keys, NOW);
    if (v.ok) {
      assert.equal(signingInput(t), signingInput(valid), 'carried an assertion Limen did not sign');
      assert.deepEqual(v.claims, ok.claims);
    } else {
      assert.ok(ASSERTION_FAILURES.includes(v.reason), v.reason);
    }
  });
});

test('bearer tokens: the three Pomerium header forms, damaged or repeated, are read in CONTRACT §5 order or ignored, never throw', () => {
  const jwt = 'eyJhbGciOiJIUzI1NiJ9.eyJqdGkiOiJ4In0.c2ln';
  const value = fc.oneof(
    mutatedString(jwt, `Pomerium ${jwt}`, `Bearer Pomerium-${jwt}`, `Bearer ${jwt}`, 'Pomerium ', 'Bearer Pomerium-'),
    fc.array(mutatedString(jwt, `Pomerium ${jwt}`), { maxLength: 2 }),
    fc.constant(undefined),
  );
  fuzzSync('bearer-extraction', 2000, [value, value], (x, a) => {
    const headers = { 'x-pomerium-authorization': x, authorization: a };
    const got = extractBearerToken(headers);
    if (got === undefined) {
      assert.ok(!(typeof x === 'string' && x.length > 0), 'a non-empty X-Pomerium-Authorization was ignored');
      return;
    }
    assert.equal(got.token, got.token.trim());
    if (typeof x === 'string' && x.length > 0) assert.equal(got.source, 'x-pomerium-authorization');
    else {
      assert.equal(typeof a, 'string');
      assert.ok((a as string).startsWith(got.source === 'authorization-pomerium' ? 'Pomerium ' : 'Bearer Pomerium-'));
    }
  });
});
