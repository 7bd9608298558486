import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { decodeProtectedHeader, jwtVerify, type JWTPayload } from 'jose';
import { MemoryStore } from '../store/index.js';
import { signSessionHandle } from '../identity/index.js';
import { putDirectoryUser } from './directory.js';
import { REVOKED_TOKEN_TYPE, RouteTokenSpecError, isRouteTokenRevoked, mintRouteToken, revokeRouteToken, routeTokenResolver } from './route-tokens.js';

const SECRET = new Uint8Array(randomBytes(32));
const T0 = Date.parse('2030-03-01T10:00:00.000Z');
const HOUR = 3_600_000;

async function claimsOf(token: string): Promise<JWTPayload> {
  return (await jwtVerify(token, SECRET, { algorithms: ['HS256'], currentDate: new Date(T0) })).payload;
}

function setup() {
  const store = new MemoryStore();
  let now = T0;
  const resolve = routeTokenResolver({ store, now: () => now });
  return { store, resolve, setNow: (t: number) => { now = t; } };
}

describe('mintRouteToken', () => {
  test('claims follow pomerium-cli: aud list, iat = nbf = now, exp = now + expiry, identity, plus a jti', async () => {
    const { token, jti, expiresAt } = await mintRouteToken({
      audience: ['httpbin.example.com', 'prometheus.example.com'], expiryMs: HOUR, issuer: 'authenticate.example.com',
      subject: 'bob', user: 'bob', email: 'bob@example.com', groups: ['admins', 'users'],
    }, SECRET, T0);
    assert.deepEqual(decodeProtectedHeader(token), { alg: 'HS256', typ: 'JWT' });
    const c = await claimsOf(token);
    assert.deepEqual(c, {
      iss: 'authenticate.example.com', sub: 'bob', aud: ['httpbin.example.com', 'prometheus.example.com'],
      iat: T0 / 1000, nbf: T0 / 1000, exp: (T0 + HOUR) / 1000, jti,
      email: 'bob@example.com', user: 'bob', groups: ['admins', 'users'],
    });
    assert.equal(expiresAt, T0 + HOUR);
  });

  test('refuses specs that could never work', async () => {
    const cases = [
      { audience: [], expiryMs: HOUR, user: 'u' },
      { audience: [' '], expiryMs: HOUR, user: 'u' },
      { audience: ['a'], expiryMs: 0, user: 'u' },
      { audience: ['a'], expiryMs: -1, user: 'u' },
      { audience: ['a'], expiryMs: Number.NaN, user: 'u' },
      { audience: ['a'], expiryMs: 500, user: 'u' },
      { audience: ['a'], expiryMs: HOUR },
    ];
    for (const spec of cases) await assert.rejects(mintRouteToken(spec, SECRET, T0), RouteTokenSpecError, JSON.stringify(spec));
  });
});

