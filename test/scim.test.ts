/**
 * SCIM 2.0 provisioning end to end: a scripted SCIM client (the calls Okta
 * and Azure AD make) creates a user, changes group membership and
 * deactivates them, and the user's access changes on their next request,
 * with the real dev IdP signing them in.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { CookieJar, closeHttpAgents, request, scriptedLogin, type TestResponse } from './support/index.js';
import { startStack, type Stack } from './stack.js';
import { createScimToken, revokeScimToken } from '../src/accounts/index.js';

const JSON_ACCEPT = { accept: 'application/json' };
const BROWSER_ACCEPT = { accept: 'text/html,application/xhtml+xml,*/*;q=0.8' };
const USER_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:User';
const GROUP_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Group';
const PATCH_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const ERROR_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:Error';

interface ScimError { schemas: string[]; status: string; scimType?: string; detail: string }

describe('SCIM provisioning, end to end', () => {
  let s: Stack;
  let token: string;
  let tokenId: string;
  before(async () => {
    s = await startStack({
      routes: [
        { name: 'app', from: 'http://app.localhost:PORT', to: 'UPSTREAM', allow_any_authenticated_user: true },
        { name: 'eng', from: 'http://eng.localhost:PORT', to: 'UPSTREAM', policy: { allow: { or: [{ groups: { has: 'engineering' } }] } } },
      ],
    });
    const t = await createScimToken(s.store, { description: 'test IdP', createdBy: 'test' }, Date.now());
    token = t.token;
    tokenId = t.record.id;
  });
  after(async () => {
    await s.close();
    await closeHttpAgents();
  });

  async function scim(method: string, path: string, body?: unknown, auth = `Bearer ${token}`): Promise<TestResponse> {
    const r = await request(`${s.authOrigin}/scim/v2${path}`, {
      method,
      headers: { authorization: auth, accept: 'application/scim+json', ...(body === undefined ? {} : { 'content-type': 'application/scim+json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    assert.equal(r.header('content-type'), 'application/scim+json', `${method} ${path}`);
    return r;
  }

  function scimError(r: TestResponse, status: number, scimType?: string): void {
    assert.equal(r.status, status);
    const e = r.json<ScimError>();
    assert.deepEqual(e.schemas, [ERROR_SCHEMA]);
    assert.equal(e.status, String(status));
    assert.equal(e.scimType, scimType);
    assert.ok(e.detail);
  }

  test('without a valid bearer token every endpoint is 401 with a SCIM error', async () => {
    for (const auth of ['', 'Bearer', 'Bearer nope', `Basic ${token}`, `Bearer ${token}x`, `Bearer ${token.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A'))}`, 'Bearer lscim.0000000000000000.x']) {
      const r = await scim('GET', '/Users', undefined, auth);
      scimError(r, 401);
      assert.equal(r.header('www-authenticate'), 'Bearer realm="limen-scim"');
    }
    const revoked = await createScimToken(s.store, { description: 'old', createdBy: 'test' }, Date.now());
    assert.equal((await scim('GET', '/Users', undefined, `Bearer ${revoked.token}`)).status, 200);
    await revokeScimToken(s.store, revoked.record.id, Date.now());
    scimError(await scim('GET', '/Users', undefined, `Bearer ${revoked.token}`), 401);
    await s.limen.services.audit.flush();
    const denied = await s.store.queryAudit({ kind: 'scim_denied' });
    assert.ok(denied.length >= 8);
    assert.ok(denied.every((e) => !JSON.stringify(e).includes(token)), 'the token is never in the audit trail');
  });

  test('discovery endpoints and protocol errors', async () => {
    const spc = await scim('GET', '/ServiceProviderConfig');
    assert.equal(spc.status, 200);
    assert.equal(spc.json<{ patch: { supported: boolean } }>().patch.supported, true);
    assert.equal((await scim('GET', '/ResourceTypes')).json<{ totalResults: number }>().totalResults, 2);
    scimError(await scim('GET', '/Nope'), 404);
    scimError(await scim('GET', '/Users/does-not-exist'), 404);
    scimError(await scim('DELETE', '/Users'), 405);
    scimError(await scim('GET', '/Users?filter=name.familyName co "x"'), 400, 'invalidFilter');
    scimError(await scim('GET', '/Users?filter=title eq "x"'), 400, 'invalidFilter');
    scimError(await scim('POST', '/Users', { schemas: [USER_SCHEMA] }), 400, 'invalidValue');
    scimError(await scim('POST', '/Users', { schemas: [USER_SCHEMA], userName: 'jdoe' }), 400, 'invalidValue');
    scimError(await scim('POST', '/Users', { userName: 42 }), 400, 'invalidValue');
    scimError(await scim('POST', '/Users', [1, 2]), 400, 'invalidSyntax');
    const notJson = await request(`${s.authOrigin}/scim/v2/Users`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/scim+json' }, body: '{"userName":' });
    scimError(notJson, 400, 'invalidSyntax');
    scimError(await scim('PATCH', '/Users/x', { Operations: [] }), 404);
    scimError(await scim('GET', '/Users?count=abc'), 400, 'invalidValue');
  });

  test('create, patch group membership, deactivate: access changes on the next request', async () => {
    // 1. The IdP provisions Dana before she ever signs in.
    const created = await scim('POST', '/Users', {
      schemas: [USER_SCHEMA], userName: 'dana@example.com', externalId: 'okta-00u1',
      name: { givenName: 'Dana', familyName: 'Scully' }, emails: [{ value: 'dana@example.com', type: 'work', primary: true }], active: true,
    });
    assert.equal(created.status, 201);
    const dana = created.json<{ id: string; userName: string; displayName: string; active: boolean; meta: { location: string; resourceType: string } }>();
    assert.equal(dana.userName, 'dana@example.com');
    assert.equal(dana.displayName, 'Dana Scully');
    assert.equal(dana.active, true);
    assert.equal(dana.meta.resourceType, 'User');
    assert.equal(created.header('location'), dana.meta.location);
    assert.equal(dana.meta.location, `${s.authOrigin}/scim/v2/Users/${dana.id}`);
    scimError(await scim('POST', '/Users', { schemas: [USER_SCHEMA], userName: 'DANA@example.com' }), 409, 'uniqueness');

    const found = await scim('GET', `/Users?filter=${encodeURIComponent('userName eq "Dana@Example.com"')}`);
    assert.deepEqual(found.json<{ totalResults: number; Resources: { id: string }[] }>().Resources.map((r) => r.id), [dana.id]);
    assert.equal((await scim('GET', `/Users?filter=${encodeURIComponent('userName eq "nobody@example.com"')}`)).json<{ totalResults: number }>().totalResults, 0);
    assert.equal((await scim('GET', `/Users?filter=${encodeURIComponent('externalId eq "okta-00u1"')}`)).json<{ totalResults: number }>().totalResults, 1);

    // 2. Dana signs in through the IdP (another subject id than SCIM's): she is matched by email.
    const jar = new CookieJar();
    assert.equal((await scriptedLogin(`${s.origin('app')}/`, 'dana@example.com', { jar })).response.status, 200);
    assert.equal((await scriptedLogin(`${s.origin('eng')}/`, 'dana@example.com', { jar })).response.status, 403);
    const eng = async (): Promise<number> => (await request(`${s.origin('eng')}/`, { jar, headers: JSON_ACCEPT })).status;
    const app = async (): Promise<TestResponse> => request(`${s.origin('app')}/`, { jar, headers: JSON_ACCEPT });

    // 3. A group, then membership by PATCH: the next request sees it, no sign-in needed.
    const g = await scim('POST', '/Groups', { schemas: [GROUP_SCHEMA], displayName: 'engineering', members: [] });
    assert.equal(g.status, 201);
    const groupId = g.json<{ id: string }>().id;
    const add = await scim('PATCH', `/Groups/${groupId}`, { schemas: [PATCH_SCHEMA], Operations: [{ op: 'add', path: 'members', value: [{ value: dana.id }] }] });
    assert.equal(add.status, 200);
    assert.deepEqual(add.json<{ members: { value: string }[] }>().members.map((m) => m.value), [dana.id]);
    assert.equal(await eng(), 200);
    const user = (await scim('GET', `/Users/${dana.id}`)).json<{ groups: { value: string; display: string }[] }>();
    assert.deepEqual(user.groups.map((x) => [x.value, x.display]), [[groupId, 'engineering']]);

    const remove = await scim('PATCH', `/Groups/${groupId}`, { schemas: [PATCH_SCHEMA], Operations: [{ op: 'remove', path: `members[value eq "${dana.id}"]` }] });
    assert.equal(remove.status, 200);
    assert.equal(await eng(), 403);
    // Azure's form: remove with a path and a value list; Okta's: PUT with members.
    await scim('PATCH', `/Groups/${groupId}`, { schemas: [PATCH_SCHEMA], Operations: [{ op: 'Add', path: 'members', value: [{ value: dana.id }] }] });
    assert.equal(await eng(), 200);
    await scim('PATCH', `/Groups/${groupId}`, { schemas: [PATCH_SCHEMA], Operations: [{ op: 'Remove', path: 'members', value: [{ value: dana.id }] }] });
    assert.equal(await eng(), 403);
    const put = await scim('PUT', `/Groups/${groupId}`, { schemas: [GROUP_SCHEMA], displayName: 'engineering', members: [{ value: dana.id }] });
    assert.equal(put.status, 200);
    assert.equal(await eng(), 200);
    scimError(await scim('PATCH', `/Groups/${groupId}`, { schemas: [PATCH_SCHEMA], Operations: [{ op: 'add', path: 'members', value: [{ value: 'ghost' }] }] }), 400, 'invalidValue');

    // 4. Deactivation (Azure sends the string "False"): refused on the next request, 403 not a sign-in loop.
    const off = await scim('PATCH', `/Users/${dana.id}`, { schemas: [PATCH_SCHEMA], Operations: [{ op: 'Replace', path: 'active', value: 'False' }] });
    assert.equal(off.status, 200);
    assert.equal(off.json<{ active: boolean }>().active, false);
    const refused = await app();
    assert.equal(refused.status, 403);
    assert.deepEqual(refused.json<{ reasons: string[] }>().reasons, ['user-deprovisioned']);
    assert.equal((await request(`${s.origin('app')}/`, { jar, headers: BROWSER_ACCEPT })).status, 403, 'a browser is not sent round the sign-in loop');
    assert.equal(await eng(), 403);

    // 5. Reactivation (Okta's form: no path, an object value).
    const on = await scim('PATCH', `/Users/${dana.id}`, { schemas: [PATCH_SCHEMA], Operations: [{ op: 'replace', value: { active: true, 'name.givenName': 'Dana K.' } }] });
    assert.equal(on.status, 200);
    assert.equal(on.json<{ displayName: string }>().displayName, 'Dana K. Scully');
    assert.equal((await app()).status, 200);
    assert.equal(await eng(), 200);

    // 6. Replace keeps the id; delete ends her sessions.
    const replaced = await scim('PUT', `/Users/${dana.id}`, { schemas: [USER_SCHEMA], userName: 'dana@example.com', displayName: 'Dana', active: true });
    assert.equal(replaced.status, 200);
    assert.equal(replaced.json<{ id: string; displayName: string }>().displayName, 'Dana');
    const del = await scim('DELETE', `/Users/${dana.id}`);
    assert.equal(del.status, 204);
    assert.equal(del.body.length, 0);
    const gone = await app();
    assert.equal(gone.status, 401, 'her session was revoked');
    scimError(await scim('GET', `/Users/${dana.id}`), 404);
    assert.equal((await scim('GET', `/Groups/${groupId}`)).json<{ members: unknown[] }>().members.length, 0);
    assert.equal((await scim('DELETE', `/Groups/${groupId}`)).status, 204);

    await s.limen.services.audit.flush();
    const trail = (await s.store.queryAudit({ limit: 100_000 })).filter((e) => e.actor === `scim:${tokenId}`);
    assert.deepEqual(trail.map((e) => e.kind), [
      'user.create', 'group.create', 'group.member_add', 'group.member_remove', 'group.member_add', 'group.member_remove',
      'group.member_add', 'user.deactivate', 'user.activate', 'user.update', 'user.delete', 'group.delete',
    ]);
    assert.equal(trail.find((e) => e.kind === 'user.delete')!.details.sessions_revoked, 1);
  });

  test('list paging and excludedAttributes', async () => {
    for (let i = 0; i < 5; i++) {
      assert.equal((await scim('POST', '/Users', { schemas: [USER_SCHEMA], userName: `page${i}@example.com` })).status, 201);
    }
    const page = (await scim('GET', '/Users?startIndex=2&count=2')).json<{ totalResults: number; startIndex: number; itemsPerPage: number; Resources: unknown[] }>();
    assert.ok(page.totalResults >= 5);
    assert.equal(page.startIndex, 2);
    assert.equal(page.itemsPerPage, 2);
    assert.equal(page.Resources.length, 2);
    await scim('POST', '/Groups', { schemas: [GROUP_SCHEMA], displayName: 'Ops' });
    const groups = (await scim('GET', `/Groups?excludedAttributes=members&filter=${encodeURIComponent('displayName eq "ops"')}`)).json<{ Resources: Record<string, unknown>[] }>();
    assert.equal(groups.Resources.length, 1);
    assert.equal(groups.Resources[0]!.members, undefined);
  });
});
