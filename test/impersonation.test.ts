/**
 * Impersonation end to end (CONTRACT §6, seed 001) with the real dev IdP:
 * an administrator sees exactly what a user sees, the upstream is told who
 * is acting (`act`), forged and non-administrator attempts fail and are
 * audited, and stop, sign-out and refresh end it.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createLocalJWKSet, jwtVerify, type JWTPayload } from 'jose';
import { CookieJar, closeHttpAgents, parseForms, request, scriptedLogin, type TestResponse } from './support/index.js';
import { startStack, type Stack } from './stack.js';
import { csrfToken } from '../src/web/index.js';

const JSON_ACCEPT = { accept: 'application/json' };
const BROWSER_ACCEPT = { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' };
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
const ADMIN = 'admin@example.com';
const USER = 'bob@partner.org';

interface Echo { headers: Record<string, string | string[]> }

const ROUTES = [
  { name: 'app', from: 'http://app.localhost:PORT', to: 'UPSTREAM', allow_any_authenticated_user: true, pass_identity_headers: true },
  { name: 'staff', from: 'http://staff.localhost:PORT', to: 'UPSTREAM', policy: { allow: { or: [{ domain: { is: 'example.com' } }] } }, pass_identity_headers: true },
  { name: 'partner', from: 'http://partner.localhost:PORT', to: 'UPSTREAM', policy: { allow: { or: [{ domain: { is: 'partner.org' } }] } }, pass_identity_headers: true },
  { name: 'admins', from: 'http://admins.localhost:PORT', to: 'UPSTREAM', allowed_users: [ADMIN] },
  { name: 'contractors', from: 'http://contractors.localhost:PORT', to: 'UPSTREAM', policy: { allow: { or: [{ groups: { has: 'contractors' } }] } }, pass_identity_headers: true },
];
const HOSTS = ROUTES.map((r) => r.name);

/** Signs in through every route host so one jar can visit them all. */
async function signInEverywhere(s: Stack, email: string, groups?: string[]): Promise<CookieJar> {
  const jar = new CookieJar();
  for (const h of HOSTS) {
    await scriptedLogin(`${s.origin(h)}/`, email, { jar, ...(groups ? { groups } : {}) });
    assert.ok(jar.header(`${s.origin(h)}/`).includes('_pomerium='), `signed in on ${h}`);
  }
  return jar;
}

async function statuses(s: Stack, jar: CookieJar): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const h of HOSTS) out[h] = (await request(`${s.origin(h)}/`, { jar, headers: JSON_ACCEPT })).status;
  return out;
}

async function me(s: Stack, jar: CookieJar, host = 'app'): Promise<{ sub: string; email: string; groups: string[]; session_id: string; impersonated_by?: { sub: string; email: string } }> {
  const r = await request(`${s.origin(host)}/.pomerium/user`, { jar, headers: JSON_ACCEPT });
  assert.equal(r.status, 200);
  return r.json();
}

/** The impersonation form's fields from the HTML user page. */
async function impersonateForm(s: Stack, jar: CookieJar, host = 'app'): Promise<Map<string, string>> {
  const page = await request(`${s.origin(host)}/.pomerium/`, { jar, headers: BROWSER_ACCEPT });
  assert.equal(page.status, 200);
  const form = parseForms(page.text()).find((f) => f.id === 'impersonate');
  assert.ok(form, 'administrators see the impersonation form');
  assert.equal(form.method, 'POST');
  assert.equal(form.action, '/.pomerium/');
  return new Map(form.fields);
}

/** A form post from the user page itself: same origin (src/server/csrf.ts). */
async function post(s: Stack, jar: CookieJar, fields: Record<string, string>, host = 'app'): Promise<TestResponse> {
  return request(`${s.origin(host)}/.pomerium/`, { method: 'POST', jar, headers: { ...FORM, ...JSON_ACCEPT, origin: s.origin(host) }, body: new URLSearchParams(fields).toString() });
}

async function assertion(s: Stack, echo: Echo, host: string): Promise<JWTPayload> {
  const token = echo.headers['x-pomerium-jwt-assertion'] as string;
  assert.ok(token, 'the upstream got an assertion');
  const jwks = (await request(`${s.origin(host)}/.well-known/pomerium/jwks.json`)).json<{ keys: never[] }>();
  const { payload } = await jwtVerify(token, createLocalJWKSet(jwks), { issuer: `${host}.localhost`, audience: `${host}.localhost` });
  return payload;
}

async function auditKinds(s: Stack, kinds: string[]): Promise<{ kind: string; userId?: string | undefined; email?: string | undefined; actor?: string | undefined; details: Record<string, unknown> }[]> {
  await s.limen.services.audit.flush();
  return (await s.store.queryAudit({ limit: 100_000 })).filter((e) => kinds.includes(e.kind));
}