describe('routeTokenResolver', () => {
  test('accepted on a host in aud, as the identity it carries', async () => {
    const s = setup();
    const { token, jti } = await mintRouteToken({ audience: ['app.example.com', 'Other.Example.com:8443'], expiryMs: HOUR, subject: 'bob', user: 'bob', email: 'bob@example.com', groups: ['eng'] }, SECRET, T0);
    for (const host of ['app.example.com', 'other.example.com']) {
      const r = await s.resolve(await claimsOf(token), host, 'global');
      assert.ok(r && 'caller' in r, host);
      assert.equal(r.caller.kind, 'route_token');
      assert.equal(r.caller.policy.user, 'bob');
      assert.equal(r.caller.policy.email, 'bob@example.com');
      assert.deepEqual(r.caller.policy.groups, ['eng']);
      assert.equal(r.caller.policy.sessionId, jti);
      assert.equal(r.caller.assertion.sid, jti);
      assert.equal(r.caller.impersonator, undefined);
      assert.equal(r.outOfScope, undefined, 'route tokens are scoped by aud, not namespace');
    }
  });

  test('refusals: other host, at or after exp, revoked, no identity, malformed aud', async () => {
    const s = setup();
    const { token, jti, expiresAt } = await mintRouteToken({ audience: ['app.example.com'], expiryMs: HOUR, email: 'bob@example.com' }, SECRET, T0);
    const claims = await claimsOf(token);
    assert.deepEqual(await s.resolve(claims, 'evil.example.com', 'global'), { failure: 'token-audience-mismatch' });
    assert.deepEqual(await s.resolve(claims, 'app.example.com.evil.com', 'global'), { failure: 'token-audience-mismatch' });
    assert.deepEqual(await s.resolve(claims, 'example.com', 'global'), { failure: 'token-audience-mismatch' });
    s.setNow(expiresAt - 1);
    assert.ok('caller' in (await s.resolve(claims, 'app.example.com', 'global'))!);
    s.setNow(expiresAt);
    assert.deepEqual(await s.resolve(claims, 'app.example.com', 'global'), { failure: 'token-expired' }, 'no skew past exp');
    s.setNow(T0);
    await revokeRouteToken(s.store, jti, T0, expiresAt);
    assert.deepEqual(await s.resolve(claims, 'app.example.com', 'global'), { failure: 'token-revoked' });
    const base = { nbf: T0 / 1000, exp: T0 / 1000 + 60 };
    assert.deepEqual(await s.resolve({ ...base, aud: 'app.example.com' }, 'app.example.com', 'global'), { failure: 'token-claims-invalid' });
    for (const aud of [[], [1], 5, {}] as unknown[]) {
      assert.deepEqual(await s.resolve({ ...base, aud, sub: 'x' } as JWTPayload, 'app.example.com', 'global'), { failure: 'token-claims-invalid' }, JSON.stringify(aud));
    }
  });

  test('a revocation lapses with the token it revoked; unknown ids are not revoked', async () => {
    const s = setup();
    await revokeRouteToken(s.store, 'tok-1', T0, T0 + HOUR);
    assert.equal(await isRouteTokenRevoked(s.store, 'tok-1', T0 + HOUR - 1), true);
    assert.equal(await isRouteTokenRevoked(s.store, 'tok-1', T0 + HOUR), false);
    await revokeRouteToken(s.store, 'tok-2', T0);
    assert.equal(await isRouteTokenRevoked(s.store, 'tok-2', T0 + 1000 * HOUR), true, 'no expiry given: kept');
    assert.equal(await isRouteTokenRevoked(s.store, 'other', T0), false);
    assert.equal(await isRouteTokenRevoked(s.store, 'x'.repeat(300), T0), false);
    await assert.rejects(revokeRouteToken(s.store, '', T0), RouteTokenSpecError);
    const rec = await s.store.get(REVOKED_TOKEN_TYPE, 'tok-1', T0);
    assert.equal(rec?.data.jti, 'tok-1');
  });

  test('impersonation: a directory email takes that user\'s id and groups; given groups replace them', async () => {
    const s = setup();
    await putDirectoryUser(s.store, { id: 'u-ann', email: 'ann@example.com', name: 'Ann', groups: ['finance'], source: 'idp', lastSeen: T0 });
    const cases: { imp: { impersonateEmail?: string; impersonateGroups?: string[] }; want: { user: string; email: string; groups: string[] } }[] = [
      { imp: { impersonateEmail: 'ann@example.com' }, want: { user: 'u-ann', email: 'ann@example.com', groups: ['finance'] } },
      { imp: { impersonateEmail: 'ann@example.com', impersonateGroups: ['audit'] }, want: { user: 'u-ann', email: 'ann@example.com', groups: ['audit'] } },
      { imp: { impersonateEmail: 'stranger@example.com' }, want: { user: 'stranger@example.com', email: 'stranger@example.com', groups: [] } },
      { imp: { impersonateGroups: ['audit', 'ops'] }, want: { user: 'admin', email: 'admin@example.com', groups: ['audit', 'ops'] } },
    ];
    for (const c of cases) {
      const { token } = await mintRouteToken({ audience: ['app'], expiryMs: HOUR, user: 'admin', email: 'admin@example.com', groups: ['admins'], ...c.imp }, SECRET, T0);
      const r = await s.resolve(await claimsOf(token), 'app', 'global');
      assert.ok(r && 'caller' in r);
      const p = r.caller.policy;
      assert.deepEqual({ user: p.user, email: p.email, groups: [...p.groups] }, c.want, JSON.stringify(c.imp));
      assert.deepEqual(r.caller.impersonator, { sub: 'admin', email: 'admin@example.com' });
      assert.deepEqual(r.caller.assertion.act, { sub: 'admin', email: 'admin@example.com' });
      assert.equal(r.caller.assertion.user, c.want.user);
    }
  });

  test('a session handle whose session is gone is never taken for a route token', async () => {
    const s = setup();
    // Session handles carry aud (and programmatic ones exp) but never nbf.
    for (const expiresAt of [undefined, T0 + HOUR]) {
      const handle = await signSessionHandle({ sid: 'gone', sub: 'u', iss: 'auth.example.com', aud: 'app.example.com', ...(expiresAt ? { expiresAt } : {}) }, SECRET, T0);
      assert.equal(await s.resolve(await claimsOf(handle), 'app.example.com', 'global'), undefined);
    }
    // Service-account tokens (no aud) are not route tokens either.
    assert.equal(await s.resolve({ jti: 'sa', sub: 'bot', nbf: T0 / 1000, iat: T0 / 1000, exp: T0 / 1000 + 60 }, 'app', 'global'), undefined);
  });
});
