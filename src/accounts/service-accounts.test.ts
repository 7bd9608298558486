import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { decodeJwt, decodeProtectedHeader, jwtVerify, type JWTPayload } from 'jose';
import type { NamespaceConfig } from '../config/index.js';
import { MemoryStore, type Store } from '../store/index.js';
import type { Caller } from '../authn/index.js';
import { putDirectoryUser } from './directory.js';
import {
  ACCESS_WRITE_INTERVAL_MS, SERVICE_ACCOUNT_ACCESS_TYPE, SERVICE_ACCOUNT_TYPE, ServiceAccountError, createServiceAccount,
  getServiceAccount, isServiceAccountAdmin, listServiceAccounts, parseExpiry, revokeServiceAccount, serviceAccountResolver,
  type ServiceAccountRecord,
} from './service-accounts.js';

const SECRET = new Uint8Array(randomBytes(32));
const T0 = Date.parse('2030-03-01T10:00:00.000Z');
const TREE: NamespaceConfig[] = [
  { name: 'global', parent: undefined },
  { name: 'eng', parent: 'global' },
  { name: 'eng-ci', parent: 'eng' },
  { name: 'sales', parent: 'global' },
];

function ctx(store: Store, now = T0) {
  return { store, sharedSecret: SECRET, namespaces: TREE, now };
}

async function claimsOf(token: string, now = T0): Promise<JWTPayload> {
  return (await jwtVerify(token, SECRET, { algorithms: ['HS256'], currentDate: new Date(now) })).payload;
}

async function flush(): Promise<void> {
  await new Promise((r) => setImmediate(r));
}

async function allStored(store: Store): Promise<string> {
  const recs = [
    ...await store.list(SERVICE_ACCOUNT_TYPE, {}, 0),
    ...await store.list(SERVICE_ACCOUNT_ACCESS_TYPE, {}, 0),
  ];
  return JSON.stringify(recs);
}

describe('parseExpiry', () => {
  test('durations count from now; absolute times are taken as given, to the second', () => {
    const cases: { in: string; want: number }[] = [
      { in: '30d', want: T0 + 30 * 86_400_000 },
      { in: '12h', want: T0 + 12 * 3_600_000 },
      { in: '90m', want: T0 + 90 * 60_000 },
      { in: '1h30m', want: T0 + 90 * 60_000 },
      { in: '1500ms', want: T0 + 1000 },
      { in: '2030-04-01T00:00:00Z', want: Date.parse('2030-04-01T00:00:00Z') },
      { in: '2030-04-01', want: Date.parse('2030-04-01') },
      { in: '2030-04-01T02:00:00+02:00', want: Date.parse('2030-04-01T00:00:00Z') },
      { in: ' 2h ', want: T0 + 7_200_000 },
    ];
    for (const c of cases) assert.equal(parseExpiry(c.in, T0), c.want, c.in);
  });

  test('refuses zero, negative, past, malformed and absurd expiries with expiry-invalid', () => {
    for (const bad of ['0', '-1h', '0s', 'soon', '', '30', '1y', '2020-01-01', '2030-03-01T09:00:00Z', '2030-13-45', 'tomorrow', '1e9h', '275760-09-13']) {
      assert.throws(() => parseExpiry(bad, T0), (e: unknown) => e instanceof ServiceAccountError && e.reason === 'expiry-invalid', bad);
    }
  });
});

