/**
 * Identity claims against a running Limen with the real dev IdP
 * (docs/security.md "Identity claims"): an email the IdP has not verified
 * is no email at all (criteria, administrators, directory, assertion), in
 * each `idp_email_verification` mode; a carried original-user assertion is
 * passed on only when a service carries it and Limen issued it for a route.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { SignJWT, decodeJwt } from 'jose';
import { CookieJar, closeHttpAgents, parseForms, request, scriptedLogin } from './support/index.js';
import { startStack, type Stack } from './stack.js';
import { createServiceAccount, putDirectoryUser } from '../src/accounts/index.js';

const JSON_ACCEPT = { accept: 'application/json' };
const BROWSER_ACCEPT = { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' };
const ADMIN = 'admin@example.com';

interface Echo { headers: Record<string, string | undefined> }

const ROUTES = [
  { name: 'by-email', from: 'http://app.localhost:PORT', prefix: '/by-email', to: 'UPSTREAM', policy: { allow: { or: [{ email: { is: ADMIN } }] } } },
  { name: 'by-domain', from: 'http://app.localhost:PORT', prefix: '/by-domain', to: 'UPSTREAM', policy: { allow: { or: [{ domain: { is: 'example.com' } }] } } },
  { name: 'finance', from: 'http://app.localhost:PORT', prefix: '/finance', to: 'UPSTREAM', policy: { allow: { or: [{ groups: { has: 'finance' } }] } } },
  { name: 'app', from: 'http://app.localhost:PORT', to: 'UPSTREAM', allow_any_authenticated_user: true, pass_identity_headers: true },
  { name: 'staff', from: 'http://staff.localhost:PORT', to: 'UPSTREAM', allow_any_authenticated_user: true, pass_identity_headers: true },
  { name: 'public', from: 'http://public.localhost:PORT', to: 'UPSTREAM', allow_public_unauthenticated_access: true, pass_identity_headers: true },
];

async function auditOf(s: Stack, kind: string): Promise<{ route?: string | undefined; details: Record<string, unknown> }[]> {
  await s.limen.services.audit.flush();
  return s.store.queryAudit({ kind, limit: 100_000 });
}

describe('identity claims', () => {
  let s: Stack;
  before(async () => {
    s = await startStack({
      routes: ROUTES,
      config: { administrators: [ADMIN], jwt_claims_headers: ['email'] },
      users: {
        // Someone registered the administrator's address at an IdP that allows self-registration.
        [ADMIN]: { sub: 'self-registered', emailVerified: false, groups: ['everyone'] },
        // An IdP that does not send email_verified at all.
        'ceo@example.com': { emailVerified: null, groups: ['everyone'] },
        'ada@example.com': { groups: ['everyone'] },
      },
    });
    // The real administrator is in the directory, found by email, with a directory group.
    await putDirectoryUser(s.store, { id: 'u-admin', email: ADMIN, name: 'Admin', groups: ['finance'], source: 'manual', lastSeen: undefined });
  });
  after(async () => {
    await s.close();
    await closeHttpAgents();
  });

  test('an email the IdP has not verified is treated as absent, in each idp_email_verification mode', async () => {
    type Want = { email: string; byEmail: number; byDomain: number; finance: number; adminApi: number };
    const table: { mode?: string; who: string; want: Want }[] = [
      { who: ADMIN, want: { email: '', byEmail: 403, byDomain: 403, finance: 403, adminApi: 403 } },
      { who: 'ceo@example.com', want: { email: 'ceo@example.com', byEmail: 403, byDomain: 200, finance: 403, adminApi: 403 } },
      { mode: 'reject_unverified', who: ADMIN, want: { email: '', byEmail: 403, byDomain: 403, finance: 403, adminApi: 403 } },
      { mode: 'require_verified', who: 'ceo@example.com', want: { email: '', byEmail: 403, byDomain: 403, finance: 403, adminApi: 403 } },
      { mode: 'require_verified', who: 'ada@example.com', want: { email: 'ada@example.com', byEmail: 403, byDomain: 200, finance: 403, adminApi: 403 } },
      // The operator's opt-out: the address is used as the IdP sent it. (The directory still knows this
      // sign-in by its own id from the rows above, so the administrator's directory groups stay theirs.)
      { mode: 'trust_idp', who: ADMIN, want: { email: ADMIN, byEmail: 200, byDomain: 200, finance: 403, adminApi: 200 } },
    ];
    for (const t of table) {
      await s.limen.reload(s.configWith(ROUTES, t.mode ? { idp_email_verification: t.mode } : {}));
      const label = `${t.mode ?? 'default'} ${t.who}`;
      const jar = new CookieJar();
      await scriptedLogin(`${s.origin('app')}/`, t.who, { jar });
      const get = async (url: string): Promise<number> => (await request(url, { jar, headers: JSON_ACCEPT })).status;
      const got: Want = {
        email: (await request(`${s.origin('app')}/.pomerium/user`, { jar, headers: JSON_ACCEPT })).json<{ email: string }>().email,
        byEmail: await get(`${s.origin('app')}/by-email`),
        byDomain: await get(`${s.origin('app')}/by-domain`),
        finance: await get(`${s.origin('app')}/finance`),
        adminApi: await get(`${s.authOrigin}/.pomerium/api/v1/users`),
      };
      assert.deepEqual(got, t.want, label);
      // The upstream is told the same email policy saw, in the assertion and the claim header.
      const echo = (await request(`${s.origin('app')}/`, { jar, headers: JSON_ACCEPT })).json<Echo>();
      assert.equal(decodeJwt(echo.headers['x-pomerium-jwt-assertion']!).email, t.want.email, label);
      assert.equal(echo.headers['x-pomerium-claim-email'], t.want.email, label);
      if (t.want.email === '') {
        const page = await request(`${s.origin('app')}/.pomerium/`, { jar, headers: BROWSER_ACCEPT });
        assert.match(page.text(), /identity provider (has not verified|did not say whether)/, `${label}: the user page says why`);
        assert.equal(parseForms(page.text()).find((f) => f.id === 'impersonate'), undefined, `${label}: no impersonation form`);
      }
    }
    await s.limen.reload(s.configWith(ROUTES));
  });

  test('a carried assertion is passed on only when a service carries it and Limen issued it for a route', async () => {
    const jar = new CookieJar();
    await scriptedLogin(`${s.origin('app')}/`, 'ada@example.com', { jar });
    await scriptedLogin(`${s.origin('staff')}/`, 'ada@example.com', { jar });
    const ada = (await request(`${s.origin('app')}/`, { jar, headers: JSON_ACCEPT })).json<Echo>().headers['x-pomerium-jwt-assertion']!;
    assert.equal(decodeJwt(ada).aud, 'app.localhost');
    const { token } = await createServiceAccount({ user: 'svc-app' }, { store: s.store, sharedSecret: s.config.sharedSecret, namespaces: s.config.namespaces, now: Date.now() });
    const svc = { authorization: `Pomerium ${token}` };
    const rt = s.limen.runtime();
    const identity = { cacheKey: 'test', user: 'u-x', email: 'x@example.com', name: '', groups: [], sid: 'x', claims: {} };
    const forGone = await rt.signer.sign(identity, 'gone.localhost');
    const k = rt.keys.current;
    const nowS = Math.floor(Date.now() / 1000);
    const otherIssuer = await new SignJWT({ sub: 'u-x', email: 'x@example.com', iss: 'elsewhere.example', aud: 'app.localhost', iat: nowS, exp: nowS + 300 })
      .setProtectedHeader({ alg: k.alg, kid: k.kid, typ: 'JWT' }).sign(k.privateKey);

    const cases: { name: string; host: string; headers: Record<string, string>; jar?: CookieJar; want: { passed: true } | { dropped: string } }[] = [
      // The finding: ada's assertion for app.localhost, presented on staff.localhost by a browser.
      { name: 'a person\'s session carries an assertion issued for another route', host: 'staff', jar, headers: { 'x-pomerium-jwt-assertion-for': ada }, want: { dropped: 'assertion-carrier-not-service' } },
      { name: 'a person\'s session moves an incoming assertion', host: 'staff', jar, headers: { 'x-pomerium-jwt-assertion': ada }, want: { dropped: 'assertion-carrier-not-service' } },
      { name: 'an anonymous request on a public route', host: 'public', headers: { 'x-pomerium-jwt-assertion-for': ada }, want: { dropped: 'assertion-carrier-not-service' } },
      { name: 'a service carries an assertion for a host no route serves', host: 'staff', headers: { ...svc, 'x-pomerium-jwt-assertion-for': forGone }, want: { dropped: 'assertion-audience-unknown' } },
      { name: 'a service carries an assertion whose issuer is not its audience', host: 'staff', headers: { ...svc, 'x-pomerium-jwt-assertion-for': otherIssuer }, want: { dropped: 'assertion-issuer-mismatch' } },
      { name: 'a service carries the original user\'s assertion for the first hop', host: 'staff', headers: { ...svc, 'x-pomerium-jwt-assertion-for': ada }, want: { passed: true } },
      { name: 'a service forwards the assertion it received', host: 'staff', headers: { ...svc, 'x-pomerium-jwt-assertion': ada }, want: { passed: true } },
    ];
    for (const c of cases) {
      const before = (await auditOf(s, 'authorize')).length;
      const r = await request(`${s.origin(c.host)}/`, { ...(c.jar ? { jar: c.jar } : {}), headers: { ...JSON_ACCEPT, ...c.headers } });
      assert.equal(r.status, 200, `${c.name}: ${r.text().slice(0, 200)}`);
      const forwarded = r.json<Echo>().headers['x-pomerium-jwt-assertion-for'];
      const decision = (await auditOf(s, 'authorize')).slice(before).at(-1)!;
      if ('passed' in c.want) {
        assert.equal(forwarded, ada, c.name);
        // The decision log records the original audience and user.
        assert.deepEqual(decision.details.carried_assertion, { aud: 'app.localhost', sub: decodeJwt(ada).sub }, c.name);
      } else {
        assert.equal(forwarded, undefined, `${c.name}: never reaches the upstream`);
        assert.equal(decision.details.carried_assertion_dropped, c.want.dropped, c.name);
      }
    }

    // A route that is gone no longer vouches for its assertions.
    await s.limen.reload(s.configWith(ROUTES.filter((r) => r.name !== 'app' && r.from.includes('app') === false)));
    const r = await request(`${s.origin('staff')}/`, { headers: { ...JSON_ACCEPT, ...svc, 'x-pomerium-jwt-assertion-for': ada } });
    assert.equal(r.json<Echo>().headers['x-pomerium-jwt-assertion-for'], undefined);
    assert.equal((await auditOf(s, 'authorize')).at(-1)!.details.carried_assertion_dropped, 'assertion-audience-unknown');
    await s.limen.reload(s.configWith(ROUTES));
  });
});
