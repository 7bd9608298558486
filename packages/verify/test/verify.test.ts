import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createVerifier, isVerifyError, VerifyError, type VerifierOptions, type VerifyErrorCode } from '../src/index.js';
import { frozenClock, HOST, limenClaims, makeKey, mint, startJwksServer, T0, type JwksServer, type TestKey } from './fixtures.js';

let es: TestKey;
let rs: TestKey;
let jwks: JwksServer;

before(async () => {
  es = await makeKey('ES256');
  rs = await makeKey('RS256');
  jwks = await startJwksServer([es.publicJwk, rs.publicJwk]);
});
after(() => jwks.close());

function verifier(extra: Partial<VerifierOptions> = {}) {
  return createVerifier({ jwksUrl: jwks.url, audience: HOST, now: () => T0, ...extra });
}

async function rejects(promise: Promise<unknown>, code: VerifyErrorCode): Promise<VerifyError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(isVerifyError(err), `expected a VerifyError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    return err;
  }
  assert.fail(`expected ${code}, but the token verified`);
}

describe('verify: real assertions', () => {
  for (const alg of ['ES256', 'RS256'] as const) {
    test(`${alg} assertion verifies and returns typed claims`, async () => {
      const key = alg === 'ES256' ? es : rs;
      const claims = await verifier().verify(await mint(key, limenClaims(T0)));
      assert.equal(claims.sub, 'user-123');
      assert.equal(claims.user, 'user-123');
      assert.equal(claims.email, 'ada@example.com');
      assert.deepEqual(claims.groups, ['admins', 'eng']);
      assert.equal(claims.sid, 'session-9');
      assert.equal(claims.name, 'Ada Lovelace');
      assert.equal(claims.iss, HOST);
      assert.equal(claims.exp, claims.iat + 300);
      assert.ok(Object.isFrozen(claims));
      assert.equal('act' in claims, false);
    });
  }

  test('issuer accepts both jwt_issuer_format forms, configured either way', async () => {
    for (const issuer of [HOST, `https://${HOST}/`, 'APP.Example.com']) {
      for (const iss of [HOST, `https://${HOST}/`]) {
        const claims = await verifier({ issuer }).verify(await mint(es, { ...limenClaims(T0), iss }));
        assert.equal(claims.iss, iss, `issuer ${issuer}, iss ${iss}`);
      }
    }
  });

  test('extra claims and the act claim come through; absent groups/email/user are normalized', async () => {
    const token = await mint(es, {
      iss: HOST,
      aud: HOST,
      iat: T0 / 1000,
      exp: T0 / 1000 + 300,
      sub: 'sa-7',
      department: 'ops',
      act: { sub: 'admin-1', email: 'root@example.com' },
    });
    const claims = await verifier().verify(token);
    assert.deepEqual(claims.groups, []);
    assert.equal(claims.email, '');
    assert.equal(claims.user, 'sa-7');
    assert.equal(claims['department'], 'ops');
    assert.deepEqual(claims.act, { sub: 'admin-1', email: 'root@example.com' });
  });

  test('groups: null is read as empty (older Pomerium sent it)', async () => {
    const claims = await verifier().verify(await mint(es, { ...limenClaims(T0), groups: null }));
    assert.deepEqual(claims.groups, []);
  });

  test('audience may be a list and aud may be a list', async () => {
    const v = verifier({ audience: ['other.example.com', HOST] });
    await v.verify(await mint(es, limenClaims(T0)));
    await v.verify(await mint(es, { ...limenClaims(T0), aud: ['x.example.com', HOST] }));
    await rejects(v.verify(await mint(es, { ...limenClaims(T0), aud: ['x.example.com'] })), 'ERR_AUDIENCE_INVALID');
  });

  test('clock tolerance: 60 s by default, configurable', async () => {
    const clock = frozenClock();
    const token = await mint(es, limenClaims(T0)); // exp = T0 + 300 s
    const v = verifier({ now: clock.now });
    clock.set(T0 + 359_000);
    await v.verify(token);
    clock.set(T0 + 360_000);
    await rejects(v.verify(token), 'ERR_EXPIRED');
    clock.set(T0 + 301_000);
    await rejects(verifier({ now: clock.now, clockTolerance: 0 }).verify(token), 'ERR_EXPIRED');
    clock.set(T0 - 60_000);
    await v.verify(token);
    clock.set(T0 - 61_000);
    await rejects(v.verify(token), 'ERR_ISSUED_IN_FUTURE');
  });

  test('maxAge refuses old assertions that have not expired', async () => {
    const clock = frozenClock();
    const token = await mint(es, { ...limenClaims(T0), exp: T0 / 1000 + 3600 });
    const v = verifier({ now: clock.now, maxAge: 120 });
    clock.set(T0 + 180_000);
    await v.verify(token);
    clock.set(T0 + 181_000);
    const err = await rejects(v.verify(token), 'ERR_TOO_OLD');
    assert.deepEqual((err.cause as { claim: string }).claim, 'iat');
  });

  test('algorithms option narrows the allow-list', async () => {
    await rejects(verifier({ algorithms: ['ES256'] }).verify(await mint(rs, limenClaims(T0))), 'ERR_ALG_NOT_ALLOWED');
    await verifier({ algorithms: ['RS256'] }).verify(await mint(rs, limenClaims(T0)));
  });

  test('error messages and causes never contain the token', async () => {
    const good = await mint(es, limenClaims(T0));
    const tampered = `${good.slice(0, -8)}AAAAAAAA`;
    const err = await rejects(verifier().verify(tampered), 'ERR_SIGNATURE_INVALID');
    const text = `${err.message} ${JSON.stringify(err.cause)} ${String(err.stack)}`;
    for (const part of tampered.split('.')) assert.equal(text.includes(part), false);
  });
});