describe('impersonation, end to end', () => {
  let s: Stack;
  before(async () => {
    s = await startStack({ routes: ROUTES, config: { administrators: [ADMIN] } });
  });
  after(async () => {
    await s.close();
    await closeHttpAgents();
  });

  test('an administrator is allowed exactly where the user is, and the upstream sees the user with act', async () => {
    const user = await signInEverywhere(s, USER);
    const userId = await me(s, user);
    const asUser = await statuses(s, user);
    assert.deepEqual(asUser, { app: 200, staff: 403, partner: 200, admins: 403, contractors: 403 });

    const admin = await signInEverywhere(s, ADMIN);
    const adminId = await me(s, admin);
    assert.deepEqual(await statuses(s, admin), { app: 200, staff: 200, partner: 403, admins: 200, contractors: 403 });

    const fields = await impersonateForm(s, admin);
    const started = await post(s, admin, { csrf: fields.get('csrf')!, action: 'impersonate', email: USER, groups: '' });
    assert.equal(started.status, 303);
    assert.equal(started.header('location'), `${s.origin('app')}/.pomerium/`);

    // The same session on every host now carries the user's identity.
    assert.deepEqual(await statuses(s, admin), asUser, 'allowed exactly where the user is, denied where the user is denied');
    const now = await me(s, admin);
    assert.equal(now.sub, userId.sub, 'the directory id of the user, not the email');
    assert.equal(now.email, USER);
    assert.deepEqual(now.impersonated_by, { sub: adminId.sub, email: ADMIN });

    const echo = (await request(`${s.origin('app')}/echo`, { jar: admin, headers: JSON_ACCEPT })).json<Echo>();
    const claims = await assertion(s, echo, 'app');
    assert.equal(claims.sub, userId.sub);
    assert.equal(claims.email, USER);
    assert.deepEqual(claims.act, { sub: adminId.sub, email: ADMIN });

    const denied = await request(`${s.origin('staff')}/`, { jar: admin, headers: JSON_ACCEPT });
    assert.equal(denied.status, 403);
    const body = denied.json<{ reasons: string[]; details: Record<string, string> }>();
    assert.deepEqual(body.reasons, ['domain-unauthorized']);
    assert.equal(body.details.email, USER);
    assert.equal(body.details.impersonated_by, ADMIN);

    // Impersonating keeps no admin rights: the admin API refuses.
    const api = await request(`${s.authOrigin}/.pomerium/api/v1/users`, { jar: admin, headers: JSON_ACCEPT });
    assert.equal(api.status, 403);
    assert.deepEqual(api.json<{ reasons: string[] }>().reasons, ['not-administrator']);

    // Every Limen page says so, with a one-click stop: here, a 403 page on another host.
    const page = await request(`${s.origin('staff')}/`, { jar: admin, headers: BROWSER_ACCEPT });
    assert.equal(page.status, 403);
    assert.match(page.text(), new RegExp(`Impersonating ${USER.replace('.', '\\.')} \\(you are ${ADMIN.replace('.', '\\.')}\\)`));
    const stop = parseForms(page.text()).find((f) => f.fields.some(([k, v]) => k === 'action' && v === 'stop_impersonating'));
    assert.ok(stop, 'the error page carries the stop button');
    const stopped = await request(`${s.origin('staff')}${stop.action}`, {
      method: 'POST', jar: admin, headers: { ...FORM, ...BROWSER_ACCEPT, origin: s.origin('staff') }, body: new URLSearchParams(stop.fields).toString(),
    });
    assert.equal(stopped.status, 303);
    assert.deepEqual(await statuses(s, admin), { app: 200, staff: 200, partner: 403, admins: 200, contractors: 403 }, 'back to the administrator');
    assert.equal((await me(s, admin)).impersonated_by, undefined);

    const events = await auditKinds(s, ['impersonate_start', 'impersonate_stop']);
    assert.deepEqual(events.map((e) => [e.kind, e.email, e.actor, e.details.reason]), [
      ['impersonate_start', USER, ADMIN, undefined],
      ['impersonate_stop', USER, ADMIN, 'stopped'],
    ]);
    const decisions = (await auditKinds(s, ['authorize'])).filter((e) => e.actor === ADMIN);
    assert.ok(decisions.length >= HOSTS.length, 'decisions while impersonating name the impersonator');
    assert.ok(decisions.every((e) => e.email === USER));
  });

  test('impersonating groups only: the given groups replace the administrator\'s', async () => {
    const admin = await signInEverywhere(s, ADMIN, ['staff', 'admins']);
    const fields = await impersonateForm(s, admin);
    assert.equal((await post(s, admin, { csrf: fields.get('csrf')!, action: 'impersonate', email: '', groups: 'contractors' })).status, 303);
    const echo = (await request(`${s.origin('contractors')}/`, { jar: admin, headers: JSON_ACCEPT }));
    assert.equal(echo.status, 200);
    const claims = await assertion(s, echo.json<Echo>(), 'contractors');
    assert.deepEqual(claims.groups, ['contractors']);
    assert.equal(claims.email, ADMIN);
    assert.equal((claims.act as { email: string }).email, ADMIN);
  });

  test('CSRF-less, forged and non-administrator attempts are refused and audited', async () => {
    const admin = await signInEverywhere(s, ADMIN);
    const before = (await auditKinds(s, ['impersonate_denied'])).length;
    const cases: [Record<string, string>, number, string][] = [
      [{ action: 'impersonate', email: USER }, 403, 'csrf-token-missing'],
      [{ csrf: '', action: 'impersonate', email: USER }, 403, 'csrf-token-missing'],
      [{ csrf: 'A'.repeat(43), action: 'impersonate', email: USER }, 403, 'csrf-token-invalid'],
      [{ csrf: 'short', action: 'impersonate', email: USER }, 403, 'csrf-token-invalid'],
    ];
    for (const [fields, status, reason] of cases) {
      const r = await post(s, admin, fields);
      assert.equal(r.status, status, JSON.stringify(fields));
      assert.deepEqual(r.json<{ reasons: string[] }>().reasons, [reason]);
    }
    // A JSON body is not the form.
    const notForm = await request(`${s.origin('app')}/.pomerium/`, { method: 'POST', jar: admin, headers: { 'content-type': 'application/json', ...JSON_ACCEPT, origin: s.origin('app') }, body: '{}' });
    assert.equal(notForm.status, 400);

    // A non-administrator with a valid token for their own session.
    const user = await signInEverywhere(s, 'carol@example.com');
    const sid = (await me(s, user)).session_id;
    const csrf = csrfToken(s.limen.runtime().csrfKey, sid, s.origin('app'));
    const page = await request(`${s.origin('app')}/.pomerium/`, { jar: user, headers: BROWSER_ACCEPT });
    assert.equal(parseForms(page.text()).find((f) => f.id === 'impersonate'), undefined, 'no form for non-administrators');
    const r = await post(s, user, { csrf, action: 'impersonate', email: ADMIN });
    assert.equal(r.status, 403);
    assert.deepEqual(r.json<{ reasons: string[] }>().reasons, ['not-administrator']);
    assert.equal((await me(s, user)).email, 'carol@example.com', 'nothing changed');

    const denied = (await auditKinds(s, ['impersonate_denied'])).slice(before);
    assert.deepEqual(denied.map((e) => e.details.reason), ['csrf-token-missing', 'csrf-token-missing', 'csrf-token-invalid', 'csrf-token-invalid', 'form-invalid', 'not-administrator']);
    assert.equal(denied.at(-1)!.email, 'carol@example.com');
  });

  test('sign-out ends impersonation (and says so in the audit trail)', async () => {
    const admin = await signInEverywhere(s, ADMIN);
    const fields = await impersonateForm(s, admin);
    assert.equal((await post(s, admin, { csrf: fields.get('csrf')!, action: 'impersonate', email: USER })).status, 303);
    const sid = (await me(s, admin)).session_id;
    // Sign-out is a confirmed POST (the page's form carries the CSRF token).
    const page = await request(`${s.origin('app')}/.pomerium/sign_out`, { jar: admin, headers: BROWSER_ACCEPT });
    const form = parseForms(page.text()).find((f) => f.id === 'sign-out');
    assert.ok(form, 'the sign-out confirmation form');
    const out = await request(`${s.origin('app')}/.pomerium/sign_out`, {
      method: 'POST', jar: admin, body: new URLSearchParams(form.fields).toString(),
      headers: { ...BROWSER_ACCEPT, 'content-type': 'application/x-www-form-urlencoded' },
    });
    assert.equal(out.status, 303);
    assert.equal((await request(`${s.origin('staff')}/`, { jar: admin, headers: JSON_ACCEPT })).status, 401, 'the session is gone everywhere');
    const stops = (await auditKinds(s, ['impersonate_stop'])).filter((e) => e.details.session_id === sid);
    assert.deepEqual(stops.map((e) => e.details.reason), ['signed-out']);
  });
});

