import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { createVerifier } from '@limen/verify';
import { CookieJar, request, runCli, scriptedLogin, closeHttpAgents } from './support/index.js';
import { startStack, type Stack } from './stack.js';
import { createServiceAccount } from '../src/accounts/index.js';

const JSON_ACCEPT = { accept: 'application/json' };

interface Echo { headers: Record<string, string | undefined> }

const run = async (args: string[], stdin?: string) => {
  const r = await runCli(args, stdin === undefined ? {} : { stdin });
  return { code: r.code ?? -1, out: r.stdout, err: r.stderr };
};

async function generateKey(rsa = false): Promise<string> {
  const r = await run(['keys', 'generate', ...(rsa ? ['--rsa'] : [])]);
  assert.equal(r.code, 0, r.err);
  assert.match(r.err, /^kid [0-9a-f]{64} alg (ES256|RS256)$/m);
  return Buffer.from(r.out.trim(), 'base64').toString();
}

describe('signed identity: keys, rotation, claims options, carried assertions', () => {
  let s: Stack;
  let jar: CookieJar;
  let clock = Date.now();
  let keyA: string;
  let keyB: string;
  const routes = [
    { name: 'app', from: 'http://app.localhost:PORT', to: 'UPSTREAM', allow_any_authenticated_user: true, pass_identity_headers: true },
    { name: 'plain', from: 'http://plain.localhost:PORT', to: 'UPSTREAM', allow_any_authenticated_user: true },
  ];
  const b64 = (...pems: string[]) => Buffer.from(pems.join('\n')).toString('base64');

  before(async () => {
    keyA = await generateKey();
    keyB = await generateKey();
    s = await startStack({ routes, config: { signing_key: b64(keyA) }, now: () => clock });
    jar = new CookieJar();
    await scriptedLogin(`${s.origin('app')}/`, 'ada@example.com', { jar, groups: ['eng', 'ops', 'staff'] });
    await scriptedLogin(`${s.origin('plain')}/`, 'ada@example.com', { jar });
  });
  after(async () => { await s.close(); await closeHttpAgents(); });

  const assertionOf = async (host = 'app', headers: Record<string, string> = {}) => {
    const res = await request(`${s.origin(host)}/`, { jar, headers: { ...JSON_ACCEPT, ...headers } });
    assert.equal(res.status, 200);
    return res.json<Echo>().headers;
  };

  test('key rotation mid-traffic: every assertion verifies at every step', async () => {
    const verifier = createVerifier({
      jwksUrl: `http://127.0.0.1:${s.port}/.well-known/pomerium/jwks.json`,
      audience: `app.localhost`,
      issuer: 'app.localhost',
      now: () => clock,
    });
    const kids: string[] = [];
    const steps = [[keyA], [keyA, keyB], [keyB, keyA], [keyB]];
    let carriedFromOldKey: string | undefined;
    for (const [i, keys] of steps.entries()) {
      await s.limen.reload(s.configWith(routes, { signing_key: b64(...keys) }));
      for (let n = 0; n < 5; n++) {
        const token = (await assertionOf())['x-pomerium-jwt-assertion']!;
        const claims = await verifier.verify(token);
        assert.equal(claims.email, 'ada@example.com');
        kids.push(String(decodeProtectedHeader(token).kid));
        if (i === 1) carriedFromOldKey = token;
      }
      if (i === 2) {
        // Signed by the old key before the swap; still published, still valid.
        await verifier.verify(carriedFromOldKey!);
      }
      clock += 61_000;
    }
    assert.equal(new Set(kids.slice(0, 10)).size, 1, 'old key signs until it is moved second');
    assert.equal(new Set(kids.slice(10)).size, 1, 'new key signs after the swap');
    assert.notEqual(kids[0], kids[19]);
    await s.limen.reload(s.configWith(routes, { signing_key: b64(keyA) }));
  });

  test('an RSA signing key signs RS256', async () => {
    const rsa = await generateKey(true);
    await s.limen.reload(s.configWith(routes, { signing_key: b64(rsa) }));
    const token = (await assertionOf())['x-pomerium-jwt-assertion']!;
    assert.equal(decodeProtectedHeader(token).alg, 'RS256');
    await s.limen.reload(s.configWith(routes, { signing_key: b64(keyA) }));
  });

  test('jwt_issuer_format, jwt_groups_filter and jwt_claims_headers (map form) shape the assertion', async () => {
    await s.limen.reload(s.configWith(routes, {
      signing_key: b64(keyA),
      jwt_issuer_format: 'uri',
      jwt_groups_filter: ['eng', 'staff'],
      jwt_claims_headers: { 'X-Email': 'email', 'X-Email-Verified': 'email_verified', 'X-Missing': 'department' },
    }));
    clock += 61_000 * 5;
    const h = await assertionOf();
    const claims = decodeJwt(h['x-pomerium-jwt-assertion']!);
    assert.equal(claims.iss, 'https://app.localhost/');
    assert.equal(claims.aud, 'app.localhost');
    assert.deepEqual(claims.groups, ['eng', 'staff']);
    assert.equal(claims.email_verified, true);
    assert.equal(h['x-email'], 'ada@example.com');
    assert.equal(h['x-email-verified'], 'true');
    assert.equal(h['x-missing'], '', 'always set, empty when the claim is missing');
    // Claim headers are set even where identity headers are off, so clients cannot supply them.
    const plain = await assertionOf('plain', { 'x-email': 'forged@evil.example' });
    assert.equal(plain['x-email'], 'ada@example.com');
    assert.equal(plain['x-pomerium-jwt-assertion'], undefined);
    await s.limen.reload(s.configWith(routes, { signing_key: b64(keyA) }));
  });

  test('carried assertions: valid ones move to -For, forged or expired ones are dropped with a logged reason', async () => {
    clock += 61_000 * 5;
    const mine = (await assertionOf())['x-pomerium-jwt-assertion']!;
    // Only a service carries a user's assertion onward (docs/security.md, "Identity claims").
    const { token } = await createServiceAccount({ user: 'svc-carrier' }, { store: s.store, sharedSecret: s.config.sharedSecret, namespaces: s.config.namespaces, now: clock });
    const svc = { authorization: `Pomerium ${token}` };
    const moved = await assertionOf('app', { ...svc, 'x-pomerium-jwt-assertion': mine });
    assert.equal(moved['x-pomerium-jwt-assertion-for'], mine);
    // The request's own assertion is Limen's, for the service.
    assert.equal(decodeJwt(moved['x-pomerium-jwt-assertion']!).sub, 'svc-carrier');

    const kept = await assertionOf('app', { ...svc, 'x-pomerium-jwt-assertion-for': mine, 'x-pomerium-jwt-assertion': 'ignored' });
    assert.equal(kept['x-pomerium-jwt-assertion-for'], mine, '-For is passed on unchanged');

    const [h, p, sig] = mine.split('.');
    const forged = [
      `${h}.${Buffer.from(JSON.stringify({ ...decodeJwt(mine), email: 'ceo@example.com' })).toString('base64url')}.${sig}`,
      `${Buffer.from('{"alg":"none"}').toString('base64url')}.${p}.`,
      'not-a-jwt',
      'a'.repeat(10000),
    ];
    for (const f of forged) {
      const r = await assertionOf('app', { ...svc, 'x-pomerium-jwt-assertion-for': f });
      assert.equal(r['x-pomerium-jwt-assertion-for'], undefined, f.slice(0, 30));
    }
    clock += 10 * 60_000;
    const expired = await assertionOf('app', { ...svc, 'x-pomerium-jwt-assertion-for': mine });
    assert.equal(expired['x-pomerium-jwt-assertion-for'], undefined, 'expired beyond skew');
    await s.limen.services.audit.flush();
    const events = await s.store.queryAudit({ kind: 'authorize', limit: 10_000 });
    const reasons = events.map((e) => e.details.carried_assertion_dropped).filter(Boolean);
    assert.ok(reasons.includes('assertion-signature-invalid'), JSON.stringify(reasons));
    assert.ok(reasons.includes('assertion-expired'));
    assert.ok(reasons.includes('assertion-too-large'));
  });

  test('header hygiene on a signed-in route with and without pass_identity_headers: exactly Limen\'s headers arrive', async () => {
    clock = Date.now();
    const spoofed = {
      'x-pomerium-jwt-assertion': 'forged.assertion.value',
      'x-pomerium-jwt-assertion-for': 'forged.for.value',
      'x-pomerium-claim-email': 'ceo@example.com',
      'x-pomerium-authenticated-user-email': 'ceo@example.com',
      'x-pomerium-authorization': 'not-a-token',
      'x-pomerium-whatever': '1',
    };
    const cookieHeader = (host: string) => `theme=dark; ${jar.header(`${s.origin(host)}/`)}; lang=en`;
    for (const [host, identity] of [['app', true], ['plain', false]] as const) {
      // A bogus X-Pomerium-Authorization would be taken as the credential (and refused), so send the
      // spoofed set without it alongside the real cookie, and check it separately.
      const { 'x-pomerium-authorization': _ignored, ...withoutAuth } = spoofed;
      const res = await request(`${s.origin(host)}/`, { headers: { ...JSON_ACCEPT, ...withoutAuth, cookie: cookieHeader(host) } });
      assert.equal(res.status, 200);
      const h = res.json<Echo>().headers;
      const pomerium = Object.keys(h).filter((k) => k.startsWith('x-pomerium-')).sort();
      assert.deepEqual(pomerium, identity ? ['x-pomerium-jwt-assertion'] : [], host);
      if (identity) assert.equal(decodeJwt(h['x-pomerium-jwt-assertion']!).email, 'ada@example.com');
      assert.equal(h.cookie, 'theme=dark; lang=en', 'the session cookie never reaches the upstream');
      const bad = await request(`${s.origin(host)}/`, { headers: { ...JSON_ACCEPT, ...spoofed, cookie: cookieHeader(host) } });
      assert.equal(bad.status, 401, 'a bad Pomerium credential header is refused, not ignored');
    }
  });

  test('limen jwt verify prints the claims of a good assertion and the reason for a bad one', async () => {
    clock = Date.now();
    const token = (await assertionOf())['x-pomerium-jwt-assertion']!;
    const jwks = `http://127.0.0.1:${s.port}/.well-known/pomerium/jwks.json`;
    const ok = await run(['jwt', 'verify', '--jwks', jwks, '--aud', 'app.localhost', token]);
    assert.equal(ok.code, 0, ok.err);
    assert.equal(JSON.parse(ok.out).email, 'ada@example.com');
    const stdin = await run(['jwt', 'verify', '--jwks', jwks, '--aud', 'app.localhost', '-'], token);
    assert.equal(stdin.code, 0, stdin.err);
    const wrongAud = await run(['jwt', 'verify', '--jwks', jwks, '--aud', 'other.localhost', token]);
    assert.equal(wrongAud.code, 1);
    assert.match(wrongAud.err, /ERR_AUDIENCE_INVALID/);
    const tampered = await run(['jwt', 'verify', '--jwks', jwks, '--aud', 'app.localhost', `${token.slice(0, -4)}AAAA`]);
    assert.equal(tampered.code, 1);
    assert.match(tampered.err, /ERR_SIGNATURE_INVALID/);
    assert.ok(!tampered.err.includes(token.slice(0, 40)), 'the token is not echoed');
  });
});
