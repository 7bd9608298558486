/**
 * Administrative surfaces against a running Limen with the real dev IdP
 * (docs/security.md "Administrative surfaces"): cookie-authenticated changes
 * need the same origin and the session's CSRF token, on every change
 * endpoint the admin API router serves and on the /.pomerium/ forms; an
 * impersonation ends as soon as the administrator behind it loses their
 * rights; a service account is an administrator only through its `admin` role.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CookieJar, closeHttpAgents, csrfHeaders, parseForms, request, scriptedLogin, type TestResponse } from './support/index.js';
import { startStack, type Stack } from './stack.js';
import { createServiceAccount, mintRouteToken } from '../src/accounts/index.js';
import { adminApiRoutes, adminEndpoints, csrfToken, isStateChanging } from '../src/web/index.js';

const JSON_ACCEPT = { accept: 'application/json' };
const BROWSER_ACCEPT = { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' };
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
const ADMIN = 'admin@example.com';
const USER = 'bob@partner.org';
const EVIL = 'http://evil.example';

const ROUTES = [
  { name: 'app', from: 'http://app.localhost:PORT', to: 'UPSTREAM', allow_any_authenticated_user: true, pass_identity_headers: true },
  { name: 'staff', from: 'http://staff.localhost:PORT', to: 'UPSTREAM', policy: { allow: { or: [{ domain: { is: 'example.com' } }] } } },
  { name: 'partner', from: 'http://partner.localhost:PORT', to: 'UPSTREAM', policy: { allow: { or: [{ domain: { is: 'partner.org' } }] } } },
];
const ADMINISTRATORS = [ADMIN, 'root@example.com', 'group:ops-admins'];

interface Failure { reasons: string[]; message: string }

function reasonsOf(r: TestResponse): string[] {
  try { return r.json<Failure>().reasons ?? []; } catch { return []; }
}

async function signIn(s: Stack, email: string): Promise<CookieJar> {
  const jar = new CookieJar();
  for (const h of ['app', 'staff', 'partner']) await scriptedLogin(`${s.origin(h)}/`, email, { jar });
  return jar;
}

async function me(s: Stack, jar: CookieJar): Promise<{ sub: string; email: string; session_id: string; impersonated_by?: { email: string } }> {
  const r = await request(`${s.origin('app')}/.pomerium/user`, { jar, headers: JSON_ACCEPT });
  assert.equal(r.status, 200, r.text());
  return r.json();
}

async function auditOf(s: Stack, kind: string): Promise<{ kind: string; email?: string | undefined; actor?: string | undefined; details: Record<string, unknown> }[]> {
  await s.limen.services.audit.flush();
  return s.store.queryAudit({ kind, limit: 100_000 });
}

/** Starts impersonating `email` from the user page on app, as a browser would. */
async function impersonate(s: Stack, jar: CookieJar, email: string): Promise<void> {
  const page = await request(`${s.origin('app')}/.pomerium/`, { jar, headers: BROWSER_ACCEPT });
  const form = parseForms(page.text()).find((f) => f.id === 'impersonate');
  assert.ok(form, 'the administrator sees the impersonation form');
  const fields = new Map(form.fields);
  const r = await request(`${s.origin('app')}/.pomerium/`, {
    method: 'POST', jar, headers: { ...FORM, ...JSON_ACCEPT, origin: s.origin('app') },
    body: new URLSearchParams({ csrf: fields.get('csrf')!, action: 'impersonate', email, groups: '' }).toString(),
  });
  assert.equal(r.status, 303, r.text());
  assert.equal((await me(s, jar)).impersonated_by?.email !== undefined, true, 'impersonating');
}

