/**
 * Every change the admin console can make, from its own route table (so a
 * new endpoint cannot be missed), refused unless it comes from a signed-in
 * administrator on the console's own origin with the session's CSRF token:
 * unauthenticated (a browser is sent to sign in, anything else gets 401), a
 * non-administrator (403), no token, a wrong token, another origin, no
 * origin at all (403 with the reason). The administrator with a valid
 * token succeeds, and the change is an audit event naming them. Every
 * refusal is audited too.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CookieJar, closeHttpAgents, request, scriptedLogin } from './support/index.js';
import { startStack, type Stack } from './stack.js';
import { consoleRoutes } from '../src/web/console/index.js';
import { csrfToken } from '../src/web/index.js';
import { deriveKey } from '../src/authn/index.js';
import { createDirectoryUser, createServiceAccount } from '../src/accounts/index.js';

const ADMIN = 'boss@example.com';
const BROWSER = 'text/html,application/xhtml+xml,*/*;q=0.8';

describe('every console change endpoint is guarded', () => {
  let s: Stack;
  let admin: CookieJar;
  let user: CookieJar;

  /** The session id the authenticate host's cookie in `jar` names. */
  function sessionOf(jar: CookieJar): string {
    const handle = jar.get(s.config.cookieName, s.authOrigin);
    assert.ok(handle, 'signed in at the authenticate host');
    return JSON.parse(Buffer.from(handle.split('.')[1]!, 'base64url').toString('utf8')).jti as string;
  }
  function tokenOf(jar: CookieJar): string {
    return csrfToken(deriveKey(s.config.cookieSecret, 'csrf'), sessionOf(jar), s.authOrigin);
  }
  async function signIn(email: string): Promise<CookieJar> {
    const jar = new CookieJar();
    await scriptedLogin(`${s.origin('app')}/`, email, { jar });
    return jar;
  }

  before(async () => {
    s = await startStack({
      routes: [{ name: 'app', from: 'http://app.localhost:PORT', to: 'UPSTREAM', allow_any_authenticated_user: true }],
      config: { administrators: [ADMIN] },
    });
    admin = await signIn(ADMIN);
    user = await signIn('ada@example.com');
  });
  after(async () => {
    await s?.close();
    await closeHttpAgents();
  });

  /**
   * For each change endpoint: the path to post to and a valid form, with
   * fresh things to change. A change endpoint missing here fails the test.
   */
  const fixtures: Record<string, () => Promise<{ path: string; form: Record<string, string>; jar?: CookieJar }>> = {
    '/.pomerium/admin/service-accounts': async () => ({ path: '/.pomerium/admin/service-accounts', form: { user_id: `bot-${Math.random().toString(36).slice(2)}`, namespace: 'global' } }),
    '/.pomerium/admin/service-accounts/:id/revoke': async () => {
      const { account } = await createServiceAccount({ user: `bot-${Math.random().toString(36).slice(2)}` }, { store: s.store, sharedSecret: s.config.sharedSecret, namespaces: s.config.namespaces, now: Date.now() });
      return { path: `/.pomerium/admin/service-accounts/${account.id}/revoke`, form: {} };
    },
    '/.pomerium/admin/users': async () => ({ path: '/.pomerium/admin/users', form: { email: `c-${Math.random().toString(36).slice(2)}@contractor.io`, name: 'C', groups: 'contractors' } }),
    '/.pomerium/admin/users/:id/groups': async () => ({ path: `/.pomerium/admin/users/${(await freshUser()).id}/groups`, form: { group: 'auditors' } }),
    '/.pomerium/admin/users/:id/groups/remove': async () => ({ path: `/.pomerium/admin/users/${(await freshUser(['auditors'])).id}/groups/remove`, form: { group: 'auditors' } }),
    '/.pomerium/admin/users/:id/remove': async () => ({ path: `/.pomerium/admin/users/${(await freshUser()).id}/remove`, form: {} }),
    '/.pomerium/admin/users/:id/impersonate': async () => ({
      path: `/.pomerium/admin/users/${(await freshUser()).id}/impersonate`, form: { route: `${s.origin('app')}` },
      // Impersonating closes the console to this administrator: a session of their own.
      jar: await signIn(ADMIN),
    }),
    '/.pomerium/admin/sessions/revoke-user': async () => {
      await signIn('leaver@example.com');
      return { path: '/.pomerium/admin/sessions/revoke-user', form: { user: 'leaver@example.com' } };
    },
    '/.pomerium/admin/sessions/:id/revoke': async () => ({ path: `/.pomerium/admin/sessions/${sessionOf(await signIn('leaver@example.com'))}/revoke`, form: {} }),
    '/.pomerium/admin/stop-impersonating': async () => ({ path: '/.pomerium/admin/stop-impersonating', form: {} }),
  };
  function reasonsOf(html: string): string[] {
    return [...html.matchAll(/<code class="muted">([a-z-]+)<\/code>/g)].map((m) => m[1]!);
  }
  async function freshUser(groups: string[] = []) {
    const { user: u } = await createDirectoryUser(s.store, { email: `u-${Math.random().toString(36).slice(2)}@contractor.io`, groups, source: 'manual' }, Date.now());
    return u;
  }

  const changes = consoleRoutes().filter((r) => r.kind === 'change');

  test('the table covers every change endpoint, and every change is a POST', () => {
    assert.ok(changes.length >= 10, `only ${changes.length} change endpoints`);
    for (const r of changes) {
      assert.equal(r.method, 'POST', r.path);
      assert.ok(Object.hasOwn(fixtures, r.path), `no guard case for ${r.path}: add one`);
    }
    for (const r of consoleRoutes()) if (r.method !== 'GET') assert.equal(r.kind, 'change', `${r.method} ${r.path} is a change`);
  });

  for (const r of changes) {
    test(`POST ${r.path}`, async () => {
      const { path, form, jar } = await fixtures[r.path]!();
      const url = `${s.authOrigin}${path}`;
      const post = (who: CookieJar | undefined, headers: Record<string, string>, fields: Record<string, string>) => request(url, {
        method: 'POST', ...(who ? { jar: who } : {}),
        headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
        body: new URLSearchParams(fields).toString(),
      });
      const same = { origin: s.authOrigin, accept: BROWSER };
      const reasons = (res: Awaited<ReturnType<typeof request>>): string[] => /<code class="muted">([a-z-]+)<\/code>/.exec(res.text())?.slice(1) ?? [];

      const anonymous = await post(undefined, same, form);
      assert.equal(anonymous.status, 302, 'a browser without a session is sent to sign in');
      assert.match(String(anonymous.headers.location ?? ''), /\/\.pomerium\/sign_in\?pomerium_redirect_uri=/);
      const anonymousJson = await post(undefined, { origin: s.authOrigin, accept: 'application/json' }, form);
      assert.equal(anonymousJson.status, 401);

      const cases: [string, CookieJar, Record<string, string>, Record<string, string>, string][] = [
        ['a non-administrator', user, same, { ...form, csrf: tokenOf(user) }, 'not-administrator'],
        ['no CSRF token', admin, same, form, 'csrf-token-missing'],
        ['a wrong token', admin, same, { ...form, csrf: tokenOf(user) }, 'csrf-token-invalid'],
        ['another origin', admin, { ...same, origin: 'http://evil.localhost' }, { ...form, csrf: tokenOf(admin) }, 'csrf-origin-mismatch'],
        ['a cross-site fetch', admin, { ...same, 'sec-fetch-site': 'cross-site' }, { ...form, csrf: tokenOf(admin) }, 'csrf-origin-mismatch'],
        ['no origin at all', admin, { accept: BROWSER }, { ...form, csrf: tokenOf(admin) }, 'csrf-origin-missing'],
      ];
      for (const [name, who, headers, fields, reason] of cases) {
        const res = await post(who, headers, fields);
        assert.equal(res.status, 403, name);
        assert.deepEqual(reasons(res), [reason], name);
        const asJson = await post(who, { ...headers, accept: 'application/json' }, fields);
        assert.equal(asJson.status, 403, `${name} (JSON)`);
        assert.deepEqual(asJson.json<{ reasons: string[] }>().reasons, [reason], `${name} (JSON)`);
      }

      await s.limen.services.audit.flush();
      const before = (await s.store.queryAudit({ limit: 100_000 })).length;
      const who = jar ?? admin;
      const ok = await post(who, same, { ...form, csrf: tokenOf(who) });
      assert.ok(ok.status === 201 || ok.status === 303, `the administrator succeeds (got ${ok.status}: ${ok.text().slice(0, 300)})`);
      await s.limen.services.audit.flush();
      const events = (await s.store.queryAudit({ limit: 100_000 })).slice(before);
      if (r.path !== '/.pomerium/admin/stop-impersonating') {
        const mine = events.filter((e) => e.actor === ADMIN && (e.details as { via?: string }).via === 'console');
        assert.ok(mine.length >= 1, `an audit event names the administrator: ${JSON.stringify(events.map((e) => e.kind))}`);
      }
    });
  }

  test('refusals are audited, with the reason', async () => {
    await s.limen.services.audit.flush();
    const denied = (await s.store.queryAudit({ kind: 'admin_denied', limit: 100_000 })).filter((e) => (e.details as { via?: string }).via === 'console');
    const reasons = new Set(denied.map((e) => (e.details as { reason?: string }).reason));
    for (const r of ['not-administrator', 'csrf-token-missing', 'csrf-token-invalid', 'csrf-origin-mismatch', 'csrf-origin-missing']) assert.ok(reasons.has(r), r);
  });

  test('sign-in returns to a console page on the authenticate origin, and nowhere else there', async () => {
    const signIn = (target: string, jar?: CookieJar) => request(`${s.authOrigin}/.pomerium/sign_in?pomerium_redirect_uri=${encodeURIComponent(target)}`, {
      ...(jar ? { jar } : {}), headers: { accept: BROWSER },
    });
    const page = `${s.authOrigin}/.pomerium/admin/sessions?user=x`;
    const signedIn = await signIn(page, admin);
    assert.equal(signedIn.status, 302, 'already signed in here: straight back');
    assert.equal(signedIn.headers.location, page);
    const fresh = await signIn(page);
    assert.equal(fresh.status, 302, 'otherwise on to the identity provider');
    assert.ok(String(fresh.headers.location).startsWith(new URL(s.idpUrl).origin), String(fresh.headers.location));
    for (const target of [`${s.authOrigin}/`, `${s.authOrigin}/.pomerium/adminx`, `${s.authOrigin}/.pomerium/sign_out`, 'http://evil.localhost/.pomerium/admin/']) {
      const res = await signIn(target, admin);
      assert.equal(res.status, 400, target);
      assert.deepEqual(reasonsOf(res.text()), ['redirect-uri-invalid'], target);
    }
  });

  test('pages and the live stream are for administrators only too', async () => {
    for (const r of consoleRoutes().filter((x) => x.kind === 'page' || x.kind === 'events')) {
      const path = r.path.replace(':id', 'x');
      const anon = await request(`${s.authOrigin}${path}`, { headers: { accept: 'application/json' } });
      assert.equal(anon.status, 401, path);
      const res = await request(`${s.authOrigin}${path}`, { jar: user, headers: { accept: 'application/json' } });
      assert.equal(res.status, 403, path);
      assert.deepEqual(res.json<{ reasons: string[] }>().reasons, ['not-administrator'], path);
    }
    const script = await request(`${s.authOrigin}/.pomerium/admin/console.js`);
    assert.equal(script.status, 200, 'the script is public: it holds nothing');
    assert.match(String(script.headers['content-type'] ?? ''), /^text\/javascript/);
  });
});
