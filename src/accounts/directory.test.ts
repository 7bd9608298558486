import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryStore, type Store } from '../store/index.js';
import { SESSION_TYPE, listSessions, revokeUserSessions, type SessionData } from '../authn/index.js';
import { IdentityRefusedError } from '../errors/index.js';
import type { IdentityInfo } from '../authz/index.js';
import {
  DirectoryError, createDirectoryUser, createGroup, deleteDirectoryUser, deleteGroup, findGroup, findUserByIdOrEmail,
  getDirectoryUser, groupMembers, listGroups, replaceMembers, setMembership,
  updateDirectoryUser, updateGroup, upsertUserFromClaims, userRef,
} from './index.js';
import { directoryEnricher } from './enrich.js';

const NOW = Date.parse('2030-01-01T00:00:00Z');

function identity(over: Partial<IdentityInfo> = {}): IdentityInfo {
  return { user: 'sub-1', email: 'ada@example.com', groups: [], claims: {}, sessionId: 's1', ...over };
}

async function session(store: MemoryStore, id: string, userId: string, email: string): Promise<void> {
  const s: SessionData = {
    id, userId, email, name: '', groups: [], claims: {}, issuedAt: NOW, expiresAt: NOW + 3_600_000,
    tokenExpiresAt: undefined, refreshedAt: undefined, sealedTokens: undefined,
  };
  await store.put(SESSION_TYPE, id, s, { index: userId, expiresAt: s.expiresAt }, NOW);
}

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    if (e instanceof DirectoryError) return e.code;
    throw e;
  }
  return 'no error';
}

describe('directory users', () => {
  test('bad input is refused with ERR_DIRECTORY_INVALID, naming the field', async () => {
    const store = new MemoryStore();
    for (const email of ['', 'no-at', 'two@@x', 'sp ace@x.org', '@x.org', 'x@', 'a\u0000b@x.org', `${'x'.repeat(320)}@x.org`, 42, null]) {
      const err = await createDirectoryUser(store, { email: email as string, source: 'manual' }, NOW).catch((e: unknown) => e);
      assert.ok(err instanceof DirectoryError, `email ${String(email)}`);
      assert.equal(err.code, 'ERR_DIRECTORY_INVALID');
      assert.equal(err.field, 'email');
      assert.equal(err.status, 400);
    }
    for (const name of ['x'.repeat(257), 'tab\there', 7]) {
      assert.equal(await code(createDirectoryUser(store, { email: 'ok@x.org', name: name as string, source: 'manual' }, NOW)), 'ERR_DIRECTORY_INVALID');
    }
    for (const id of ['', ' padded', 'x'.repeat(257)]) {
      assert.equal(await code(createDirectoryUser(store, { id, email: 'ok@x.org', source: 'manual' }, NOW)), 'ERR_DIRECTORY_INVALID');
    }
    assert.deepEqual(await listGroups(store), [], 'nothing was written');
  });

  // Regression: POST /.pomerium/api/v1/groups {"name":"x\udc00y"} was a 500,
  // the store refusing an index no backend can keep.
  test('a lone surrogate in an email, name, id or group is refused as invalid input, not a store failure', async () => {
    const store = new MemoryStore();
    for (const bad of ['x\udc00y', '\ud800', 'a\ud800@x.org']) {
      assert.equal(await code(createGroup(store, { name: bad, source: 'manual' }, NOW)), 'ERR_DIRECTORY_INVALID', `group ${JSON.stringify(bad)}`);
      assert.equal(await code(createGroup(store, { id: bad, name: 'ok', source: 'manual' }, NOW)), 'ERR_DIRECTORY_INVALID');
      assert.equal(await code(createDirectoryUser(store, { email: bad.includes('@') ? bad : `${bad}@x.org`, source: 'manual' }, NOW)), 'ERR_DIRECTORY_INVALID');
      assert.equal(await code(createDirectoryUser(store, { email: 'ok@x.org', name: bad, source: 'manual' }, NOW)), 'ERR_DIRECTORY_INVALID');
      assert.equal(await code(createDirectoryUser(store, { id: bad, email: 'ok@x.org', source: 'manual' }, NOW)), 'ERR_DIRECTORY_INVALID');
      assert.equal(await code(createDirectoryUser(store, { email: 'ok@x.org', groups: [bad], source: 'manual' }, NOW)), 'ERR_DIRECTORY_INVALID');
    }
    assert.equal(await code(createDirectoryUser(store, { email: 'smile\ud83d\ude00@x.org', name: 'Emoji \ud83d\ude00', source: 'manual' }, NOW)), 'no error', 'a surrogate pair is fine');
  });

  test('add, duplicate email, groups by name become groups, update and delete', async () => {
    const store = new MemoryStore();
    const { user, createdGroups } = await createDirectoryUser(store, { email: 'Cara@Contractor.io', name: 'Cara', groups: ['contractors', 'contractors'], source: 'manual' }, NOW);
    assert.equal(user.email, 'Cara@Contractor.io');
    assert.equal(createdGroups.length, 1);
    assert.deepEqual(user.groups, [createdGroups[0]!.id]);
    assert.equal((await findGroup(store, 'CONTRACTORS'))?.id, createdGroups[0]!.id, 'names match case-insensitively');
    assert.equal(await code(createDirectoryUser(store, { email: 'cara@contractor.io', source: 'manual' }, NOW)), 'ERR_USER_EXISTS');
    assert.equal(await code(createDirectoryUser(store, { id: user.id, email: 'other@contractor.io', source: 'manual' }, NOW)), 'ERR_USER_EXISTS');

    const second = await createDirectoryUser(store, { email: 'dan@contractor.io', groups: ['contractors'], source: 'manual' }, NOW);
    assert.deepEqual(second.createdGroups, [], 'an existing group is reused');
    assert.equal(await code(updateDirectoryUser(store, second.user.id, { email: 'CARA@contractor.io' }, NOW)), 'ERR_USER_EXISTS');
    const { user: updated } = await updateDirectoryUser(store, second.user.id, { name: 'Dan', active: false, groups: [] }, NOW);
    assert.equal(updated.active, false);
    assert.deepEqual(updated.groups, []);
    assert.equal(await code(updateDirectoryUser(store, 'nobody', { name: 'x' }, NOW)), 'ERR_USER_NOT_FOUND');

    await session(store, 's-cara-1', 'idp-sub-cara', 'cara@contractor.io');
    await session(store, 's-cara-2', user.id, 'x@y.z');
    await session(store, 's-other', 'someone', 'someone@x.org');
    const removed = await deleteDirectoryUser(store, user.id, NOW);
    assert.equal(removed.sessionsRevoked, 2, 'sessions found by id and by email');
    assert.deepEqual((await listSessions(store, NOW)).map((s) => s.id), ['s-other']);
    assert.equal(await getDirectoryUser(store, user.id), undefined);
    assert.equal(await code(deleteDirectoryUser(store, user.id, NOW)), 'ERR_USER_NOT_FOUND');
  });

  test('a claims-only record is taken over by a manual add, keeping its id', async () => {
    const store = new MemoryStore();
    await upsertUserFromClaims(store, { id: 'idp-sub', email: 'eve@example.com', name: 'Eve', groups: ['eng'] }, NOW);
    const { user, adopted } = await createDirectoryUser(store, { email: 'EVE@example.com', groups: ['oncall'], source: 'manual' }, NOW);
    assert.equal(adopted, true);
    assert.equal(user.id, 'idp-sub');
    assert.equal(user.source, 'manual');
    assert.equal(user.name, 'Eve');
    const oncall = await findGroup(store, 'oncall');
    assert.deepEqual(user.groups, ['eng', oncall!.id]);
  });
});

