/**
 * Fuzzing a real in-process Limen over HTTP. Requests to a route with any
 * Host, Cookie, bearer header and carried assertion; and the admin surfaces:
 * the admin API (service accounts, directory users and groups, external data,
 * the audit query) and SCIM 2.0 (Users and Groups bodies, PATCH operations,
 * filters and paging). Bodies are structural mutations of valid requests, or
 * damaged JSON text; ids and query values are damaged too. Every answer is
 * below 500 and, when it refuses, a JSON error that says why.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { closeHttpAgents, request, type TestResponse } from './support/index.js';
import { fuzzAsync, mutatedJsonText, mutatedString } from './support/fuzz.js';
import { startStack, type Stack } from './stack.js';
import { createScimToken, createServiceAccount, mintRouteToken } from '../src/accounts/index.js';
import { AssertionSigner, loadKeySet } from '../src/identity/index.js';

const USER_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:User';
const GROUP_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Group';
const PATCH_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';
const ERROR_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:Error';

interface Call { readonly method: string; readonly path: string; readonly body?: string | undefined; readonly type?: string | undefined }

/** encodeURIComponent of any string: a lone surrogate (which it refuses) becomes its own escape, as a client could send it. */
function encode(s: string): string {
  return s.split(/([\uD800-\uDFFF])/).map((part) => {
    try {
      return encodeURIComponent(part);
    } catch {
      return `%${part.charCodeAt(0).toString(16).toUpperCase()}`;
    }
  }).join('');
}

/** An id as a path segment: mostly encoded, sometimes raw damage the router must survive. */
function segment(...ids: string[]): fc.Arbitrary<string> {
  return fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...ids).map(encode) },
    { weight: 2, arbitrary: mutatedString(...ids).map(encode) },
    { weight: 1, arbitrary: fc.constantFrom('%zz', '%', '%00', '..', '%2e%2e', 'a%2Fb', '%C0%AF', '%ED%A0%80') },
  );
}

const query = (...seeds: string[]): fc.Arbitrary<string> => fc.oneof(fc.constantFrom(...seeds), mutatedString(...seeds)).map((q) => {
  // Keep it one query string: damage inside values is encoded, the structure not.
  return q.split('&').map((kv) => {
    const eq = kv.indexOf('=');
    return eq < 0 ? encode(kv) : `${encode(kv.slice(0, eq))}=${encode(kv.slice(eq + 1))}`;
  }).join('&');
});

const contentType = (usual: string): fc.Arbitrary<string | undefined> => fc.oneof(
  { weight: 8, arbitrary: fc.constant(usual) },
  { weight: 1, arbitrary: fc.constantFrom(undefined, 'text/plain', 'application/json; charset=utf-16', 'application/x-www-form-urlencoded', 'application/scim+json', 'application/jsonx') },
);