describe('verifyFor: the original user of a chain', () => {
  const first = 'web.example.com';

  test('accepts an assertion made for another route host of the same Limen', async () => {
    const claims = await verifier().verifyFor(await mint(es, limenClaims(T0, first)));
    assert.equal(claims.aud, first);
    assert.equal(claims.email, 'ada@example.com');
    // verify() would refuse the same token: it is not for this app.
    await rejects(verifier().verify(await mint(es, limenClaims(T0, first))), 'ERR_AUDIENCE_INVALID');
  });

  test('accepts the uri issuer form, ignores the configured issuer', async () => {
    await verifier({ issuer: HOST }).verifyFor(await mint(es, { ...limenClaims(T0, first), iss: `https://${first}/` }));
  });

  test('iss must name its own aud host', async () => {
    for (const iss of ['evil.example.com', 'https://evil.example.com/', `http://${first}/`, `https://${first}/x/`, 'not a host']) {
      await rejects(verifier().verifyFor(await mint(es, { ...limenClaims(T0, first), iss })), 'ERR_ISSUER_INVALID');
    }
  });

  test('originalAudience restricts which first hops are accepted', async () => {
    const v = verifier({ originalAudience: [first] });
    await v.verifyFor(await mint(es, limenClaims(T0, first)));
    await rejects(v.verifyFor(await mint(es, limenClaims(T0, 'elsewhere.example.com'))), 'ERR_AUDIENCE_INVALID');
  });

  test('signature and time rules still apply', async () => {
    const stale = await mint(es, { ...limenClaims(T0 - 3_600_000, first) });
    await rejects(verifier().verifyFor(stale), 'ERR_EXPIRED');
    const other = await makeKey('ES256');
    await rejects(verifier().verifyFor(await mint({ ...other, kid: es.kid }, limenClaims(T0, first))), 'ERR_SIGNATURE_INVALID');
  });
});

describe('createVerifier: option mistakes are TypeErrors at construction', () => {
  const base = { jwksUrl: 'https://app.example.com/.well-known/pomerium/jwks.json', audience: HOST };
  const bad: Array<[string, unknown]> = [
    ['no jwksUrl or issuer', { audience: HOST }],
    ['no audience', { jwksUrl: base.jwksUrl }],
    ['empty audience', { ...base, audience: '' }],
    ['empty audience list', { ...base, audience: [] }],
    ['audience as URL', { ...base, audience: 'https://app.example.com/' }],
    ['audience number', { ...base, audience: 7 }],
    ['relative jwksUrl', { ...base, jwksUrl: '/jwks.json' }],
    ['ftp jwksUrl', { ...base, jwksUrl: 'ftp://app.example.com/jwks.json' }],
    ['issuer with path', { ...base, issuer: 'https://app.example.com/x/' }],
    ['issuer http', { ...base, issuer: 'http://app.example.com/' }],
    ['issuer empty', { ...base, issuer: '' }],
    ['negative clockTolerance', { ...base, clockTolerance: -1 }],
    ['NaN maxAge', { ...base, maxAge: Number.NaN }],
    ['string maxAge', { ...base, maxAge: '60' }],
    ['alg none', { ...base, algorithms: ['none'] }],
    ['alg HS256', { ...base, algorithms: ['HS256'] }],
    ['empty algorithms', { ...base, algorithms: [] }],
    ['bad originalAudience', { ...base, originalAudience: ['a b'] }],
    ['null options', null],
  ];
  for (const [name, options] of bad) {
    test(name, () => {
      assert.throws(() => createVerifier(options as VerifierOptions), TypeError);
    });
  }

  test('issuer alone derives the JWKS URL on the route host', async () => {
    const seen: string[] = [];
    const fetchSpy: typeof fetch = async (input) => {
      seen.push(String(input));
      return new Response(JSON.stringify({ keys: [es.publicJwk] }), { headers: { 'content-type': 'application/json' } });
    };
    for (const issuer of [HOST, `https://${HOST}/`]) {
      const v = createVerifier({ issuer, audience: HOST, fetch: fetchSpy, now: () => T0 });
      await v.verify(await mint(es, limenClaims(T0)));
    }
    assert.deepEqual(seen, [`https://${HOST}/.well-known/pomerium/jwks.json`, `https://${HOST}/.well-known/pomerium/jwks.json`]);
  });

  test('a non-string token is a TypeError, not a refusal', async () => {
    for (const token of [undefined, null, 42, {}, ['a.b.c']]) {
      await assert.rejects(verifier().verify(token as string), TypeError);
    }
  });
});