describe('upsertUserFromClaims', () => {
  test('records the user and the groups the IdP names; keeps directory memberships across sign-ins', async () => {
    const store = new MemoryStore();
    await upsertUserFromClaims(store, { id: 'sub-1', email: 'ada@example.com', name: 'Ada', groups: ['eng', 'staff'] }, NOW);
    assert.deepEqual((await listGroups(store)).map((g) => [g.id, g.name, g.source]), [['eng', 'eng', 'idp'], ['staff', 'staff', 'idp']]);
    const oncall = await createGroup(store, { name: 'oncall', source: 'manual' }, NOW);
    assert.equal(await setMembership(store, oncall.id, 'sub-1', true, NOW), true);
    assert.equal(await setMembership(store, oncall.id, 'sub-1', true, NOW), false, 'no change the second time');
    await upsertUserFromClaims(store, { id: 'sub-1', email: 'ada@example.com', name: 'Ada L.', groups: ['eng'] }, NOW + 1000);
    const u = await getDirectoryUser(store, 'sub-1');
    assert.deepEqual(u?.groups, ['eng', oncall.id], 'IdP groups replaced, the manual membership kept');
    assert.equal(u?.name, 'Ada L.');
    assert.equal((await findUserByIdOrEmail(store, 'sub-1'))?.lastSeen, NOW + 1000);
  });

  test('a manual or SCIM record (by id or by email) only gets lastSeen', async () => {
    const store = new MemoryStore();
    const { user } = await createDirectoryUser(store, { email: 'cara@contractor.io', name: 'Cara', groups: ['contractors'], source: 'scim' }, NOW);
    await upsertUserFromClaims(store, { id: 'other-sub', email: 'CARA@contractor.io', name: 'C', groups: ['x'] }, NOW + 5);
    assert.equal(await getDirectoryUser(store, 'other-sub'), undefined, 'no second record for the same person');
    const after = await getDirectoryUser(store, user.id);
    assert.equal(after?.name, 'Cara');
    assert.deepEqual(after?.groups, user.groups);
    assert.equal((await findUserByIdOrEmail(store, user.id))?.lastSeen, NOW + 5);
  });

  // Regression: a sign-in read the user, a SCIM deactivation landed, then the
  // sign-in wrote its copy back with lastSeen, and the user was active again.
  for (const source of ['scim', 'idp'] as const) {
    test(`a deactivation landing while a sign-in records lastSeen stays (${source} user)`, async () => {
      const inner = new MemoryStore();
      let id = 'sub-9';
      if (source === 'scim') id = (await createDirectoryUser(inner, { email: 'dee@example.com', name: 'Dee', source: 'scim' }, NOW)).user.id;
      else await upsertUserFromClaims(inner, { id, email: 'dee@example.com', name: 'Dee', groups: ['eng'] }, NOW);
      let armed = true;
      const racing = new Proxy(inner, {
        get(target, prop) {
          if (prop === 'get') {
            return async (type: string, key: string, now?: number) => {
              const r = await target.get(type, key, now);
              if (armed && type === 'user') { armed = false; await updateDirectoryUser(inner, id, { active: false }, NOW + 1, 'scim'); }
              return r;
            };
          }
          const v = Reflect.get(target, prop) as unknown;
          return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
        },
      }) as Store;
      await upsertUserFromClaims(racing, { id, email: 'dee@example.com', name: 'Dee', groups: ['eng'] }, NOW + 2);
      const after = await findUserByIdOrEmail(inner, id);
      assert.equal(after?.active, false);
      assert.equal(after?.lastSeen, NOW + 2, 'the sign-in is still recorded');
    });
  }

  test('odd group values from an IdP are skipped, never thrown', async () => {
    const store = new MemoryStore();
    await upsertUserFromClaims(store, { id: 'sub-2', email: 'b@example.com', name: '', groups: ['', 'ok', 'x'.repeat(300), 'nul\u0000'] }, NOW);
    assert.deepEqual((await getDirectoryUser(store, 'sub-2'))?.groups, ['ok']);
  });
});

