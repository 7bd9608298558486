// The key cache: rotation, the one-refetch-per-30-s rule on unknown kids, shared fetches, and JWKS failures.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createVerifier, isVerifyError, type Verifier, type VerifyErrorCode } from '../src/index.js';
import { frozenClock, HOST, limenClaims, makeKey, mint, startJwksServer, T0, type JwksServer, type TestKey } from './fixtures.js';

let current: TestKey;
let next: TestKey;
let jwks: JwksServer;

before(async () => {
  current = await makeKey('ES256');
  next = await makeKey('RS256');
  jwks = await startJwksServer([current.publicJwk]);
});
after(() => jwks.close());

/** A fetch that counts the JWKS requests this verifier makes. */
function countingFetch(): { fetch: typeof fetch; count: () => number } {
  let n = 0;
  return {
    fetch: (input, init) => {
      n += 1;
      return fetch(input, init);
    },
    count: () => n,
  };
}

async function code(promise: Promise<unknown>): Promise<VerifyErrorCode | 'ok'> {
  try {
    await promise;
    return 'ok';
  } catch (err) {
    if (isVerifyError(err)) return err.code;
    throw err;
  }
}

function reset(keys = [current.publicJwk]): void {
  jwks.keys = keys;
  jwks.failWith = undefined;
  jwks.rawBody = undefined;
}

describe('key rotation', () => {
  test('a new key appears: one refetch, then it verifies; the rate limit holds on a frozen clock', async () => {
    reset();
    const clock = frozenClock();
    const counter = countingFetch();
    const v = createVerifier({ jwksUrl: jwks.url, audience: HOST, now: clock.now, fetch: counter.fetch });

    assert.equal(await code(v.verify(await mint(current, limenClaims(clock.now())))), 'ok');
    assert.equal(counter.count(), 1);

    // Limen publishes the next key and starts signing with it.
    jwks.keys = [current.publicJwk, next.publicJwk];
    const signedWithNext = await mint(next, limenClaims(clock.now()));

    // Within 30 s of the last fetch, the unknown kid does not cause another one.
    clock.advance(29_999);
    assert.equal(await code(v.verify(signedWithNext)), 'ERR_KID_UNKNOWN');
    assert.equal(counter.count(), 1);

    // At 30 s, exactly one refetch; then the new key verifies without further fetches.
    clock.advance(1);
    assert.equal(await code(v.verify(signedWithNext)), 'ok');
    assert.equal(await code(v.verify(signedWithNext)), 'ok');
    assert.equal(await code(v.verify(await mint(current, limenClaims(clock.now())))), 'ok');
    assert.equal(counter.count(), 2);
  });

  test('a flood of unknown kids causes at most one fetch per 30 s', async () => {
    reset();
    const clock = frozenClock();
    const counter = countingFetch();
    const v = createVerifier({ jwksUrl: jwks.url, audience: HOST, now: clock.now, fetch: counter.fetch });
    await v.verify(await mint(current, limenClaims(clock.now())));
    const strangers = await Promise.all(Array.from({ length: 5 }, () => makeKey('ES256')));
    const forged = await Promise.all(strangers.map((k) => mint(k, limenClaims(clock.now()))));

    for (let second = 0; second < 95; second += 1) {
      clock.set(T0 + second * 1000);
      for (const token of forged) assert.equal(await code(v.verify(token)), 'ERR_KID_UNKNOWN');
    }
    // Initial load at 0 s, then refetches at 30, 60 and 90 s.
    assert.equal(counter.count(), 4);
  });

  test('concurrent misses share one fetch', async () => {
    reset();
    const clock = frozenClock();
    const counter = countingFetch();
    const v = createVerifier({ jwksUrl: jwks.url, audience: HOST, now: clock.now, fetch: counter.fetch });
    await v.verify(await mint(current, limenClaims(clock.now())));
    jwks.keys = [current.publicJwk, next.publicJwk];
    clock.advance(30_000);
    const token = await mint(next, limenClaims(clock.now()));
    const results = await Promise.all(Array.from({ length: 20 }, () => code(v.verify(token))));
    assert.deepEqual(new Set(results), new Set(['ok']));
    assert.equal(counter.count(), 2);
  });

  test('concurrent first requests share the initial fetch', async () => {
    reset();
    const counter = countingFetch();
    const v = createVerifier({ jwksUrl: jwks.url, audience: HOST, now: () => T0, fetch: counter.fetch });
    const token = await mint(current, limenClaims(T0));
    const results = await Promise.all(Array.from({ length: 10 }, () => code(v.verify(token))));
    assert.deepEqual(new Set(results), new Set(['ok']));
    assert.equal(counter.count(), 1);
  });

  test('a key removed from the JWKS stops verifying once the cache is older than jwksCacheMaxAge', async () => {
    reset([current.publicJwk, next.publicJwk]);
    const clock = frozenClock();
    const counter = countingFetch();
    const v = createVerifier({ jwksUrl: jwks.url, audience: HOST, now: clock.now, fetch: counter.fetch, jwksCacheMaxAge: 120, maxAge: 600 });
    const oldKeyToken = await mint(current, { ...limenClaims(clock.now()), exp: T0 / 1000 + 3600 });
    assert.equal(await code(v.verify(oldKeyToken)), 'ok');
    jwks.keys = [next.publicJwk];
    clock.advance(119_000);
    assert.equal(await code(v.verify(oldKeyToken)), 'ok');
    assert.equal(counter.count(), 1);
    clock.advance(1_000);
    assert.equal(await code(v.verify(oldKeyToken)), 'ERR_KID_UNKNOWN');
    assert.equal(counter.count(), 2);
  });
});

