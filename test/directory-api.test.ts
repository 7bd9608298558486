/**
 * The admin HTTP API for users, groups, sessions and the audit trail
 * (`/.pomerium/api/v1/` on the authenticate host), as a signed-in
 * administrator uses it; everyone else is refused.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CookieJar, closeHttpAgents, csrfHeaders, request, scriptedLogin, type TestResponse } from './support/index.js';
import { startStack, type Stack } from './stack.js';

const JSON_ACCEPT = { accept: 'application/json' };

describe('directory admin API', () => {
  let s: Stack;
  let admin: CookieJar;
  before(async () => {
    s = await startStack({
      routes: [
        { name: 'app', from: 'http://app.localhost:PORT', to: 'UPSTREAM', allow_any_authenticated_user: true },
        { name: 'ops', from: 'http://ops.localhost:PORT', to: 'UPSTREAM', policy: { allow: { or: [{ groups: { has: 'ops' } }] } } },
      ],
      config: { administrators: ['group:admins'] },
    });
    admin = new CookieJar();
    await scriptedLogin(`${s.origin('app')}/`, 'root@example.com', { jar: admin, groups: ['admins'] });
  });
  after(async () => {
    await s.close();
    await closeHttpAgents();
  });

  async function api(method: string, path: string, body?: unknown, jar = admin): Promise<TestResponse> {
    // Changes by cookie carry what a same-origin admin page sends (src/server/csrf.ts).
    const csrf = method === 'GET' ? {} : await csrfHeaders(s.authOrigin, jar).catch(() => ({}));
    return request(`${s.authOrigin}/.pomerium/api/v1${path}`, {
      method, jar,
      headers: { ...JSON_ACCEPT, ...csrf, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
  }

  test('users and groups: create, read, change, membership, delete, each audited with the administrator', async () => {
    const created = await api('POST', '/users', { email: 'fay@vendor.io', name: 'Fay', groups: ['ops'] });
    assert.equal(created.status, 201);
    const fay = created.json<{ user: { id: string; groups: { id: string; name: string }[]; source: string } }>().user;
    assert.equal(fay.source, 'manual');
    assert.deepEqual(fay.groups.map((g) => g.name), ['ops']);
    const dup = await api('POST', '/users', { email: 'FAY@vendor.io' });
    assert.equal(dup.status, 409);
    assert.deepEqual(dup.json<{ reasons: string[] }>().reasons, ['user-exists']);
    for (const bad of [{ email: 'nope' }, { email: 'a@b.c', extra: 1 }, { email: 'a@b.c', groups: 'ops' }, [], 'x']) {
      const r = await api('POST', '/users', bad);
      assert.equal(r.status, 400, JSON.stringify(bad));
      assert.deepEqual(r.json<{ reasons: string[] }>().reasons, ['body-invalid']);
    }

    const jar = new CookieJar();
    assert.equal((await scriptedLogin(`${s.origin('ops')}/`, 'fay@vendor.io', { jar })).response.status, 200, 'directory groups apply at sign-in');
    await scriptedLogin(`${s.origin('app')}/`, 'fay@vendor.io', { jar });
    const ops = fay.groups[0]!;
    assert.equal((await api('DELETE', `/groups/ops/members/${encodeURIComponent('fay@vendor.io')}`)).json<{ changed: boolean }>().changed, true);
    assert.equal((await request(`${s.origin('ops')}/`, { jar, headers: JSON_ACCEPT })).status, 403);
    assert.equal((await api('PUT', `/groups/${ops.id}/members/${fay.id}`)).status, 200);
    assert.equal((await request(`${s.origin('ops')}/`, { jar, headers: JSON_ACCEPT })).status, 200);

    const one = (await api('GET', `/users/${encodeURIComponent('fay@vendor.io')}`)).json<{ user: { id: string }; sessions: { email: string }[] }>();
    assert.equal(one.user.id, fay.id);
    assert.deepEqual(one.sessions.map((x) => x.email), ['fay@vendor.io']);
    assert.equal((await api('GET', '/users/nobody')).status, 404);

    const off = await api('PATCH', `/users/${fay.id}`, { active: false });
    assert.equal(off.status, 200);
    const refused = await request(`${s.origin('app')}/`, { jar, headers: JSON_ACCEPT });
    assert.equal(refused.status, 403);
    assert.deepEqual(refused.json<{ reasons: string[] }>().reasons, ['user-deprovisioned']);
    assert.equal((await api('PATCH', `/users/${fay.id}`, { active: true })).status, 200);
    assert.equal((await request(`${s.origin('app')}/`, { jar, headers: JSON_ACCEPT })).status, 200);

    const g = (await api('GET', '/groups/ops')).json<{ group: { name: string; members: { email: string }[] } }>().group;
    assert.deepEqual(g.members.map((m) => m.email), ['fay@vendor.io']);
    assert.equal((await api('PATCH', `/groups/${ops.id}`, { name: 'operations' })).status, 200);
    assert.equal((await api('POST', '/groups', { name: 'OPERATIONS' })).status, 409);
    assert.equal((await api('DELETE', `/groups/${ops.id}`)).json<{ members_updated: number }>().members_updated, 1);
    assert.equal((await request(`${s.origin('ops')}/`, { jar, headers: JSON_ACCEPT })).status, 403);

    const del = (await api('DELETE', `/users/${fay.id}`)).json<{ sessions_revoked: number }>();
    assert.equal(del.sessions_revoked, 1);
    assert.equal((await request(`${s.origin('app')}/`, { jar, headers: JSON_ACCEPT })).status, 401);

    const trail = (await api('GET', `/audit?kind=user.delete&since=1h`)).json<{ events: { kind: string; actor: string; email: string; details: Record<string, unknown> }[] }>();
    assert.deepEqual(trail.events.map((e) => [e.kind, e.actor, e.email, e.details.via]), [['user.delete', 'root@example.com', 'fay@vendor.io', 'api']]);
    const hers = (await api('GET', `/audit?user=${encodeURIComponent('fay@vendor.io')}`)).json<{ events: { kind: string }[] }>().events.map((e) => e.kind);
    assert.deepEqual(hers.filter((k) => k !== 'authorize'), [
      'user.create', 'sign_in', 'group.member_remove', 'group.member_add', 'user.deactivate', 'user.activate', 'user.delete',
    ]);
    assert.equal((await api('GET', '/audit?since=yesterday')).status, 400);
  });

  test('sessions: list and revoke one or all of a user\'s', async () => {
    const a = new CookieJar();
    const b = new CookieJar();
    await scriptedLogin(`${s.origin('app')}/`, 'gus@example.com', { jar: a });
    await scriptedLogin(`${s.origin('app')}/`, 'gus@example.com', { jar: b });
    const list = (await api('GET', '/sessions?user=gus@example.com')).json<{ sessions: { id: string }[] }>().sessions;
    assert.equal(list.length, 2);
    assert.equal((await api('DELETE', `/sessions/${list[0]!.id}`)).status, 200);
    assert.equal((await api('DELETE', `/sessions/${list[0]!.id}`)).status, 404);
    assert.equal((await api('DELETE', '/sessions')).status, 400, 'revoking everyone needs a user');
    assert.deepEqual((await api('DELETE', '/sessions?user=gus@example.com')).json(), { revoked: 1 });
    for (const jar of [a, b]) assert.equal((await request(`${s.origin('app')}/`, { jar, headers: JSON_ACCEPT })).status, 401);
  });

  test('non-administrators and anonymous callers are refused', async () => {
    const user = new CookieJar();
    await scriptedLogin(`${s.origin('app')}/`, 'hal@example.com', { jar: user, groups: ['staff'] });
    for (const [method, path] of [['GET', '/users'], ['POST', '/users'], ['GET', '/sessions'], ['DELETE', '/sessions/x'], ['GET', '/audit'], ['GET', '/groups']] as const) {
      const r = await api(method, path, undefined, user);
      assert.equal(r.status, 403, `${method} ${path}`);
      assert.deepEqual(r.json<{ reasons: string[] }>().reasons, ['not-administrator']);
      const anon = await api(method, path, undefined, new CookieJar());
      assert.equal(anon.status, 401, `${method} ${path} anonymous`);
    }
  });
});