describe('impersonation ends on session refresh', () => {
  let s: Stack;
  let clock = Date.now();
  before(async () => {
    s = await startStack({ routes: ROUTES, config: { administrators: [ADMIN] }, accessTokenTtl: 300, now: () => clock });
  });
  after(async () => {
    await s.close();
    await closeHttpAgents();
  });

  test('after the IdP tokens refresh, the administrator is themselves again', async () => {
    const admin = await signInEverywhere(s, ADMIN);
    const fields = await impersonateForm(s, admin);
    assert.equal((await post(s, admin, { csrf: fields.get('csrf')!, action: 'impersonate', email: USER })).status, 303);
    assert.equal((await request(`${s.origin('staff')}/`, { jar: admin, headers: JSON_ACCEPT })).status, 403);
    const sid = (await me(s, admin)).session_id;

    clock += 250_000; // within a minute of the 300 s access token's expiry: the next request refreshes
    assert.equal((await request(`${s.origin('staff')}/`, { jar: admin, headers: JSON_ACCEPT })).status, 200);
    const after = await me(s, admin);
    assert.equal(after.email, ADMIN);
    assert.equal(after.session_id, sid, 'the same session, refreshed');
    assert.equal(after.impersonated_by, undefined);
    const stops = (await auditKinds(s, ['impersonate_stop'])).filter((e) => e.details.session_id === sid);
    assert.deepEqual(stops.map((e) => [e.details.reason, e.actor, e.email]), [['session-refreshed', ADMIN, USER]]);
  });
});