describe('a real Limen under fuzzing', () => {
  let s: Stack;
  let adminAuth: string;
  let scimAuth: string;
  let userId: string;
  let scimUserId: string;
  let scimGroupId: string;

  before(async () => {
    s = await startStack({
      routes: [
        { name: 'app', from: 'http://app.localhost:PORT', to: 'UPSTREAM', allow_any_authenticated_user: true, pass_identity_headers: true },
        { name: 'open', from: 'http://open.localhost:PORT', to: 'UPSTREAM', allow_public_unauthenticated_access: true, pass_identity_headers: true },
        { name: 'team', from: 'http://team.localhost:PORT', to: 'UPSTREAM', namespace: 'team', policy: { allow: { or: [{ groups: { has: 'eng' } }] } } },
      ],
      config: { namespaces: [{ name: 'global' }, { name: 'team', parent: 'global' }], jwt_claims_headers: ['email', 'groups'] },
    });
    const admin = await createServiceAccount({ user: 'fuzz-admin', roles: ['admin'] }, { store: s.store, sharedSecret: s.config.sharedSecret, namespaces: s.config.namespaces, now: Date.now() });
    adminAuth = `Pomerium ${admin.token}`;
    scimAuth = `Bearer ${(await createScimToken(s.store, { description: 'fuzz', createdBy: 'test' }, Date.now())).token}`;
    const u = await send({ method: 'POST', path: '/.pomerium/api/v1/users', body: JSON.stringify({ email: 'fay@vendor.io', name: 'Fay', groups: ['ops'] }), type: 'application/json' });
    assert.equal(u.status, 201);
    userId = u.json<{ user: { id: string } }>().user.id;
    const su = await send({ method: 'POST', path: '/scim/v2/Users', body: JSON.stringify({ schemas: [USER_SCHEMA], userName: 'dana@example.com', emails: [{ value: 'dana@example.com', primary: true }] }), type: 'application/scim+json' });
    assert.equal(su.status, 201);
    scimUserId = su.json<{ id: string }>().id;
    const sg = await send({ method: 'POST', path: '/scim/v2/Groups', body: JSON.stringify({ schemas: [GROUP_SCHEMA], displayName: 'Engineering', members: [{ value: scimUserId }] }), type: 'application/scim+json' });
    assert.equal(sg.status, 201);
    scimGroupId = sg.json<{ id: string }>().id;
  });
  after(async () => {
    await s.close();
    await closeHttpAgents();
  });

  function send(c: Call): Promise<TestResponse> {
    const scim = c.path.startsWith('/scim/');
    return request(`${s.authOrigin}${c.path}`, {
      method: c.method,
      headers: {
        authorization: scim ? scimAuth : adminAuth,
        accept: scim ? 'application/scim+json' : 'application/json',
        ...(c.type === undefined ? {} : { 'content-type': c.type }),
      },
      ...(c.body === undefined ? {} : { body: c.body }),
    });
  }

  function assertRefusedWell(c: Call, r: TestResponse): void {
    const what = `${c.method} ${c.path} ${c.body?.slice(0, 300) ?? ''}`;
    assert.ok(r.status < 500, `${r.status} for ${what}: ${r.text().slice(0, 300)}`);
    if (r.status < 400) return;
    // A request refused before SCIM sees it (the request canonicalisation) gets Limen's own error JSON.
    if (c.path.startsWith('/scim/') && r.json<{ schemas?: unknown }>().schemas !== undefined) {
      const e = r.json<{ schemas: string[]; status: string; detail: string }>();
      assert.deepEqual(e.schemas, [ERROR_SCHEMA], what);
      assert.equal(e.status, String(r.status));
      assert.ok(typeof e.detail === 'string' && e.detail !== '', `no detail for ${what}`);
    } else {
      const e = r.json<{ reasons?: string[] }>();
      assert.ok(Array.isArray(e.reasons) && e.reasons.length > 0 && e.reasons.every((x) => typeof x === 'string' && x !== ''), `no reason for ${what}: ${r.text().slice(0, 200)}`);
    }
  }

  test('route requests: any Host, Cookie, bearer header and carried assertion get an answer below 500, refusals with a reason', async () => {
    const now = Date.now();
    const routeToken = (await mintRouteToken({ audience: ['app.localhost'], expiryMs: 3_600_000, email: 'ada@example.com', groups: ['eng'] }, s.config.sharedSecret, now)).token;
    const account = (await createServiceAccount({ user: 'fuzz-bot', namespace: 'team' }, { store: s.store, sharedSecret: s.config.sharedSecret, namespaces: s.config.namespaces, now })).token;
    const keys = await loadKeySet(s.config.signingKeys, s.config.sharedSecret);
    const assertion = await new AssertionSigner(keys, { issuerFormat: 'hostOnly', groupsFilter: undefined, claimsHeaders: {} })
      .sign({ cacheKey: 'k', user: 'u1', email: 'ada@example.com', name: 'Ada', groups: ['eng'], sid: 's1', claims: {} }, 'app.localhost');
    const tokens = [routeToken, account, assertion];
    const token = fc.oneof(fc.constantFrom(...tokens), mutatedString(...tokens));
    const port = String(s.port);
    // Header values a client can put on the wire: no NUL, CR or LF (the HTTP parser refuses those before Limen sees them).
    const wire = (v: string): string => v.replace(/[\u0000\r\n]/g, '').replace(/[^\u0000-\u00ff]/g, '?');
    const headers = fc.record({
      host: fc.oneof(fc.constantFrom(`app.localhost:${port}`, `open.localhost:${port}`, `team.localhost:${port}`, `APP.LOCALHOST:${port}`), mutatedString(`app.localhost:${port}`, `[::1]:${port}`, 'open.localhost')),
      cookie: fc.option(fc.oneof(token.map((t) => `_pomerium=${t}`), mutatedString('_pomerium=x; a=b', `a=1; _pomerium="${routeToken}"`)), { nil: undefined }),
      'x-pomerium-authorization': fc.option(token, { nil: undefined }),
      authorization: fc.option(fc.oneof(token.map((t) => `Pomerium ${t}`), token.map((t) => `Bearer Pomerium-${t}`), mutatedString(`Bearer ${routeToken}`, 'Basic eDp5')), { nil: undefined }),
      'x-pomerium-jwt-assertion': fc.option(token, { nil: undefined }),
      'x-pomerium-jwt-assertion-for': fc.option(token, { nil: undefined }),
      'x-forwarded-for': fc.option(mutatedString('203.0.113.7, 10.0.0.1'), { nil: undefined }),
      accept: fc.constantFrom('application/json', 'application/json, text/html;q=0.1'),
    }, { requiredKeys: ['host', 'accept'] });
    await fuzzAsync('route-request-http', 200, [headers, fc.constantFrom('GET', 'POST', 'OPTIONS'), fc.constantFrom('/', '/headers', '/.pomerium/user', '/.pomerium/', '/.well-known/pomerium/jwks.json')], async (h, method, path) => {
      const sent: Record<string, string> = {};
      for (const [k, v] of Object.entries(h)) if (v !== undefined) sent[k] = wire(v);
      let r: TestResponse;
      try {
        r = await request(`http://127.0.0.1:${port}${path}`, { method, headers: sent });
      } catch (e) {
        // The client itself refuses some values (an empty Host, `[` without `]`) before
        // sending anything; a reset or a dropped connection from Limen still fails.
        if ((e as { code?: string }).code === 'UND_ERR_INVALID_ARG' || (e as Error).name === 'AssertionError') return;
        throw e;
      }
      assert.ok(r.status < 500, `${r.status} for ${method} ${path} ${JSON.stringify(sent)}: ${r.text().slice(0, 200)}`);
      if (r.status >= 400) {
        const e = r.json<{ reasons?: string[] }>();
        assert.ok(Array.isArray(e.reasons) && e.reasons.length > 0, `no reason for ${r.status} ${JSON.stringify(sent)}: ${r.text().slice(0, 200)}`);
      }
    });
  });

  test('admin API: service accounts, directory, data and audit answer every mutated request below 500 with a reason', async () => {
    const api = '/.pomerium/api/v1';
    const json = contentType('application/json');
    const calls: fc.Arbitrary<Call> = fc.oneof(
      fc.record({
        method: fc.constant('POST'), path: fc.constant(`${api}/service-accounts`), type: json,
        body: mutatedJsonText(
          { user_id: 'bot-1', namespace: 'team', description: 'ci', expires_in: '30d', roles: ['admin'] },
          { as_user: 'fay@vendor.io', expires_at: '2030-01-31T12:00:00Z' },
          { user_id: 'bot-2', expires_in: '1h30m' },
        ),
      }),
      fc.record({ method: fc.constantFrom('GET', 'DELETE'), path: segment('nope', 'fuzz-admin').map((id) => `${api}/service-accounts/${id}`) }),
      fc.record({ method: fc.constant('GET'), path: query('namespace=team', 'namespace=').map((q) => `${api}/service-accounts?${q}`) }),
      fc.record({
        method: fc.constant('POST'), path: fc.constant(`${api}/users`), type: json,
        body: mutatedJsonText({ email: 'gus@example.com', name: 'Gus', groups: ['ops', 'eng'] }, { id: 'u-9', email: 'hal@example.com' }),
      }),
      fc.record({
        method: fc.constant('PATCH'), path: segment('fay@vendor.io', 'u-9').map((id) => `${api}/users/${id}`), type: json,
        body: mutatedJsonText({ name: 'Fay B', groups: ['ops'], active: false }, { email: 'fay@vendor.io', active: true }),
      }),
      fc.record({ method: fc.constantFrom('GET', 'DELETE'), path: segment('u-9', 'nobody').map((id) => `${api}/users/${id}`) }),
      fc.record({ method: fc.constant('GET'), path: query('email=fay@vendor.io', 'group=ops', 'group=').map((q) => `${api}/users?${q}`) }),
      fc.record({ method: fc.constant('POST'), path: fc.constant(`${api}/groups`), type: json, body: mutatedJsonText({ name: 'eng' }, { id: 'g-1', name: 'Sales' }) }),
      fc.record({ method: fc.constant('PATCH'), path: segment('ops', 'eng').map((id) => `${api}/groups/${id}`), type: json, body: mutatedJsonText({ name: 'operations' }) }),
      fc.record({ method: fc.constantFrom('PUT', 'DELETE'), path: fc.tuple(segment('ops', 'eng'), segment('fay@vendor.io', 'u-9')).map(([g, u]) => `${api}/groups/${g}/members/${u}`) }),
      fc.record({ method: fc.constantFrom('GET', 'DELETE'), path: fc.oneof(query('user=fay@vendor.io', 'user=').map((q) => `${api}/sessions?${q}`), segment('s-1').map((id) => `${api}/sessions/${id}`)) }),
      fc.record({ method: fc.constant('GET'), path: query('kind=user.create&since=1h', 'since=2026-01-01T00:00:00Z&until=2027-01-01', 'limit=5&user=fay@vendor.io', 'decision=deny&route=app').map((q) => `${api}/audit?${q}`) }),
      fc.record({
        method: fc.constant('PUT'), path: fc.tuple(segment('acl', 'ip.list', 'a:b/c'), query('replace=true', 'replace=false')).map(([t, q]) => `${api}/data/${t}?${q}`), type: json,
        body: mutatedJsonText([{ id: 'ada@example.com', level: 3, team: 'eng' }, { id: '10.0.0.1', tags: ['x'] }], [], { records: [] }),
      }),
      fc.record({ method: fc.constantFrom('GET', 'DELETE'), path: fc.tuple(segment('acl'), segment('ada@example.com', '10.0.0.1')).map(([t, id]) => `${api}/data/${t}/${id}`) }),
      fc.record({ method: fc.constant('GET'), path: fc.tuple(segment('acl'), query('limit=10', 'limit=-1')).map(([t, q]) => `${api}/data/${t}?${q}`) }),
    );
    await fuzzAsync('admin-api-http', 250, [calls], async (c) => {
      assertRefusedWell(c, await send(c));
    });
  });

  test('SCIM: Users and Groups bodies, PATCH operations, filters and paging answer below 500 with a SCIM error', async () => {
    const scimJson = contentType('application/scim+json');
    const user = (): unknown => ({
      schemas: [USER_SCHEMA], userName: 'eve@example.com', externalId: 'ext-1', active: true, displayName: 'Eve',
      name: { givenName: 'Eve', familyName: 'Ng', formatted: 'Eve Ng' }, emails: [{ value: 'eve@example.com', type: 'work', primary: true }],
    });
    const patch = (ops: unknown[]): unknown => ({ schemas: [PATCH_SCHEMA], Operations: ops });
    const userPatches = [
      patch([{ op: 'replace', path: 'active', value: 'False' }]),
      patch([{ op: 'replace', value: { active: true, displayName: 'D', 'name.givenName': 'Dee', emails: [{ value: 'dana@example.com', primary: true }] } }]),
      patch([{ op: 'add', path: 'emails[type eq "work"].value', value: 'dana@example.com' }, { op: 'remove', path: 'name.familyName' }, { op: 'replace', path: 'userName', value: 'dana@example.com' }]),
      patch([{ op: 'Replace', path: 'urn:ietf:params:scim:schemas:core:2.0:User:name', value: { givenName: 'A', familyName: 'B' } }, { op: 'remove', path: 'externalId' }]),
    ];
    const groupPatches = [
      patch([{ op: 'add', path: 'members', value: [{ value: 'SCIM_USER' }] }]),
      patch([{ op: 'remove', path: 'members[value eq "SCIM_USER"]' }]),
      patch([{ op: 'replace', value: { displayName: 'Eng', externalId: 'g-ext', members: [{ value: 'SCIM_USER' }] } }]),
      patch([{ op: 'replace', path: 'displayName', value: 'Engineering' }, { op: 'remove', path: 'members' }]),
    ];
    const ids = (): { user: string; group: string } => ({ user: scimUserId, group: scimGroupId });
    const withIds = (text: string | undefined): string | undefined => text?.replaceAll('SCIM_USER', ids().user);
    const calls: fc.Arbitrary<Call> = fc.oneof(
      fc.record({ method: fc.constant('POST'), path: fc.constant('/scim/v2/Users'), type: scimJson, body: mutatedJsonText(user(), { schemas: [USER_SCHEMA], userName: 'x', emails: [{ value: 'x@y.z' }] }) }),
      fc.record({ method: fc.constantFrom('PUT', 'PATCH', 'GET', 'DELETE'), path: fc.constant('USER'), type: scimJson, body: mutatedJsonText(user(), ...userPatches) }),
      fc.record({ method: fc.constant('PATCH'), path: fc.constant('USER'), type: scimJson, body: mutatedJsonText(...userPatches) }),
      fc.record({ method: fc.constant('POST'), path: fc.constant('/scim/v2/Groups'), type: scimJson, body: mutatedJsonText({ schemas: [GROUP_SCHEMA], displayName: 'Fuzzers', externalId: 'e', members: [{ value: 'SCIM_USER' }] }) }),
      fc.record({ method: fc.constantFrom('PUT', 'PATCH', 'GET'), path: fc.constant('GROUP'), type: scimJson, body: mutatedJsonText({ schemas: [GROUP_SCHEMA], displayName: 'Engineering', members: [{ value: 'SCIM_USER' }] }, ...groupPatches) }),
      fc.record({ method: fc.constant('PATCH'), path: fc.constant('GROUP'), type: scimJson, body: mutatedJsonText(...groupPatches) }),
      fc.record({
        method: fc.constant('GET'),
        path: fc.tuple(fc.constantFrom('Users', 'Groups'), query(
          'filter=userName eq "dana@example.com"', 'filter=externalId eq "ext-1"&startIndex=1&count=10', 'filter=displayName eq "Engineering"&excludedAttributes=members',
          'filter=emails.value eq "x\\"y@z"', 'filter=id eq "\\u0041"', 'startIndex=0&count=-5', 'count=1000000000',
        )).map(([r, q]) => `/scim/v2/${r}?${q}`),
      }),
      fc.record({ method: fc.constantFrom('GET', 'PUT', 'PATCH', 'DELETE'), path: fc.tuple(fc.constantFrom('Users', 'Groups', 'ServiceProviderConfig', 'ResourceTypes', 'Nope'), segment('x', 'nobody')).map(([r, id]) => `/scim/v2/${r}/${id}`), type: scimJson, body: mutatedJsonText(user()) }),
    );
    await fuzzAsync('scim-http', 250, [calls], async (c0) => {
      const path = c0.path === 'USER' ? `/scim/v2/Users/${ids().user}` : c0.path === 'GROUP' ? `/scim/v2/Groups/${ids().group}` : c0.path;
      // Never delete the seeded user or group: later cases need something to patch.
      const c: Call = { ...c0, path, body: c0.method === 'GET' || c0.method === 'DELETE' ? undefined : withIds(c0.body), type: c0.method === 'GET' || c0.method === 'DELETE' ? undefined : c0.type };
      if (c.method === 'DELETE' && (path.endsWith(ids().user) || path.endsWith(ids().group))) return;
      assertRefusedWell(c, await send(c));
    });
  });
});