describe('directory groups', () => {
  test('create, rename, members, replace and delete', async () => {
    const store = new MemoryStore();
    const g = await createGroup(store, { name: 'Engineering', source: 'manual' }, NOW);
    assert.equal(await code(createGroup(store, { name: 'engineering', source: 'manual' }, NOW)), 'ERR_GROUP_EXISTS');
    assert.equal(await code(createGroup(store, { id: g.id, name: 'Other', source: 'manual' }, NOW)), 'ERR_GROUP_EXISTS');
    for (const bad of ['', '   ', 'x'.repeat(257)]) assert.equal(await code(createGroup(store, { name: bad, source: 'manual' }, NOW)), 'ERR_DIRECTORY_INVALID');
    const other = await createGroup(store, { name: 'Ops', source: 'manual' }, NOW);
    assert.equal(await code(updateGroup(store, other.id, { name: 'ENGINEERING' }, NOW)), 'ERR_GROUP_EXISTS');

    const a = (await createDirectoryUser(store, { email: 'a@x.org', source: 'manual' }, NOW)).user;
    const b = (await createDirectoryUser(store, { email: 'b@x.org', source: 'manual' }, NOW)).user;
    const c = (await createDirectoryUser(store, { email: 'c@x.org', source: 'manual', groups: ['Engineering'] }, NOW)).user;
    const r = await replaceMembers(store, g.id, [a.id, b.id], NOW);
    assert.deepEqual([r.added.sort(), r.removed], [[a.id, b.id].sort(), [c.id]]);
    assert.equal(await code(replaceMembers(store, g.id, ['ghost'], NOW)), 'ERR_USER_NOT_FOUND');
    assert.deepEqual((await groupMembers(store, g)).map((u) => u.email).sort(), ['a@x.org', 'b@x.org'], 'a failed replace changed nothing');
    assert.equal(await code(setMembership(store, 'nope', a.id, true, NOW)), 'ERR_GROUP_NOT_FOUND');

    const renamed = await updateGroup(store, g.id, { name: 'Eng' }, NOW);
    assert.equal(renamed.before.name, 'Engineering');
    assert.equal(renamed.group.id, g.id);

    const { membersUpdated } = await deleteGroup(store, g.id, NOW);
    assert.equal(membersUpdated, 2);
    assert.deepEqual((await getDirectoryUser(store, a.id))?.groups, []);
    assert.equal(await code(deleteGroup(store, g.id, NOW)), 'ERR_GROUP_NOT_FOUND');
  });

  test('a group first seen in claims is taken over by a manual group of the same name', async () => {
    const store = new MemoryStore();
    await upsertUserFromClaims(store, { id: 's', email: 's@x.org', name: '', groups: ['admins'] }, NOW);
    const g = await createGroup(store, { name: 'admins', source: 'scim', externalId: 'ext-1' }, NOW);
    assert.equal(g.id, 'admins');
    assert.equal(g.source, 'scim');
    assert.deepEqual((await groupMembers(store, g)).map((u) => u.id), ['s']);
  });
});