describe('JWKS failures', () => {
  const broken: Array<[string, (s: JwksServer) => void]> = [
    ['500', (s) => (s.failWith = 500)],
    ['404', (s) => (s.failWith = 404)],
    ['not JSON', (s) => (s.rawBody = '<html>')],
    ['no keys array', (s) => (s.rawBody = '{"keys": {}}')],
    ['JSON null', (s) => (s.rawBody = 'null')],
    ['too large', (s) => (s.rawBody = JSON.stringify({ keys: [], pad: 'x'.repeat(300 * 1024) }))],
  ];
  for (const [name, breakIt] of broken) {
    test(`JWKS ${name} → ERR_JWKS_UNAVAILABLE`, async () => {
      reset();
      breakIt(jwks);
      const v = createVerifier({ jwksUrl: jwks.url, audience: HOST, now: () => T0 });
      assert.equal(await code(v.verify(await mint(current, limenClaims(T0)))), 'ERR_JWKS_UNAVAILABLE');
    });
  }

  test('nothing listening → ERR_JWKS_UNAVAILABLE', async () => {
    const closed = await startJwksServer([]);
    await closed.close();
    const v = createVerifier({ jwksUrl: closed.url, audience: HOST, now: () => T0 });
    assert.equal(await code(v.verify(await mint(current, limenClaims(T0)))), 'ERR_JWKS_UNAVAILABLE');
  });

  test('a JWKS failure never echoes URL credentials or query', async () => {
    reset();
    jwks.failWith = 500;
    for (const url of [jwks.url.replace('http://', 'http://user:s3cret@'), `${jwks.url}?token=s3cret`]) {
      const v = createVerifier({ jwksUrl: url, audience: HOST, now: () => T0 });
      await assert.rejects(v.verify(await mint(current, limenClaims(T0))), (err: unknown) => {
        assert.ok(isVerifyError(err) && err.code === 'ERR_JWKS_UNAVAILABLE');
        assert.equal(`${err.message} ${JSON.stringify(err.cause)}`.includes('s3cret'), false);
        return true;
      });
    }
  });

  test('a failed first load is retried after 5 s, not on every request', async () => {
    reset();
    jwks.failWith = 503;
    const clock = frozenClock();
    const counter = countingFetch();
    const v: Verifier = createVerifier({ jwksUrl: jwks.url, audience: HOST, now: clock.now, fetch: counter.fetch });
    const token = await mint(current, { ...limenClaims(T0), exp: T0 / 1000 + 3600 });
    for (let i = 0; i < 10; i += 1) assert.equal(await code(v.verify(token)), 'ERR_JWKS_UNAVAILABLE');
    assert.equal(counter.count(), 1);
    jwks.failWith = undefined;
    clock.advance(4_999);
    assert.equal(await code(v.verify(token)), 'ERR_JWKS_UNAVAILABLE');
    clock.advance(1);
    assert.equal(await code(v.verify(token)), 'ok');
    assert.equal(counter.count(), 2);
  });

  test('a failed refresh keeps the keys already known', async () => {
    reset();
    const clock = frozenClock();
    const counter = countingFetch();
    const v = createVerifier({ jwksUrl: jwks.url, audience: HOST, now: clock.now, fetch: counter.fetch, jwksCacheMaxAge: 60, maxAge: 3600 });
    const token = await mint(current, { ...limenClaims(T0), exp: T0 / 1000 + 3600 });
    assert.equal(await code(v.verify(token)), 'ok');
    jwks.failWith = 500;
    clock.advance(61_000);
    assert.equal(await code(v.verify(token)), 'ok');
    assert.equal(counter.count(), 2);
    // And the failed refresh is itself rate-limited.
    clock.advance(10_000);
    assert.equal(await code(v.verify(token)), 'ok');
    assert.equal(counter.count(), 2);
  });

  test('unusable keys in the JWKS are skipped, usable ones kept', async () => {
    const weakRsa = { kty: 'RSA', kid: 'weak', n: 'AQAB'.repeat(10), e: 'AQAB' };
    reset([
      { kty: 'oct', kid: 'secret', k: 'c2VjcmV0' },
      { ...current.publicJwk, kid: 'enc-key', use: 'enc' },
      { ...current.publicJwk, kid: 'wrong-alg', alg: 'RS256' },
      { kty: 'EC', kid: 'p384', crv: 'P-384', x: 'AA', y: 'AA' },
      weakRsa,
      { kty: 'EC', crv: 'P-256', x: current.publicJwk.x, y: current.publicJwk.y },
      'not a key' as never,
      current.publicJwk,
    ]);
    const v = createVerifier({ jwksUrl: jwks.url, audience: HOST, now: () => T0 });
    assert.equal(await code(v.verify(await mint(current, limenClaims(T0)))), 'ok');
    for (const kid of ['secret', 'enc-key', 'wrong-alg', 'p384', 'weak']) {
      const alg = kid === 'weak' ? next : current;
      assert.equal(await code(v.verify(await mint({ ...alg, kid }, limenClaims(T0)))), 'ERR_KID_UNKNOWN', kid);
    }
  });
});