describe('administrative surfaces', () => {
  let s: Stack;
  let admin: CookieJar;
  let adminSa = '';
  before(async () => {
    s = await startStack({ routes: ROUTES, config: { administrators: ADMINISTRATORS } });
    admin = await signIn(s, ADMIN);
    const ctx = { store: s.store, sharedSecret: s.config.sharedSecret, namespaces: s.config.namespaces, now: Date.now() };
    adminSa = (await createServiceAccount({ user: 'svc-admin', roles: ['admin'], description: 'admin automation' }, ctx)).token;
  });
  after(async () => {
    await s.close();
    await closeHttpAgents();
  });

  const api = (path: string): string => `${s.authOrigin}${path}`;

  test('cookie-authenticated admin API changes need the same origin and the CSRF token, on every change endpoint of the router', async () => {
    const changes = adminApiRoutes(adminEndpoints(s.limen.services)).filter((e) => isStateChanging(e.method));
    assert.ok(changes.length >= 15, `the router lists the change endpoints (${changes.length})`);
    assert.ok(changes.some((e) => e.method === 'POST' && e.path.endsWith('/service-accounts/:id/revoke')), 'the revoke endpoint of the finding is among them');

    const good = await csrfHeaders(s.authOrigin, admin);
    const token = good['x-csrf-token']!;
    const other = await csrfHeaders(s.authOrigin, await signIn(s, 'root@example.com'));
    const sid = (await me(s, admin)).session_id;
    const key = s.limen.runtime().csrfKey;
    const cases: { name: string; headers: Record<string, string>; cookie: boolean; want: string | 'allowed' }[] = [
      { name: 'no Origin and no token', headers: {}, cookie: true, want: 'csrf-origin-missing' },
      { name: 'cross-site Origin with the right token', headers: { origin: EVIL, 'sec-fetch-site': 'cross-site', 'x-csrf-token': token }, cookie: true, want: 'csrf-origin-mismatch' },
      { name: 'a route host\'s Origin (same site, another origin)', headers: { origin: s.origin('app'), 'x-csrf-token': token }, cookie: true, want: 'csrf-origin-mismatch' },
      { name: 'no Origin, Sec-Fetch-Site same-site', headers: { 'sec-fetch-site': 'same-site', 'x-csrf-token': token }, cookie: true, want: 'csrf-origin-mismatch' },
      { name: 'Origin null', headers: { origin: 'null', 'x-csrf-token': token }, cookie: true, want: 'csrf-origin-mismatch' },
      { name: 'right Origin, no token', headers: { origin: s.authOrigin }, cookie: true, want: 'csrf-token-missing' },
      { name: 'right Origin, wrong token', headers: { origin: s.authOrigin, 'x-csrf-token': 'A'.repeat(43) }, cookie: true, want: 'csrf-token-invalid' },
      { name: 'right Origin, another session\'s token', headers: { origin: s.authOrigin, 'x-csrf-token': other['x-csrf-token']! }, cookie: true, want: 'csrf-token-invalid' },
      { name: 'right Origin, this session\'s token for a route host', headers: { origin: s.authOrigin, 'x-csrf-token': csrfToken(key, sid, s.origin('app')) }, cookie: true, want: 'csrf-token-invalid' },
      { name: 'right Origin and token', headers: good, cookie: true, want: 'allowed' },
      { name: 'no Origin, Sec-Fetch-Site same-origin, and the token', headers: { 'sec-fetch-site': 'same-origin', 'x-csrf-token': token }, cookie: true, want: 'allowed' },
      { name: 'bearer token, cross-site Origin, no CSRF token', headers: { origin: EVIL, 'sec-fetch-site': 'cross-site', authorization: `Pomerium ${adminSa}` }, cookie: false, want: 'allowed' },
    ];
    const deniedBefore = (await auditOf(s, 'admin_denied')).length;
    let refusals = 0;
    for (const e of changes) {
      // Ids that do not exist: an allowed request reaches the handler and gets its 400/404, never a change.
      const path = e.path.replace(/:[a-z]+/g, 'no-such-id');
      for (const c of cases) {
        const r = await request(api(path), {
          method: e.method, ...(c.cookie ? { jar: admin } : {}),
          headers: { ...JSON_ACCEPT, 'content-type': 'application/json', ...c.headers }, body: '{}',
        });
        const label = `${e.method} ${e.path}: ${c.name}`;
        if (c.want === 'allowed') {
          assert.notEqual(r.status, 403, `${label}: ${r.text().slice(0, 200)}`);
          assert.ok(r.status < 500, label);
          assert.ok(!reasonsOf(r).some((x) => x.startsWith('csrf-')), label);
        } else {
          refusals++;
          assert.equal(r.status, 403, `${label}: ${r.text().slice(0, 200)}`);
          assert.deepEqual(reasonsOf(r), [c.want], label);
          assert.match(r.json<Failure>().message, /site|Origin|token/, `${label}: a reason in plain words`);
        }
      }
    }
    const denied = (await auditOf(s, 'admin_denied')).slice(deniedBefore);
    assert.equal(denied.length, refusals, 'every refusal is an audit event');
    assert.ok(denied.every((d) => String(d.details.reason).startsWith('csrf-') && d.email === ADMIN));
  });

  test('regression: a cross-site text/plain POST with the admin cookie no longer revokes a service account', async () => {
    const ctx = { store: s.store, sharedSecret: s.config.sharedSecret, namespaces: s.config.namespaces, now: Date.now() };
    const { account } = await createServiceAccount({ user: 'svc-victim', description: 'target of the forged request' }, ctx);
    const forged = await request(api(`/.pomerium/api/v1/service-accounts/${account.id}/revoke`), {
      method: 'POST', jar: admin, headers: { ...JSON_ACCEPT, origin: EVIL, 'content-type': 'text/plain', 'sec-fetch-site': 'cross-site' }, body: 'x',
    });
    assert.equal(forged.status, 403);
    assert.deepEqual(reasonsOf(forged), ['csrf-origin-mismatch']);
    const after = await request(api(`/.pomerium/api/v1/service-accounts/${account.id}`), { jar: admin, headers: JSON_ACCEPT });
    assert.equal(after.json<{ service_account: { status: string } }>().service_account.status, 'active', 'nothing changed');
    // The same change from the admin page itself goes through.
    const real = await request(api(`/.pomerium/api/v1/service-accounts/${account.id}/revoke`), {
      method: 'POST', jar: admin, headers: { ...JSON_ACCEPT, ...await csrfHeaders(s.authOrigin, admin) },
    });
    assert.equal(real.status, 200);
    assert.equal(real.json<{ service_account: { status: string } }>().service_account.status, 'revoked');
  });

  test('the /.pomerium/ impersonation forms refuse other origins and wrong tokens', async () => {
    const jar = await signIn(s, ADMIN);
    const page = await request(`${s.origin('app')}/.pomerium/`, { jar, headers: BROWSER_ACCEPT });
    const token = new Map(parseForms(page.text()).find((f) => f.id === 'impersonate')!.fields).get('csrf')!;
    const body = (csrf: string): string => new URLSearchParams({ csrf, action: 'impersonate', email: USER }).toString();
    const cases: { name: string; host: string; path?: string; headers: Record<string, string>; csrf: string; want: number; reason?: string }[] = [
      { name: 'no Origin', host: 'app', headers: {}, csrf: token, want: 403, reason: 'csrf-origin-missing' },
      { name: 'cross-site Origin, /.pomerium/impersonate', host: 'app', path: '/.pomerium/impersonate', headers: { origin: EVIL }, csrf: token, want: 403, reason: 'csrf-origin-mismatch' },
      { name: 'cross-site Origin', host: 'app', headers: { origin: EVIL }, csrf: token, want: 403, reason: 'csrf-origin-mismatch' },
      { name: 'another route host\'s Origin', host: 'app', headers: { origin: s.origin('staff') }, csrf: token, want: 403, reason: 'csrf-origin-mismatch' },
      { name: 'the token of app, posted on staff', host: 'staff', headers: { origin: s.origin('staff') }, csrf: token, want: 403, reason: 'csrf-token-invalid' },
      { name: 'wrong token', host: 'app', headers: { origin: s.origin('app') }, csrf: 'A'.repeat(43), want: 403, reason: 'csrf-token-invalid' },
      { name: 'same origin and token', host: 'app', headers: { origin: s.origin('app') }, csrf: token, want: 303 },
    ];
    for (const c of cases) {
      const r = await request(`${s.origin(c.host)}${c.path ?? '/.pomerium/'}`, { method: 'POST', jar, headers: { ...FORM, ...JSON_ACCEPT, ...c.headers }, body: body(c.csrf) });
      assert.equal(r.status, c.want, `${c.name}: ${r.text().slice(0, 200)}`);
      if (c.reason) {
        assert.deepEqual(reasonsOf(r), [c.reason], c.name);
        assert.equal((await me(s, jar)).impersonated_by, undefined, `${c.name}: nothing changed`);
      }
    }
    assert.equal((await me(s, jar)).email, USER);
    // Stopping is a change too: from another site it is refused, from the page it works.
    const stop = new URLSearchParams({ csrf: token, action: 'stop_impersonating' }).toString();
    const forged = await request(`${s.origin('app')}/.pomerium/`, { method: 'POST', jar, headers: { ...FORM, ...JSON_ACCEPT, origin: EVIL }, body: stop });
    assert.equal(forged.status, 403);
    assert.equal((await me(s, jar)).email, USER);
    assert.equal((await request(`${s.origin('app')}/.pomerium/`, { method: 'POST', jar, headers: { ...FORM, ...JSON_ACCEPT, origin: s.origin('app') }, body: stop })).status, 303);
    assert.equal((await me(s, jar)).email, ADMIN);
  });

  test('an impersonation ends on the next request once the administrator loses their rights', async () => {
    // `ops` is an administrator only through the directory group ops-admins.
    const ops = 'ops@example.com';
    const h = await csrfHeaders(s.authOrigin, admin);
    const adminApi = (method: string, path: string, b?: unknown): Promise<TestResponse> => request(api(`/.pomerium/api/v1${path}`), {
      method, jar: admin, headers: { ...JSON_ACCEPT, ...h, 'content-type': 'application/json' }, ...(b === undefined ? {} : { body: JSON.stringify(b) }),
    });
    assert.equal((await adminApi('POST', '/groups', { id: 'ops-admins', name: 'ops-admins' })).status, 201);

    const cases: { name: string; actor: string; setUp?: () => Promise<void>; revoke: () => Promise<void>; restore: () => Promise<void>; reason: string; then: { status: number; reasons?: string[]; self?: boolean } }[] = [
      {
        name: 'removed from administrators by a config reload',
        actor: 'root@example.com',
        revoke: async () => { await s.limen.reload(s.configWith(ROUTES, { administrators: [ADMIN, 'group:ops-admins'] })); },
        restore: async () => { await s.limen.reload(s.configWith(ROUTES, { administrators: ADMINISTRATORS })); },
        reason: 'actor-not-administrator',
        // The request is the administrator's own again: root@example.com may reach staff, bob may not.
        then: { status: 200, self: true },
      },
      {
        name: 'the directory group that made them an administrator is taken away',
        actor: ops,
        setUp: async () => { assert.equal((await adminApi('PUT', `/groups/ops-admins/members/${encodeURIComponent(ops)}`)).status, 200); },
        revoke: async () => { assert.equal((await adminApi('DELETE', `/groups/ops-admins/members/${encodeURIComponent(ops)}`)).status, 200); },
        restore: async () => {},
        reason: 'actor-not-administrator',
        then: { status: 200, self: true },
      },
      {
        name: 'deactivated in the directory',
        actor: 'root@example.com',
        revoke: async () => { assert.equal((await adminApi('PATCH', `/users/${encodeURIComponent('root@example.com')}`, { active: false })).status, 200); },
        restore: async () => { assert.equal((await adminApi('PATCH', `/users/${encodeURIComponent('root@example.com')}`, { active: true })).status, 200); },
        reason: 'actor-deprovisioned',
        // Their own identity is refused by the directory: 403 with the reason, not the user's access.
        then: { status: 403, reasons: ['user-deprovisioned'] },
      },
    ];
    for (const c of cases) {
      const jar = await signIn(s, c.actor);
      await c.setUp?.();
      await impersonate(s, jar, USER);
      const sid = (await me(s, jar)).session_id;
      assert.equal((await request(`${s.origin('partner')}/`, { jar, headers: JSON_ACCEPT })).status, 200, `${c.name}: acting as ${USER}`);
      await c.revoke();
      const r = await request(`${s.origin('staff')}/`, { jar, headers: JSON_ACCEPT });
      assert.equal(r.status, c.then.status, `${c.name}: ${r.text().slice(0, 200)}`);
      if (c.then.reasons) assert.deepEqual(reasonsOf(r), c.then.reasons, c.name);
      if (c.then.self) {
        const who = await me(s, jar);
        assert.equal(who.email, c.actor, `${c.name}: the request is the administrator's own`);
        assert.equal(who.impersonated_by, undefined, c.name);
        assert.equal((await request(`${s.origin('partner')}/`, { jar, headers: JSON_ACCEPT })).status, 403, `${c.name}: no longer the user's access`);
      }
      const stops = (await auditOf(s, 'impersonate_stop')).filter((e) => e.details.session_id === sid);
      assert.deepEqual(stops.map((e) => [e.details.reason, e.actor, e.email]), [[c.reason, c.actor, USER]], `${c.name}: audited once`);
      await c.restore();
      // Getting the rights back does not bring the impersonation back.
      assert.equal((await me(s, jar)).impersonated_by, undefined, `${c.name}: stays ended`);
    }
  });

  test('a service account acting as an administrator gets no admin rights without the admin role', async () => {
    const ctx = { store: s.store, sharedSecret: s.config.sharedSecret, namespaces: s.config.namespaces, now: Date.now() };
    const route = await mintRouteToken({ audience: [new URL(s.authOrigin).hostname], email: ADMIN, user: (await me(s, admin)).sub, expiryMs: 3_600_000 }, s.config.sharedSecret, Date.now());
    const cases: { name: string; token: string; want: number }[] = [
      { name: 'acting as the administrator\'s directory user, no role', token: (await createServiceAccount({ asUser: ADMIN, description: 'scripts' }, ctx)).token, want: 403 },
      { name: 'acting as the administrator, with the admin role', token: (await createServiceAccount({ asUser: ADMIN, roles: ['admin'], description: 'admin scripts' }, ctx)).token, want: 200 },
      { name: 'its own user id, no role', token: (await createServiceAccount({ user: 'svc-plain', description: 'plain' }, ctx)).token, want: 403 },
      { name: 'its own user id, with the admin role', token: adminSa, want: 200 },
      { name: 'a route-scoped token naming the administrator\'s email', token: route.token, want: 403 },
    ];
    for (const c of cases) {
      const r = await request(api('/.pomerium/api/v1/users'), { headers: { ...JSON_ACCEPT, authorization: `Pomerium ${c.token}` } });
      assert.equal(r.status, c.want, `${c.name}: ${r.text().slice(0, 200)}`);
      if (c.want === 403) assert.deepEqual(reasonsOf(r), ['not-administrator'], c.name);
    }
  });
});