describe('createServiceAccount', () => {
  test('stores the record and returns the only copy of an HS256 token: jti = id, sub = user, iat, nbf, exp', async () => {
    const store = new MemoryStore();
    const { account, token } = await createServiceAccount({ user: 'bot-deploy', namespace: 'eng', expiresIn: '30d', description: 'CI deploys', roles: ['admin'], createdBy: 'admin@example.com' }, ctx(store));
    assert.match(account.id, /^[0-9a-f-]{36}$/);
    assert.equal(account.user_id, 'bot-deploy');
    assert.equal(account.namespace, 'eng');
    assert.equal(account.description, 'CI deploys');
    assert.equal(account.issued_at, new Date(T0).toISOString());
    assert.equal(account.expires_at, new Date(T0 + 30 * 86_400_000).toISOString());
    assert.equal(account.accessed_at, null);
    assert.equal(account.revoked_at, undefined);
    assert.deepEqual(account.roles, ['admin']);
    assert.equal(account.status, 'active');
    assert.equal(account.created_by, 'admin@example.com');

    assert.deepEqual(decodeProtectedHeader(token), { alg: 'HS256', typ: 'JWT' });
    const c = await claimsOf(token);
    assert.equal(c.jti, account.id);
    assert.equal(c.sub, 'bot-deploy');
    assert.equal(c.iat, T0 / 1000);
    assert.equal(c.nbf, T0 / 1000);
    assert.equal(c.exp, (T0 + 30 * 86_400_000) / 1000);
    assert.equal(c.aud, undefined, 'no aud: a service-account token is not a route token');

    const stored = await store.get<ServiceAccountRecord>(SERVICE_ACCOUNT_TYPE, account.id);
    assert.ok(stored);
    assert.equal(stored.index, 'bot-deploy');
    assert.ok(!(await allStored(store)).includes(token.split('.')[2]!), 'the token is never stored');
  });

  test('without an expiry the token has no exp and the account never expires', async () => {
    const store = new MemoryStore();
    const { account, token } = await createServiceAccount({ user: 'forever' }, ctx(store));
    assert.equal(account.expires_at, undefined);
    assert.equal(account.namespace, 'global');
    assert.equal(decodeJwt(token).exp, undefined);
    assert.equal((await store.get(SERVICE_ACCOUNT_TYPE, account.id))?.expiresAt, undefined);
  });

  test('acting as an existing directory user, found by email or id', async () => {
    const store = new MemoryStore();
    await putDirectoryUser(store, { id: 'u-ada', email: 'Ada@Example.com', name: 'Ada', groups: ['eng'], source: 'idp', lastSeen: T0 });
    for (const key of ['ada@example.com', 'Ada@Example.com', 'u-ada']) {
      const { account, token } = await createServiceAccount({ asUser: key }, ctx(store));
      assert.equal(account.user_id, 'u-ada', key);
      assert.equal(account.acts_as_user, true);
      assert.equal(decodeJwt(token).sub, 'u-ada');
    }
  });

  test('refusals carry a stable reason', async () => {
    const store = new MemoryStore();
    await putDirectoryUser(store, { id: 'u-ada', email: 'ada@example.com', name: 'Ada', groups: [], source: 'idp', lastSeen: T0 });
    await putDirectoryUser(store, { id: 'u-gone', email: 'gone@example.com', name: 'Gone', groups: [], source: 'scim', lastSeen: T0, active: false });
    const cases: { input: Parameters<typeof createServiceAccount>[0]; reason: string; status?: number }[] = [
      { input: {}, reason: 'user-required' },
      { input: { user: '', asUser: '' }, reason: 'user-required' },
      { input: { user: 'a', asUser: 'ada@example.com' }, reason: 'user-required' },
      { input: { user: 'u-ada' }, reason: 'user-exists', status: 409 },
      { input: { user: 'ada@example.com' }, reason: 'user-exists', status: 409 },
      { input: { user: '   ' }, reason: 'user-invalid' },
      { input: { user: 'x'.repeat(257) }, reason: 'user-invalid' },
      { input: { user: 'bad\nid' }, reason: 'user-invalid' },
      // Regression: a user id with a lone surrogate reached the store's index and was a 500.
      { input: { user: 'x\udc00y' }, reason: 'user-invalid' },
      { input: { asUser: '\ud800@example.com' }, reason: 'as-user-invalid' },
      { input: { user: 'b', description: 'half \ud83d' }, reason: 'description-invalid' },
      { input: { asUser: 'nobody@example.com' }, reason: 'as-user-unknown' },
      { input: { asUser: 'gone@example.com' }, reason: 'as-user-inactive' },
      { input: { user: 'b', namespace: 'nope' }, reason: 'namespace-unknown' },
      { input: { user: 'b', expiresIn: 'soon' }, reason: 'expiry-invalid' },
      { input: { user: 'b', expiresIn: '-5m' }, reason: 'expiry-invalid' },
      { input: { user: 'b', description: 'x'.repeat(1025) }, reason: 'description-invalid' },
      { input: { user: 'b', description: 'line\u0000' }, reason: 'description-invalid' },
      { input: { user: 'b', roles: ['root'] }, reason: 'role-unknown' },
    ];
    for (const c of cases) {
      await assert.rejects(createServiceAccount(c.input, ctx(store)), (e: unknown) => {
        assert.ok(e instanceof ServiceAccountError, JSON.stringify(c.input));
        assert.equal(e.reason, c.reason, JSON.stringify(c.input));
        assert.equal(e.status, c.status ?? 400);
        return true;
      });
    }
    assert.equal((await store.list(SERVICE_ACCOUNT_TYPE)).length, 0, 'nothing stored on refusal');
  });
});