describe('directoryEnricher', () => {
  test('adds directory memberships and lists every group by id and by name', async () => {
    const store = new MemoryStore();
    const eng = await createGroup(store, { id: 'g-eng', name: 'engineering', source: 'scim' }, NOW);
    await createGroup(store, { id: 'g-ops', name: 'ops', source: 'scim' }, NOW);
    await createDirectoryUser(store, { id: 'sub-1', email: 'ada@example.com', groups: ['g-ops'], source: 'scim' }, NOW);
    const enrich = directoryEnricher(store);
    const out = await enrich(identity({ groups: ['engineering', 'Claims-Only'] }));
    assert.deepEqual(out.groups, ['engineering', 'g-eng', 'Claims-Only', 'g-ops', 'ops']);

    // Found by email when the IdP's sub is not the directory id.
    const byEmail = await enrich(identity({ user: 'other-sub', email: 'ADA@example.com' }));
    assert.deepEqual(byEmail.groups, ['g-ops', 'ops']);

    // Membership changes apply on the next call (the user record is read each time).
    await setMembership(store, eng.id, 'sub-1', true, NOW);
    assert.deepEqual((await enrich(identity())).groups, ['g-ops', 'ops', 'g-eng', 'engineering']);

    // A renamed group is seen at once (the group cache follows store changes).
    await updateGroup(store, 'g-ops', { name: 'operations' }, NOW);
    assert.deepEqual((await enrich(identity())).groups, ['g-ops', 'operations', 'g-eng', 'engineering']);
  });

  test('an impersonation keeps exactly its groups (aliases added, memberships not)', async () => {
    const store = new MemoryStore();
    await createGroup(store, { id: 'g-eng', name: 'engineering', source: 'scim' }, NOW);
    await createDirectoryUser(store, { id: 'sub-1', email: 'ada@example.com', groups: ['g-eng'], source: 'scim' }, NOW);
    const enrich = directoryEnricher(store);
    const out = await enrich(identity({ groups: ['contractors'] }), { impersonated: true });
    assert.deepEqual(out.groups, ['contractors']);
  });

  test('a deactivated user is refused with user-deprovisioned; unknown users pass unchanged', async () => {
    const store = new MemoryStore();
    await createDirectoryUser(store, { id: 'sub-1', email: 'ada@example.com', source: 'scim', active: false }, NOW);
    const enrich = directoryEnricher(store);
    for (const id of [identity(), identity({ user: 'unrelated-sub' }), identity({ user: '', email: 'Ada@Example.com' })]) {
      const err = await enrich(id).catch((e: unknown) => e);
      assert.ok(err instanceof IdentityRefusedError, JSON.stringify(id));
      assert.equal(err.reason, 'user-deprovisioned');
    }
    const stranger = identity({ user: 'x', email: 'x@y.z', groups: ['a'] });
    assert.equal(await enrich(stranger), stranger, 'same object when nothing changes');
  });
});

describe('sessions', () => {
  test('list and revoke by email or id', async () => {
    const store = new MemoryStore();
    await createDirectoryUser(store, { id: 'dir-1', email: 'ada@example.com', source: 'manual' }, NOW);
    await session(store, 'a1', 'sub-1', 'Ada@Example.com');
    await session(store, 'a2', 'dir-1', 'ada@example.com');
    await session(store, 'b1', 'sub-2', 'bob@example.com');
    const ref = await userRef(store, 'ada@example.com');
    assert.deepEqual(ref, { id: 'dir-1', email: 'ada@example.com' });
    assert.deepEqual((await listSessions(store, NOW, ref)).map((s) => s.id), ['a1', 'a2']);
    assert.deepEqual(await userRef(store, 'nobody@x.org'), { email: 'nobody@x.org' });
    assert.deepEqual(await userRef(store, 'sub-2'), { id: 'sub-2' });
    assert.equal(await revokeUserSessions(store, ref, NOW), 2);
    assert.deepEqual((await listSessions(store, NOW)).map((s) => s.id), ['b1']);
    assert.deepEqual((await listSessions(store, NOW + 7_200_000)).map((s) => s.id), [], 'expired sessions are not listed');
  });
});