describe('list, show and revoke', () => {
  test('status follows revocation and expiry; revoking twice keeps the first time', async () => {
    const store = new MemoryStore();
    const a = (await createServiceAccount({ user: 'a', namespace: 'eng' }, ctx(store))).account;
    const b = (await createServiceAccount({ user: 'b', expiresIn: '1h' }, ctx(store))).account;
    const r1 = await revokeServiceAccount(store, a.id, T0 + 1000, 'admin@example.com');
    assert.equal(r1.changed, true);
    assert.equal(r1.account.status, 'revoked');
    assert.equal(r1.account.revoked_by, 'admin@example.com');
    const r2 = await revokeServiceAccount(store, a.id, T0 + 5000);
    assert.equal(r2.changed, false);
    assert.equal(r2.account.revoked_at, new Date(T0 + 1000).toISOString());
    await assert.rejects(revokeServiceAccount(store, 'nope', T0), (e: unknown) => e instanceof ServiceAccountError && e.reason === 'not-found' && e.status === 404);

    const later = T0 + 2 * 3_600_000;
    const all = await listServiceAccounts(store, later);
    assert.deepEqual(all.map((x) => [x.user_id, x.status]).sort(), [['a', 'revoked'], ['b', 'expired']]);
    assert.deepEqual((await listServiceAccounts(store, later, { namespace: 'eng' })).map((x) => x.user_id), ['a']);
    assert.equal((await getServiceAccount(store, b.id, later))?.status, 'expired');
    assert.equal(await getServiceAccount(store, 'nope', later), undefined);
  });
});

describe('serviceAccountResolver', () => {
  async function setup(opts: { namespace?: string; expiresIn?: string; asUser?: string } = {}) {
    const store = new MemoryStore();
    await putDirectoryUser(store, { id: 'u-grace', email: 'grace@example.com', name: 'Grace', groups: ['eng', 'ops'], source: 'idp', lastSeen: T0 });
    const created = await createServiceAccount({ ...(opts.asUser ? { asUser: opts.asUser } : { user: 'bot' }), namespace: opts.namespace, expiresIn: opts.expiresIn, roles: ['admin'] }, ctx(store));
    let now = T0;
    const resolve = serviceAccountResolver({ store, now: () => now, namespaces: () => TREE });
    const claims = await claimsOf(created.token);
    return { store, ...created, claims, resolve, setNow: (t: number) => { now = t; } };
  }

  test('a valid token yields a service-account caller: user id, sid = account id, roles', async () => {
    const s = await setup();
    const r = await s.resolve(s.claims, 'app.example.com', 'global');
    assert.ok(r && 'caller' in r && r.outOfScope === undefined);
    const c: Caller = r.caller;
    assert.equal(c.kind, 'service_account');
    assert.equal(c.policy.user, 'bot');
    assert.equal(c.policy.email, '');
    assert.deepEqual(c.policy.groups, []);
    assert.equal(c.policy.sessionId, s.account.id);
    assert.equal(c.policy.serviceAccountId, s.account.id);
    assert.equal(c.assertion.user, 'bot');
    assert.equal(c.assertion.sid, s.account.id);
    assert.deepEqual(c.roles, ['admin']);
    assert.equal(isServiceAccountAdmin(c), true);
    assert.equal(isServiceAccountAdmin({ ...c, roles: [] }), false);
    assert.equal(isServiceAccountAdmin({ ...c, kind: 'route_token' }), false);
    assert.equal(isServiceAccountAdmin({ ...c, impersonator: { sub: 'x', email: '' } }), false);
  });

  test('refusals: revoked, expired, unknown, mismatched subject, forged issue time', async () => {
    const s = await setup({ expiresIn: '1h' });
    const exp = T0 + 3_600_000;
    s.setNow(exp - 1);
    assert.ok(s.resolve && 'caller' in ((await s.resolve(s.claims, 'h', 'global'))!));
    s.setNow(exp);
    assert.deepEqual(await s.resolve(s.claims, 'h', 'global'), { failure: 'service-account-expired' });
    s.setNow(T0);
    assert.deepEqual(await s.resolve({ ...s.claims, sub: 'someone-else' }, 'h', 'global'), { failure: 'token-claims-invalid' });
    assert.deepEqual(await s.resolve({ ...s.claims, iat: T0 / 1000 - 10 }, 'h', 'global'), { failure: 'token-claims-invalid' });
    assert.deepEqual(await s.resolve({ ...s.claims, jti: 'not-an-account' }, 'h', 'global'), { failure: 'service-account-unknown' });
    await revokeServiceAccount(s.store, s.account.id, T0);
    assert.deepEqual(await s.resolve(s.claims, 'h', 'global'), { failure: 'service-account-revoked' });
  });

  test('tokens of other kinds are left to other resolvers', async () => {
    const s = await setup();
    const others: JWTPayload[] = [
      { jti: 'sess-1', sub: 'u', iat: T0 / 1000, iss: 'auth', aud: 'app' }, // session handle
      { jti: 'sess-1', sub: 'u', iat: T0 / 1000, iss: 'auth', aud: 'app', exp: T0 / 1000 + 60 }, // programmatic handle
      { sub: 'bob', aud: ['app'], nbf: T0 / 1000, exp: T0 / 1000 + 60 }, // route token
      { jti: s.account.id, sub: 'bot', aud: 'app', nbf: T0 / 1000 }, // has aud: never an account token
      { sub: 'x' },
    ];
    for (const claims of others) assert.equal(await s.resolve(claims, 'app', 'global'), undefined, JSON.stringify(claims));
  });

  test('namespace scoping: its namespace and descendants only, otherwise namespace-unauthorized', async () => {
    const s = await setup({ namespace: 'eng' });
    for (const ns of ['eng', 'eng-ci']) {
      const r = await s.resolve(s.claims, 'h', ns);
      assert.ok(r && 'caller' in r && r.outOfScope === undefined, ns);
    }
    for (const ns of ['global', 'sales']) {
      const r = await s.resolve(s.claims, 'h', ns);
      assert.ok(r && 'caller' in r, ns);
      assert.equal(r.outOfScope, 'namespace-unauthorized', ns);
      assert.equal(r.caller.policy.user, 'bot');
    }
  });

  test('acting as a user: email and groups come from the directory on every request', async () => {
    const s = await setup({ asUser: 'grace@example.com' });
    const first = await s.resolve(s.claims, 'h', 'global');
    assert.ok(first && 'caller' in first);
    assert.equal(first.caller.policy.user, 'u-grace');
    assert.equal(first.caller.policy.email, 'grace@example.com');
    assert.deepEqual(first.caller.policy.groups, ['eng', 'ops']);
    assert.equal(first.caller.assertion.name, 'Grace');
    await putDirectoryUser(s.store, { id: 'u-grace', email: 'grace@example.com', name: 'Grace', groups: ['sales'], source: 'idp', lastSeen: T0 });
    const second = await s.resolve(s.claims, 'h', 'global');
    assert.ok(second && 'caller' in second);
    assert.deepEqual(second.caller.policy.groups, ['sales']);
    assert.notEqual(second.caller.assertion.cacheKey, first.caller.assertion.cacheKey, 'a directory change yields a fresh assertion');
    await putDirectoryUser(s.store, { id: 'u-grace', email: 'grace@example.com', name: 'Grace', groups: [], source: 'scim', lastSeen: T0, active: false });
    assert.deepEqual(await s.resolve(s.claims, 'h', 'global'), { failure: 'service-account-user-inactive' });
    await s.store.delete('user', 'u-grace');
    assert.deepEqual(await s.resolve(s.claims, 'h', 'global'), { failure: 'service-account-user-unknown' });
  });

  test('accessed_at is written at most once a minute, apart from the account record', async () => {
    const s = await setup();
    const versionBefore = (await s.store.get(SERVICE_ACCOUNT_TYPE, s.account.id))!.version;
    await s.resolve(s.claims, 'h', 'global');
    await flush(); await flush();
    assert.equal((await getServiceAccount(s.store, s.account.id, T0))?.accessed_at, new Date(T0).toISOString());
    const accessVersion = (await s.store.get(SERVICE_ACCOUNT_ACCESS_TYPE, s.account.id))!.version;
    s.setNow(T0 + ACCESS_WRITE_INTERVAL_MS - 1);
    for (let i = 0; i < 5; i++) await s.resolve(s.claims, 'h', 'global');
    await flush();
    assert.equal((await s.store.get(SERVICE_ACCOUNT_ACCESS_TYPE, s.account.id))!.version, accessVersion, 'no write within the minute');
    s.setNow(T0 + ACCESS_WRITE_INTERVAL_MS);
    await s.resolve(s.claims, 'h', 'global');
    await flush(); await flush();
    assert.equal((await getServiceAccount(s.store, s.account.id, T0))?.accessed_at, new Date(T0 + ACCESS_WRITE_INTERVAL_MS).toISOString());
    assert.equal((await s.store.get(SERVICE_ACCOUNT_TYPE, s.account.id))!.version, versionBefore, 'requests never write the account record');
    // Listing merges the live value.
    assert.equal((await listServiceAccounts(s.store, T0))[0]?.accessed_at, new Date(T0 + ACCESS_WRITE_INTERVAL_MS).toISOString());
  });

  test('replicas sharing a store write accessed_at about once a minute between them', async () => {
    const s = await setup();
    let now = T0;
    const replica2 = serviceAccountResolver({ store: s.store, now: () => now, namespaces: () => TREE });
    await s.resolve(s.claims, 'h', 'global');
    await flush(); await flush();
    const v1 = (await s.store.get(SERVICE_ACCOUNT_ACCESS_TYPE, s.account.id))!.version;
    now = T0 + 30_000;
    await replica2(s.claims, 'h', 'global');
    await flush(); await flush();
    assert.equal((await s.store.get(SERVICE_ACCOUNT_ACCESS_TYPE, s.account.id))!.version, v1, 'the other replica saw a fresh value and did not write');
    now = T0 + ACCESS_WRITE_INTERVAL_MS + 1;
    await replica2(s.claims, 'h', 'global');
    await flush(); await flush();
    assert.equal((await getServiceAccount(s.store, s.account.id, now))?.accessed_at, new Date(now).toISOString());
  });

  test('a revocation committed while a request records its access is never lost', async () => {
    const s = await setup();
    await s.resolve(s.claims, 'h', 'global'); // starts an access write
    await revokeServiceAccount(s.store, s.account.id, T0);
    await flush();
    s.setNow(T0 + 2 * ACCESS_WRITE_INTERVAL_MS);
    assert.deepEqual(await s.resolve(s.claims, 'h', 'global'), { failure: 'service-account-revoked' });
  });
});
